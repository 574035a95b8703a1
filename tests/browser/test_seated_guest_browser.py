"""A guest already in the room stays there, in Chromium, when the host turns guest access off,
deletes their link, or the link is used up or expires (as Kaltura's guest link article says:
they remain until they refresh) — their page keeps polling (0.5 s here) and stays put; their
next page load decides again. What is about them (Remove, Move to waiting room, a new role:
tests/browser/test_in_the_room_browser.py) and the room itself being deleted reach their page
within one poll."""

import re
from datetime import timedelta

import pytest
from helpers import link_path, make_room
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import GuestLink
from portal.timeutil import utcnow


@pytest.fixture
def room(owner):
    return make_room(owner, title="Town hall", guest_access_enabled=True)


def seated_guest(new_context, path, name="Ada", email="ada@example.com"):
    """A guest in a browser of their own, on the room page, marked so a reload would show."""
    page = new_context().new_page()
    page.goto(path)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Join").click()
    expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    return page


def polls_twice_and_stays(guest, room):
    """The page asks twice more (the second asked after the first answer came, so after the
    change) and is told nothing changed; it is still the room page it was."""
    for _ in range(2):
        with guest.expect_response(lambda r: f"/s/{room.id}/status" in r.url) as poll:
            pass
        assert poll.value.status == 204
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    assert guest.evaluate("window.notReloaded") is True


def owner_page(page, room, view="access"):
    sign_in(page)
    page.goto(f"/rooms/{room.id}/{view}")
    return page


def turn_access_off(page, room, link):
    owner_page(page, room).get_by_role("switch", name="Enable guest access").click()
    expect(page.get_by_role("switch", name="Enable guest access")).to_have_attribute(
        "aria-checked", "false")


def delete_the_link(page, room, link):
    owner_page(page, room)
    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
    page.locator("#guest-access").get_by_role("button", name=re.compile("^Delete link")).click()
    expect(page.get_by_text(f"Link “{link.name}” deleted.")).to_be_visible()


def let_the_link_expire(page, room, link):
    GuestLink.update(expires_at=utcnow() - timedelta(seconds=1)).where(
        GuestLink.id == link.id).execute()


@pytest.mark.parametrize("change, reload_reads", [
    (turn_access_off, "The host has turned off guest access"),
    (delete_the_link, "This link is no longer available"),
    (let_the_link_expire, "This link has expired"),
])
def test_a_seated_guest_stays_until_they_load_the_page_again(
        app, page, new_context, room, change, reload_reads):
    link = GuestLink.create(room=room, name="Staff")
    guest = seated_guest(new_context, link_path(app, link))
    change(page, room, link)
    polls_twice_and_stays(guest, room)
    # New guests are turned away at once; the seated one on their next page load.
    newcomer = new_context().new_page()
    newcomer.goto(link_path(app, link))
    expect(newcomer.get_by_role("heading", name=reload_reads)).to_be_visible()
    guest.reload()
    expect(guest.get_by_role("heading", name=reload_reads)).to_be_visible()


def test_a_seated_guest_keeps_the_last_click_of_a_used_up_link(app, page, new_context, room):
    """A link with one click: the guest who used it stays, also on the next page load; the
    next person reads that it has been used."""
    link = GuestLink.create(room=room, name="One seat", max_uses=1)
    guest = seated_guest(new_context, link_path(app, link))
    newcomer = new_context().new_page()
    newcomer.goto(link_path(app, link))
    expect(newcomer.get_by_role("heading", name="This link has already been used")) \
        .to_be_visible()
    polls_twice_and_stays(guest, room)
    guest.reload()
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    owner_page(page, room)
    expect(page.locator("#guest-access")).to_contain_text("1 so far, 0 left of 1")


def test_deleting_the_room_reaches_the_seated_guest_at_once(app, page, new_context, room):
    link = GuestLink.create(room=room, name="Staff")
    guest = seated_guest(new_context, link_path(app, link))
    owner_page(page, room, "details")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete room").click()
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    # The guest's page moves on by itself and says why.
    expect(guest.get_by_role("heading", name="This room is no longer available")) \
        .to_be_visible()
