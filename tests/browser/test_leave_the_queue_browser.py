"""A guest who gives up waiting leaves, in Chromium, with and without JavaScript: Leave on the
waiting page, the countdown and "The host didn't admit you". Leaving the queue takes the guest
off the host's waiting list (which follows by itself) and into the audit log; a denied guest's
refusal stays."""

import re
from datetime import timedelta

import pytest
from helpers import link_path, make_room
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import AuditEvent, GuestLink, Participant

NO_JS = {"java_script_enabled": False}


@pytest.fixture
def config(config):
    """Without JavaScript a waiting or countdown page reloads itself (meta refresh) as often as
    it would poll: at the browser tests' half second, a reload could fire between the click on
    Leave and its answer and replace the page the test waits for. Here pages wait longer; the
    host's list, which the test watches, still polls fast."""
    return {**config, "POLL_WAITING_SECONDS": 30, "POLL_COUNTDOWN_SECONDS": 30,
            "POLL_COUNTDOWN_LONGEST_SECONDS": 30}


@pytest.fixture
def room(owner):
    return make_room(owner, title="Office hours", guest_access_enabled=True,
                     require_approval=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Students")


def guest_waits(new_context, path, name, email, **context):
    page = new_context(**context).new_page()
    page.goto(path)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Join").click()
    return page


@pytest.mark.parametrize("scripts", [{}, NO_JS], ids=["javascript", "no-javascript"])
def test_a_waiting_guest_leaves_and_the_host_sees_them_go(
        app, page, new_context, room, link, scripts):
    guest = guest_waits(new_context, link_path(app, link), "Ada", "ada@example.com", **scripts)
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    sign_in(page)
    page.goto(f"/rooms/{room.id}")
    waiting = page.locator("#waiting-room")
    expect(waiting).to_contain_text("ada@example.com")

    guest.get_by_role("button", name="Leave").click()
    expect(guest.get_by_role("heading", name="You left the session")).to_be_visible()
    expect(guest.get_by_text("To come back, open your link again.").first).to_be_visible()
    # The host's waiting list follows by itself: nobody waits any more.
    expect(waiting).not_to_contain_text("ada@example.com")
    expect(page).to_have_title(re.compile(r"^Office hours"))
    assert Participant.get(Participant.email == "ada@example.com").status == "left"
    assert AuditEvent.get(AuditEvent.action == "guest_left_waiting").actor_email == \
        "ada@example.com"

    # Their link brings them back to the waiting room: no form, no new click.
    guest.goto(link_path(app, link))
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    expect(waiting).to_contain_text("ada@example.com")
    assert GuestLink.get_by_id(link.id).uses == 1


@pytest.mark.parametrize("scripts", [{}, NO_JS], ids=["javascript", "no-javascript"])
def test_leave_the_countdown(app, new_context, owner, scripts):
    room = make_room(owner, title="Later today", guest_access_enabled=True,
                     starts_in=timedelta(hours=1))
    link = GuestLink.create(room=room, name="Guests")
    guest = guest_waits(new_context, link_path(app, link), "Nora", "nora@example.com", **scripts)
    expect(guest.get_by_text("You're in. Waiting for the start")).to_be_visible()
    guest.get_by_role("button", name="Leave").click()
    expect(guest.get_by_role("heading", name="You left the session")).to_be_visible()
    assert Participant.get(Participant.email == "nora@example.com").status == "left"
    assert AuditEvent.get(AuditEvent.action == "guest_left").target == "Nora <nora@example.com>"


@pytest.mark.parametrize("scripts", [{}, NO_JS], ids=["javascript", "no-javascript"])
def test_a_denied_guest_leaves_and_stays_refused(app, new_context, room, link, scripts):
    guest = guest_waits(new_context, link_path(app, link), "Dan", "dan@example.com", **scripts)
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    owner = new_context(**NO_JS).new_page()
    sign_in(owner)
    owner.goto(f"/rooms/{room.id}")
    owner.locator("#waiting-room").get_by_role("button", name="Deny Dan").click()
    expect(owner.get_by_text("Dan was denied entry.")).to_be_visible()

    guest.reload()
    expect(guest.get_by_role("heading", name="The host didn't admit you")).to_be_visible()
    guest.get_by_role("button", name="Leave").click()
    expect(guest.get_by_role("heading", name="You left the session")).to_be_visible()
    expect(guest.get_by_text("open your link again")).to_have_count(0)
    assert Participant.get(Participant.email == "dan@example.com").status == "rejected"
    guest.goto(link_path(app, link))
    expect(guest.get_by_role("heading", name="The host didn't admit you")).to_be_visible()
