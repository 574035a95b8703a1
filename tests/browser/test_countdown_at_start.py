"""The countdown asks the server once just after the start (hx-trigger "load delay:", timed by
the server): with its regular poll a minute apart, the guest still enters within moments."""

import re

import pytest
from playwright.sync_api import expect
from test_countdown_browser import fill_lobby, guest_link


@pytest.fixture
def config(config):
    return {**config, "POLL_COUNTDOWN_SECONDS": 60}


def test_the_countdown_asks_at_the_start_not_at_the_next_poll(app, page):
    room, url = guest_link(app, starts_in=6)  # time to fill in the lobby on a busy machine
    fill_lobby(page, url)
    expect(page.get_by_text("You're in. Waiting for the start")).to_be_visible()
    expect(page.locator("[data-status-poll]")).to_have_attribute(
        "hx-trigger", re.compile(r"^every 60s, load delay:\d+\.\ds$"))
    expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible(timeout=12_000)
    assert page.url.endswith(f"/s/{room.id}")
