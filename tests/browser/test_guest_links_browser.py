"""Shared guest links in a real Chromium, CSRF on: the owner turns guest access on, creates a
link and copies it; a guest opens it in another browser and waits; the owner admits them from
the waiting room and the guest's page moves into the room by itself; the owner deletes the
link and a third browser is turned away."""

import re
from datetime import timedelta

import pytest
from helpers import sign_in_in_browser
from playwright.sync_api import expect

from portal.db import database
from portal.models import GuestLink, Room
from portal.timeutil import utcnow


@pytest.fixture
def room(owner):
    now = utcnow()
    with database.connection_context():
        return Room.create(owner=owner, title="Customer round-table", require_approval=True,
                           starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))


def test_owner_shares_a_link_admits_a_guest_then_deletes_it(page, new_context, owner, room):
    sign_in_in_browser(page, owner.email)
    page.goto(f"/rooms/{room.id}/access")

    switch = page.get_by_role("switch", name="Enable guest access")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.get_by_role("switch", name="Enable guest access")).to_have_attribute(
        "aria-checked", "true")
    expect(page.get_by_text("Guest access is on")).to_be_visible()

    section = page.locator("#guest-access")
    section.get_by_label("Name").fill("Customers")
    section.get_by_label("Number of clicks (optional)").fill("10")
    section.get_by_role("button", name="Create new link").click()
    expect(page.get_by_text("Link “Customers” created.")).to_be_visible()
    expect(section.get_by_text("0 so far, 10 left of 10")).to_be_visible()

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    field = section.locator("input[id^=link-url-]")
    section.get_by_role("button", name=re.compile("^Copy link")).click()
    expect(section.get_by_role("button", name=re.compile("^Copied"))).to_be_visible()
    url = field.input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/g/[\w.-]+", url)
    assert page.evaluate("navigator.clipboard.readText()") == url

    guest = new_context().new_page()
    guest.goto(url)
    expect(guest.get_by_role("heading", name="Customer round-table")).to_be_visible()
    guest.get_by_label("Your name").fill("Grace Guest")
    guest.get_by_label("Email").fill("grace@example.com")
    guest.get_by_role("button", name="Join").click()
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()

    # still on Access, the nav counts her by itself, says so once, and the title shows it
    live = page.get_by_role("link", name=re.compile("^Live"))
    expect(live).to_have_text("Live · 1 waiting", timeout=15_000)
    expect(page.locator("#live-announcer")).to_have_text("Live: 1 waiting.")
    expect(page).to_have_title(re.compile(r"^\(1 waiting\) Customer round-table"))
    live.click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/live$"))
    waiting = page.locator("#waiting-room")
    expect(waiting.get_by_text("grace@example.com")).to_be_visible()
    waiting.get_by_role("button", name="Admit Grace Guest").click()
    expect(waiting.get_by_text("Grace Guest was admitted.")).to_be_visible()
    expect(waiting.get_by_role("status")).to_be_focused()  # the Admit button is gone
    expect(page).to_have_title(re.compile(r"^Customer round-table"))

    # the guest's page polls, and reloads into the room without anyone touching it
    expect(guest.get_by_text("You're in")).to_be_visible(timeout=15_000)
    expect(guest.get_by_role("heading", name="Customer round-table")).to_be_visible()

    page.get_by_role("link", name="Access").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/access$"))
    page.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name=re.compile("^Delete link")).click()
    expect(page.get_by_text("Link “Customers” deleted.")).to_be_visible()
    expect(section.locator("input[id^=link-url-]")).to_have_count(0)

    third = new_context().new_page()
    response = third.goto(url)
    assert response.status == 410
    expect(third.get_by_role("heading", name="This link is no longer available")).to_be_visible()


def test_a_refused_link_is_explained_in_place_by_htmx(page, owner, room):
    """The server answers a refusal with 422 (htmx and plain forms alike); base.html's
    htmx-config makes htmx swap it, so the error shows in the section, without a page load."""
    sign_in_in_browser(page, owner.email)
    page.goto(f"/rooms/{room.id}/access")
    page.evaluate("window.notReloaded = true")

    section = page.locator("#guest-access")
    section.get_by_label("Name").fill("Customers")
    section.get_by_label("Number of clicks (optional)").fill("0")
    with page.expect_response(lambda r: r.url.endswith("/links")) as answer:
        section.get_by_role("button", name="Create new link").click()
    assert answer.value.status == 422
    expect(section.get_by_text("The link wasn't created: correct the highlighted fields.")) \
        .to_be_visible()
    expect(section.get_by_text("Enter a whole number from 1 to 1,000,000.")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True


def test_create_new_link_looks_disabled_at_the_limit(page, owner, room):
    """At the link limit the form is disabled, and it looks it: grey, not the blue button, and
    no pointer hand."""
    with database.connection_context():
        for n in range(3):
            GuestLink.create(room=room, name=f"Link {n}")
    sign_in_in_browser(page, owner.email)
    page.goto(f"/rooms/{room.id}/access")

    button = page.get_by_role("button", name="Create new link")
    expect(button).to_be_disabled()
    look = button.evaluate("b => { const s = getComputedStyle(b);"
                           " return [s.cursor, s.backgroundColor, s.color]; }")
    active = page.get_by_role("button", name="Add guests").evaluate(
        "b => getComputedStyle(b).cursor")
    assert look[0] == "not-allowed" and active == "pointer"
    assert look[1] != "rgb(11, 92, 173)"  # not the brand blue of an active button
    expect(page.get_by_text("This room has 3 guest links, the most it can have.")).to_be_visible()
