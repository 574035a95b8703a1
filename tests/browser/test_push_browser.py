"""A real page learns of Admit all through push: nginx (deploy/nginx.conf, with its push server,
nchan, over a real Redis) in front of the app, the page's own poll set ten minutes apart, so
only the push explains a guest in the room within seconds. And with push unavailable (no push
server answers), the same page learns through its poll, and the host's Admit all is none the
worse for the failed publish."""

import re
import time

import pytest
from helpers import free_port
from playwright.sync_api import expect
from servers import NginxServer, require_nginx
from test_countdown_browser import fill_lobby, guest_link

from portal import push
from portal.audit import Actor
from portal.services import hosting
from portal.timeutil import utcnow

PUBLISH, LISTEN = free_port(), free_port()


@pytest.fixture
def config(config):
    return {**config, "PUSH_PUBLISH_URL": f"http://127.0.0.1:{PUBLISH}/publish",
            "PUSH_SUBSCRIBE_PATH": "/push", "PUSH_SPREAD_SECONDS": 0.5}


@pytest.fixture
def nginx(live_server, redis_url):
    require_nginx()
    with NginxServer(LISTEN, (live_server.port, live_server.port), PUBLISH, redis_url) as server:
        yield server


def admit_all(app, room):
    with app.app_context():
        hosting.admit(room, None, Actor(email="host@example.com"))
        push.publisher(app).flush()


def wait_in_line(app, page):
    room, link = guest_link(app, starts_in=-60, require_approval=True)
    fill_lobby(page, link)
    expect(page.get_by_text("Waiting to be admitted").first).to_be_visible()
    return room


def test_admit_all_reaches_the_page_through_push(app, browser, nginx):
    app.config["POLL_WAITING_SECONDS"] = 600  # only push can explain an entry
    context = browser.new_context(base_url=f"http://127.0.0.1:{nginx.port}")
    try:
        page = context.new_page()
        room = wait_in_line(app, page)
        expect(page.locator("[data-status-poll]")).to_have_attribute(
            "hx-trigger", "every 600s, push")
        expect(page.locator("#push-news[data-push-listening]")).to_have_count(1)
        admit_all(app, room)
        expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible(
            timeout=10_000)
        assert page.url.endswith(f"/s/{room.id}")
    finally:
        context.close()
    print(nginx.error_log()[-2000:])


def test_without_the_push_server_the_page_learns_by_polling(app, page, live_server):
    """No nginx: publishing fails (nobody listens), the page's EventSource is refused (the app
    answers /push/... 404), and the page's poll, every 0.5 s here, lets the guest in."""
    room = wait_in_line(app, page)
    expect(page.locator("#push-news[data-push-listening]")).to_have_count(1)
    admit_all(app, room)
    expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible(timeout=10_000)


def test_the_server_announces_the_start_and_the_countdown_enters(app, browser, nginx):
    """Item 3 of issue 29: with push, the countdown doesn't count on its own check at the start
    (put off for two minutes here, and its poll ten minutes apart): the server announces the
    start once, and the page enters."""
    app.config.update(POLL_COUNTDOWN_SECONDS=600, POLL_COUNTDOWN_LONGEST_SECONDS=600,
                      PUSH_START_GRACE_SECONDS=120)
    context = browser.new_context(base_url=f"http://127.0.0.1:{nginx.port}")
    try:
        page = context.new_page()
        room, link = guest_link(app, starts_in=8)  # time to fill in the lobby
        fill_lobby(page, link)
        expect(page.get_by_text("You're in. Waiting for the start")).to_be_visible()
        poll = page.locator("[data-status-poll]")
        expect(poll).to_have_attribute("hx-trigger", "every 600s, push")
        expect(poll).to_have_attribute("data-check-at-start", re.compile(r"^\d+\.\d$"))
        while room.starts_at > utcnow():
            time.sleep(0.1)
        with app.app_context():
            assert push.announce_starts() == 1
            push.publisher(app).flush()
        expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible(
            timeout=10_000)
    finally:
        context.close()
