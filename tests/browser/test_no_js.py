"""Without JavaScript (a browser with scripts off): a guest goes from the link through the
countdown and the waiting room into the room — the pages move on by themselves with a
<noscript> meta refresh — and an owner manages guest access, links and the waiting room with
plain forms."""

import re
from datetime import timedelta

import pytest
from helpers import sign_in_in_browser
from playwright.sync_api import expect

from portal import tokens
from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

NO_JS = {"java_script_enabled": False}


@pytest.fixture
def room(owner):
    now = utcnow()
    return Room.create(owner=owner, title="Plain HTML hour", require_approval=True,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))


def test_guest_path_works_without_javascript(app, new_context, room):
    # The session starts in an hour (brought forward below: a start a few seconds ahead could
    # pass while a busy machine is still filling in the lobby), and guests wait to be admitted.
    Room.update(guest_access_enabled=True, starts_at=utcnow() + timedelta(hours=1)).where(
        Room.id == room.id).execute()
    link = GuestLink.create(room=room, name="Guests")
    url = "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    guest = new_context(**NO_JS).new_page()
    assert guest.evaluate("1 + 1") == 2  # Playwright's own evaluate still works; the page's don't
    guest.goto(url)
    assert guest.locator("html").evaluate("() => typeof window.htmx") == "undefined"
    guest.get_by_label("Your name").fill("Nora Noscript")
    guest.get_by_label("Email").fill("nora@example.com")
    guest.get_by_role("button", name="Join").click()

    expect(guest.get_by_text("You're in. Waiting for the start")).to_be_visible()
    assert guest.locator("noscript meta[http-equiv=refresh]").count() == 1 \
        or "http-equiv=\"refresh\"" in guest.content()
    # No click: the meta refresh brings the guest on once the session has started.
    Room.update(starts_at=utcnow() - timedelta(seconds=1)).where(Room.id == room.id).execute()
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible(
        timeout=25_000)

    Participant.update(status="admitted").where(Participant.email == "nora@example.com").execute()
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible(timeout=25_000)
    assert guest.url.endswith(f"/s/{room.id}")

    guest.get_by_role("button", name="Leave").click()
    expect(guest.get_by_role("heading", name="You left the session")).to_be_visible()


def test_owner_manages_links_and_admits_without_javascript(new_context, room):
    page = new_context(**NO_JS).new_page()
    sign_in_in_browser(page, "owner@example.com")
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    page.get_by_role("link", name="Plain HTML hour").click()
    # The room's views are plain links: each a page of its own.
    page.get_by_role("navigation", name="Room views").get_by_role("link", name="Access").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/access$"))
    expect(page.locator("#view-access")).to_have_attribute("aria-current", "page")

    # Enable guest access: a plain form post, then the page again with the switch on.
    page.get_by_role("switch", name="Enable guest access").click()
    expect(page.get_by_role("switch", name="Enable guest access")).to_have_attribute(
        "aria-checked", "true")
    expect(page.locator(".flashes")).to_contain_text("Guest access is on")
    assert Room.get_by_id(room.id).guest_access_enabled

    # Create new link.
    section = page.locator("#guest-access")
    section.get_by_label("Name").fill("Plain guests")
    section.get_by_label("Number of clicks (optional)").fill("5")
    section.get_by_role("button", name="Create new link").click()
    expect(page.locator(".flashes")).to_contain_text("Link “Plain guests” created.")
    field = section.locator("input[id^=link-url-]")
    expect(field).to_have_count(1)
    assert re.search(r"/g/[\w.-]+$", field.input_value())

    # Invalid input comes back on the page, tied to its field.
    section.get_by_label("Name").fill("Too many clicks")
    section.get_by_label("Number of clicks (optional)").fill("0")
    section.get_by_role("button", name="Create new link").click()
    clicks = page.locator("#guest-access").get_by_label("Number of clicks (optional)")
    expect(clicks).to_have_attribute("aria-invalid", "true")
    error_id = clicks.get_attribute("aria-describedby").split()[-1]
    expect(page.locator(f"#{error_id}")).to_have_text("Enter a whole number from 1 to 1,000,000.")

    # A guest waits; the owner reloads (no polling without scripts) and admits them.
    guest = Participant.create(room=room, name="Wally Waiting", email="wally@example.com",
                               device="no-js-device", status="waiting")
    page.get_by_role("link", name=re.compile("^Live")).click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/live$"))
    expect(page.locator("#view-live")).to_have_text("Live · 1 waiting")
    page.get_by_role("button", name="Admit Wally Waiting").click()
    expect(page.locator(".flashes")).to_contain_text("Wally Waiting was admitted.")
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/live#waiting-room$"))
    assert Participant.get_by_id(guest.id).status == "admitted"
    page.get_by_role("link", name="Access").click()

    # Delete the link: without scripts there is no confirmation dialog; the form still works.
    page.locator("#guest-access").get_by_role(
        "button", name="Delete link “Plain guests”").click()
    expect(page.locator(".flashes")).to_contain_text("Link “Plain guests” deleted.")
    expect(page.locator("#guest-access input[id^=link-url-]")).to_have_count(0)
    assert GuestLink.select().where(GuestLink.deleted_at.is_null()).count() == 0
