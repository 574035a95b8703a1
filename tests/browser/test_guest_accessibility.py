"""Every guest page passes axe-core with no serious or critical violation, in English and
German, at desktop and phone width; phone pages don't scroll sideways and their tap targets are
at least 44 px."""

from datetime import timedelta

import pytest
from a11y import assert_accessible
from helpers import make_user

from portal import tokens
from portal.models import GuestLink, Invitation, Participant, Room
from portal.timeutil import utcnow

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def rooms(app):
    now = utcnow()
    owner = make_user()
    keys = app.config["SECRET_KEYS"]

    def room(title, **kw):
        r = Room.create(owner=owner, title=title, guest_access_enabled=True,
                        description="What we will talk about, at some length so that it wraps "
                                    "on a phone screen without making the page scroll.",
                        speakers="Ada Lovelace\nGrace Hopper",
                        starts_at=kw.pop("starts_at", now - timedelta(minutes=1)),
                        ends_at=now + timedelta(hours=2), **kw)
        link = GuestLink.create(room=r, name="Guests")
        return r, "/g/" + tokens.make_token(keys, tokens.LINK, link.id, 1)

    live, live_url = room("Live now with a rather long title that needs to wrap on phones")
    later, later_url = room("Starts later", starts_at=now + timedelta(hours=1))
    approval, approval_url = room("Guests wait here", require_approval=True)
    off, off_url = room("Guest access off")
    Room.update(guest_access_enabled=False).where(Room.id == off.id).execute()
    guest = make_user("ada@example.com", access="guest")
    invitation = Invitation.create(room=live, user=guest, email=guest.email, role="moderator")
    invite_url = "/i/" + tokens.make_token(keys, tokens.INVITE, invitation.id, 1)
    # Someone inside and someone turned away, for the moderator's In the room.
    live_link = GuestLink.get(GuestLink.room == live)
    Participant.create(room=live, link=live_link, name="Inés Inside", email="ines@example.org",
                       device="seed-inside", status="admitted", decided_at=now)
    Participant.create(room=live, link=live_link, name="Rex Removed", email="rex@example.org",
                       device="seed-removed", status="rejected", removed_at=now)
    return {"live": (live, live_url), "later": (later, later_url),
            "approval": (approval, approval_url), "off": (off, off_url), "invite": invite_url}


def enter(page, url):
    page.goto(url)
    page.locator("input[name=name]").fill("Ada Guest")
    page.locator("input[name=email]").fill("ada@example.com")
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()


def guest_pages(page, rooms):
    """Visit every guest page; yields a label per page once it is shown."""
    live, live_url = rooms["live"]
    page.goto(live_url)
    yield "lobby (shared link)"
    page.goto(rooms["invite"])
    yield "lobby (personal invitation)"
    page.locator("input[name=name]").fill("Ada")
    page.locator("input[name=email]").fill("wrong@example.com")
    page.locator("button[type=submit]").click()
    yield "lobby with an error"
    enter(page, live_url)
    yield "room"
    enter(page, rooms["invite"])
    assert page.locator("#in-the-room .inside-table tbody tr").count() == 2  # Inés, Ada herself
    yield "room (moderator, with In the room)"
    enter(page, rooms["later"][1])
    yield "countdown"
    enter(page, rooms["approval"][1])
    yield "waiting"
    page.goto(rooms["off"][1])
    yield "denied (guest access off)"
    page.goto("/g/not-a-token")
    yield "denied (link invalid)"
    page.goto("/sign-in")
    yield "sign in"
    page.goto("/left")
    yield "left"


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
def test_guest_pages_pass_axe(new_context, rooms, locale):
    page = new_context(locale=locale).new_page()
    for label in guest_pages(page, rooms):
        assert_accessible(page, f"{label} [{locale}]")


def test_guest_pages_fit_a_phone(new_context, rooms):
    page = new_context(**PHONE).new_page()
    for label in guest_pages(page, rooms):
        assert_accessible(page, f"{label} [phone]")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{label}: page is {width}px wide at 360px"
        small = page.evaluate("""() => [...document.querySelectorAll(
            'a.button, button, input:not([type=hidden]), select, textarea, .languages a')]
            .filter(e => e.offsetParent !== null)
            .map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])
            .filter(([, h]) => h < 44)""")
        assert small == [], f"{label}: tap targets under 44px: {small}"


def test_waiting_guest_hears_when_admitted(new_context, rooms):
    """The waiting state is announced (role=status), and admission needs no reload by hand."""
    page = new_context().new_page()
    room, url = rooms["approval"]
    enter(page, url)
    status = page.get_by_role("status").filter(has_text="the host will let you in")
    assert status.count() == 1
    Participant.update(status="admitted").where(Participant.room == room.id).execute()
    page.get_by_role("status").filter(has_text="You're in").wait_for(timeout=15_000)
