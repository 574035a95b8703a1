"""Registration on the room page's Access view, in Chromium, its emails through a real SMTP
server (aiosmtpd): a host approves in bulk with the keyboard alone (Tab, Space, Enter), the
answer is said and takes the focus, and declining by a row's button moves the first on the
waitlist up, who is emailed; axe finds nothing serious in the section's answer, at desktop size
and at 360 px, where nothing scrolls sideways and every control is a 44 px tap target; and
without JavaScript the same forms post, land on the view at the section with the flash.
(The Access and Insights views of the accessibility scene, registrants and attendance shown,
are in test_owner_accessibility.py.)"""

import re
from datetime import timedelta

import pytest
from a11y import assert_accessible
from helpers import make_room
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect
from test_keyboard import tab_to
from test_owner_accessibility import PHONE, no_sideways_scroll, tap_targets_fit_a_finger
from test_registration_browser import mail_to

from portal.db import database
from portal.models import Registration
from portal.services import registration as service


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings}


@pytest.fixture
def room(app, owner, smtp):
    """Approval, one place; Ann, Ben and Cat confirmed and waiting for approval."""
    room = make_room(owner, title="Garden talk", starts_in=timedelta(days=1))
    with app.test_request_context(), database.connection_context():
        service.save_settings(room, enabled=True, mode="approval", capacity=1, opens_at=None,
                              closes_at=None)
        service.add_question(room, "Your company", "short", False, [])
        for name in ("Ann", "Ben", "Cat"):
            outcome = service.register(room, f"{name} Example", f"{name.lower()}@example.com",
                                       {"q1": f"{name} Ltd"})
            service.confirm(service.confirm_token(outcome.registration))
    return room


def statuses():
    with database.connection_context():
        return {r.email.split("@")[0]: r.status for r in Registration.select()}


def test_a_host_approves_in_bulk_with_the_keyboard(new_context, smtp, room):
    page = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page)
    # A link to the list: Tab starts from there, as from any anchor.
    page.goto(f"/rooms/{room.id}/access#registrants")
    expect(page.locator("#registrants tbody tr")).to_have_count(3)
    assert_accessible(page, "Access view with registrants, desktop")

    tab_to(page, lambda f: f["name"] == "ids", "Ann's checkbox")
    page.keyboard.press("Space")
    tab_to(page, lambda f: f["name"] == "ids", "Ben's checkbox")
    page.keyboard.press("Space")
    expect(page.locator("#registrants input[name=ids]:checked")).to_have_count(2)
    tab_to(page, lambda f: f["text"] == "Approve selected", "Approve selected")
    page.keyboard.press("Enter")

    # The section came back in place; what happened is said and has the focus.
    status = page.locator("#registration-status")
    expect(status).to_contain_text("Approved 2: ann@example.com, ben@example.com (emailed).")
    expect(status).to_contain_text("The room is full: 1 went on the waitlist.")
    expect(status).to_be_focused()
    expect(page.locator("#live-announcer")).to_contain_text("Approved 2")
    assert statuses() == {"ann": "registered", "ben": "waitlisted", "cat": "pending"}
    mail_to(smtp, "ann@example.com", "You're registered")
    mail_to(smtp, "ben@example.com", "You're on the waitlist")
    assert page.url.endswith(f"/rooms/{room.id}/access#registrants")  # no page load
    assert_accessible(page, "Access view after Approve selected")

    # Ann's row's own Decline, by the keyboard: Ben moves up and is emailed his link.
    tab_to(page, lambda f: f["text"] == "Decline Ann Example", "Decline Ann")
    page.keyboard.press("Enter")
    expect(status).to_contain_text("Declined 1: ann@example.com (emailed).")
    expect(status).to_contain_text("1 moved up from the waitlist (emailed).")
    expect(status).to_be_focused()  # given once htmx settles the swap: waited for, not read
    moved = mail_to(smtp, "ben@example.com", "A place became free")
    assert "/i/" in moved.get_body(("plain",)).get_content()
    assert statuses() == {"ann": "declined", "ben": "registered", "cat": "pending"}


def test_the_access_view_fits_a_phone_with_registration(new_context, smtp, room):
    page = new_context(**PHONE).new_page()
    sign_in(page)
    page.goto(f"/rooms/{room.id}/access")
    expect(page.locator("#registrants tbody tr")).to_have_count(3)
    for summary in page.locator("#registration details.part > summary").all():
        summary.click()
    expect(page.locator("#registration-reminders")).to_be_visible()
    assert_accessible(page, "Access view, 360 px, registration's parts open")
    no_sideways_scroll(page, "Access view with registration")
    tap_targets_fit_a_finger(page, "Access view with registration")
    # An answer, swapped in at 360 px: still within the screen.
    page.locator("#registrants input[name=ids]").first.check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page.locator("#registration-status")).to_contain_text("Approved 1")
    no_sideways_scroll(page, "Access view after Approve selected")
    tap_targets_fit_a_finger(page, "Access view after Approve selected")

    page.goto(f"/rooms/{room.id}/insights")
    expect(page.locator("#attendance tbody tr")).to_have_count(3)
    assert_accessible(page, "Insights view with attendance, 360 px")
    no_sideways_scroll(page, "Insights view with attendance")
    tap_targets_fit_a_finger(page, "Insights view with attendance")


def test_registration_works_without_javascript(new_context, smtp, room):
    """No axe here: it waits forever without JavaScript (tests/browser/a11y.py)."""
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page)
    page.goto(f"/rooms/{room.id}/access")
    assert page.locator("html").evaluate("() => typeof window.htmx") == "undefined"

    # Approve selected: a page load to the view at the list, with the flash.
    page.get_by_label("Select Ann Example (ann@example.com)").check()
    page.get_by_label("Select Cat Example (cat@example.com)").check()
    page.get_by_role("button", name="Approve selected").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/access#registrants$"))
    expect(page.locator(".flashes")).to_contain_text("Approved 2")
    assert statuses() == {"ann": "registered", "ben": "pending", "cat": "waitlisted"}

    # A row's own button: Decline Ann; Cat moves up.
    page.get_by_role("button", name="Decline Ann Example").click()
    expect(page.locator(".flashes")).to_contain_text("1 moved up from the waitlist")
    mail_to(smtp, "cat@example.com", "A place became free")

    # The folded options open without JavaScript; a refusal is the view with the error.
    page.locator("#registration summary", has_text="Registration options").click()
    page.get_by_label("Places (empty: no limit)").fill("0")
    page.get_by_role("button", name="Save registration options").click()
    expect(page.get_by_text("Enter 1 to 100,000 places")).to_be_visible()
    page.get_by_label("Places (empty: no limit)").fill("5")
    page.get_by_role("button", name="Save registration options").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/access#registration$"))
    expect(page.locator(".flashes")).to_contain_text("Registration settings saved.")
    expect(page.locator("#registration")).to_contain_text("1 of 5 places taken")
