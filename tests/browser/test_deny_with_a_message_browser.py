"""Deny with a message, in Chromium: the host writes why on a page of its own (the waiting room
redraws itself meanwhile, losing nothing), and the guest's waiting page moves on by itself to
"The host didn't admit you" with the host's words below it. Accessible at desktop and phone
width, and the same without JavaScript."""

import re

import pytest
from a11y import assert_accessible
from helpers import link_path, make_room
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import AuditEvent, GuestLink, Participant

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
WORDS = "Today is for staff only — write to events@example.org to register."


@pytest.fixture
def room(owner):
    return make_room(owner, title="Staff briefing", guest_access_enabled=True,
                     require_approval=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Public")


def guest_waits(new_context, path, name, email):
    page = new_context().new_page()
    page.goto(path)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name=re.compile("^(Join|Login)$")).click()
    expect(page.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_the_guest_reads_the_hosts_words(app, new_context, room, link, javascript):
    guest = guest_waits(new_context, link_path(app, link), "Mallory", "mallory@example.com")
    host = new_context(java_script_enabled=javascript, **PHONE).new_page()
    sign_in(host)
    host.goto(f"/rooms/{room.id}")
    waiting = host.locator("#waiting-room")
    expect(waiting).to_contain_text("mallory@example.com")
    waiting.get_by_role("link", name=re.compile(r"^Deny with a message\W+Mallory$")).click()

    expect(host.get_by_role("heading", name="Deny Mallory")).to_be_visible()
    if javascript:  # axe runs in the page: with JavaScript off it would wait forever
        assert_accessible(host, "deny with a message [phone]")
    host.get_by_label("Message to Mallory (optional)").fill(WORDS)
    host.get_by_role("button", name="Deny", exact=True).click()
    expect(host.get_by_role("status").first).to_contain_text("Mallory was denied entry.")
    assert host.url.endswith(f"/rooms/{room.id}/live#waiting-room")

    # Their waiting page learns it by itself (the poll; 0.5 s in tests) and says why.
    expect(guest.get_by_role("heading", name="The host didn't admit you")).to_be_visible()
    expect(guest.locator("main")).to_contain_text(f"Message from the host: {WORDS}")
    assert Participant.get(Participant.email == "mallory@example.com").status == "rejected"
    assert AuditEvent.get(AuditEvent.action == "guest_denied").detail == f"Message: {WORDS}"


def test_with_a_message_shows_beside_deny_at_desktop_width(app, new_context, room, link):
    guest_waits(new_context, link_path(app, link), "Mallory", "mallory@example.com")
    host = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(host)
    host.goto(f"/rooms/{room.id}/live")
    row = host.locator("#waiting-room tbody tr").first
    expect(row).to_contain_text("mallory@example.com")
    deny = row.get_by_role("button", name=re.compile(r"^Deny\W+Mallory$")).bounding_box()
    words = row.get_by_role("link", name=re.compile(r"^Deny with a message\W+Mallory$"))
    expect(words).to_be_visible()
    box = words.bounding_box()
    card = host.locator("#waiting-room").bounding_box()
    # on the row, inside the card, not cut off past its edge
    assert box["x"] + box["width"] <= card["x"] + card["width"], (box, card)
    assert box["y"] < deny["y"] + deny["height"] + 40, (box, deny)
