"""Why guests couldn't join, in a real Chromium with CSRF on: a guest is turned away by an
expired link; the owner sees it on the room page by itself (polling), clicks Extend (7 days by
default), and the same guest gets in on the next try."""

from datetime import timedelta

import pytest
from helpers import sign_in_in_browser
from playwright.sync_api import expect

from portal import tokens
from portal.db import database
from portal.models import GuestLink, Room
from portal.timeutil import utcnow


@pytest.fixture
def link(owner):
    now = utcnow()
    with database.connection_context():
        room = Room.create(owner=owner, title="Product preview", guest_access_enabled=True,
                           starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=2))
        return GuestLink.create(room=room, name="Customers",
                                expires_at=now - timedelta(hours=1))


def test_owner_extends_an_expired_link_and_the_guest_gets_in(app, page, new_context, owner,
                                                             link):
    sign_in_in_browser(page, owner.email)
    page.goto(f"/rooms/{link.room_id}/insights")
    section = page.locator("#denials")
    expect(section.get_by_text("Nobody has been turned away from this room.")).to_be_visible()

    token = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, link.version)
    guest = new_context().new_page()
    guest.goto(f"/g/{token}")
    expect(guest.get_by_role("heading", name="This link has expired")).to_be_visible()

    # The section polls (every 10 s; FAST_POLL here) and shows the denial without a reload.
    row = section.locator("#denial-reason-link_expired")
    expect(row).to_contain_text("The link had expired", timeout=15_000)
    expect(row.locator('[data-window="day"] .count')).to_have_text("1")
    expect(section.locator(".denial-events")).to_contain_text("Link “Customers”")
    expect(row.get_by_label("Extend by (days)")).to_have_value("7")
    row.get_by_role("button", name="Extend “Customers”").click()
    expect(section.get_by_text("“Customers” now works until")).to_be_visible()
    expect(row).to_contain_text("“Customers” works again.")

    guest.goto(f"/g/{token}")
    guest.get_by_label("Your name").fill("Grace Guest")
    guest.get_by_label("Email").fill("grace@example.com")
    guest.get_by_role("button", name="Join").click()
    expect(guest.get_by_role("heading", name="Product preview")).to_be_visible()
    expect(guest.get_by_text("This link has expired")).to_have_count(0)
