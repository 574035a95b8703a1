"""A guest waits on the countdown and enters by themself when the session starts."""

import re
from datetime import timedelta

from helpers import make_user, sign_in_in_browser
from playwright.sync_api import expect

from portal import tokens
from portal.models import GuestLink, Room
from portal.timeutil import utcnow


def guest_link(app, starts_in=3600, **room_fields):
    """A room starting in an hour, with a guest link. Tests bring the start forward with
    start_now once the guest is on the countdown: a start a few seconds ahead could pass while a
    busy machine is still filling in the lobby."""
    now = utcnow()
    owner = make_user()
    room = Room.create(owner=owner, title="Starting soon", guest_access_enabled=True,
                       description="A short session", speakers="Ada Lovelace",
                       starts_at=now + timedelta(seconds=starts_in),
                       ends_at=now + timedelta(hours=1),
                       **room_fields)
    link = GuestLink.create(room=room, name="Guests")
    token = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    return room, f"/g/{token}"


def start_now(room):
    Room.update(starts_at=utcnow()).where(Room.id == room.id).execute()


def fill_lobby(page, url):
    page.goto(url)
    page.get_by_label("Your name").fill("Ada Guest")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Join").click()


def test_guest_enters_the_room_at_the_start_without_a_click(app, new_context):
    room, url = guest_link(app)
    page = new_context(timezone_id="Asia/Tokyo", locale="en-US").new_page()
    fill_lobby(page, url)
    page.get_by_text("You're in. Waiting for the start").wait_for()
    # The script (deferred) writes the countdown once the page has loaded.
    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^00:[0-5]\d:\d\d$"))
    # The start time is shown in the guest's own zone by the script, not the server's UTC text.
    shown = page.locator("time[data-local]").first.inner_text()
    local = room.starts_at + timedelta(hours=9)
    assert "GMT+9" in shown and f"{local.hour % 12 or 12:02d}:{local.minute:02d}" in shown
    # The session starts: the page's next check brings the guest in, without a click.
    start_now(room)
    page.get_by_role("heading", name="Your role: Viewer").wait_for(timeout=15_000)
    assert page.url.endswith(f"/s/{room.id}")
    assert "Ada Lovelace" in page.content()


def test_guest_who_must_be_admitted_waits_then_the_owners_admit_brings_them_in(
        app, page, new_context):
    room, url = guest_link(app, require_approval=True)
    fill_lobby(page, url)
    page.get_by_text("You're in. Waiting for the start").wait_for()
    start_now(room)
    page.get_by_role("heading", name="Waiting to be admitted").wait_for(timeout=15_000)
    assert "the host will let you in shortly" in page.content()

    owner = new_context().new_page()
    sign_in_in_browser(owner, "owner@example.com")
    owner.goto(f"/rooms/{room.id}")
    owner.locator("#waiting-room").get_by_role("button", name="Admit Ada Guest").click()
    owner.get_by_text("Ada Guest was admitted.").wait_for()
    page.get_by_role("heading", name="Your role: Viewer").wait_for(timeout=15_000)
