"""Registration in a real Chromium, its emails through a real SMTP server (aiosmtpd): a visitor
registers on the room's public page with the keyboard alone, confirms from the email, and has
the one place; a second goes on the waitlist, moves up when the first cancels from her email,
and enters through his personal link without typing his email again. The page is
axe-clean at desktop size and at 360 px, without sideways scrolling; and registering works
with JavaScript off (no axe there: it waits forever without JavaScript)."""

import re
import time
from datetime import timedelta

import pytest
from a11y import assert_accessible
from helpers import make_room
from playwright.sync_api import expect
from test_email import body_of

from portal.db import database
from portal.models import Registration
from portal.services import registration as service

NO_JS = {"java_script_enabled": False}


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings}


@pytest.fixture
def page_path(app, owner):
    """A live session (started five minutes ago) taking registrations, one place."""
    room = make_room(owner, title="Garden talk", starts_in=-timedelta(minutes=5),
                     speakers="Beatrix Potter")
    with app.app_context(), database.connection_context():
        service.save_settings(room, enabled=True, mode="open", capacity=1, opens_at=None,
                              closes_at=None)
        url = service.page_url(room)
    return re.sub(r"^https?://[^/]+", "", url)


def mail_to(smtp, email, subject_starts, timeout=10):
    """The newest email to `email` whose subject starts so, waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in smtp.messages()
                 if m["To"] == email and m["Subject"].startswith(subject_starts)]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no email to {email} starting {subject_starts!r}: "
                         f"{[(m['To'], m['Subject']) for m in smtp.messages()]}")


def path_in(message, prefix):
    found = re.search(r"https?://[^/\s]+(/" + prefix + r"/[^\s<\"]+)", body_of(message, "plain"))
    assert found, body_of(message, "plain")
    return found.group(1)


def tab_to(page, selector, presses=30):
    """Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)",
                         selector):
            return
    raise AssertionError(f"{selector} never got the focus by Tab")


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_register_waitlist_move_up_and_enter(new_context, smtp, page_path):
    ada = new_context().new_page()
    ada.goto(page_path)
    expect(ada.get_by_role("heading", name="Garden talk")).to_be_visible()
    expect(ada.get_by_text("1 place left.")).to_be_visible()
    assert_accessible(ada, "registration page, desktop")
    assert no_sideways_scroll(ada)

    # Keyboard only: Tab to the name, type, on to the email, Enter on the button.
    tab_to(ada, "input[name=name]")
    ada.keyboard.type("Ada Lovelace")
    tab_to(ada, "input[name=email]", presses=2)
    ada.keyboard.type("ada@example.com")
    tab_to(ada, "form button[type=submit]", presses=3)
    ada.keyboard.press("Enter")
    expect(ada.get_by_text("Check your email")).to_be_visible()
    confirm = mail_to(smtp, "ada@example.com", "Confirm your registration")
    ada.goto(path_in(confirm, "r/confirm"))
    expect(ada.get_by_role("heading", name="You're registered")).to_be_visible()
    ada_cancel = path_in(mail_to(smtp, "ada@example.com", "You're registered"), "r/cancel")

    # A phone: 360 px, the page full now, still clean and no sideways scrolling.
    bob = new_context(viewport={"width": 360, "height": 740}).new_page()
    bob.goto(page_path)
    expect(bob.get_by_text("The session is full: you can join the waitlist.")).to_be_visible()
    assert_accessible(bob, "registration page, 360 px")
    assert no_sideways_scroll(bob)
    bob.get_by_label("Your name").fill("Bob Example")
    bob.get_by_label("Email").fill("bob@example.com")
    bob.get_by_role("button", name="Register").click()
    expect(bob.get_by_text("Check your email")).to_be_visible()
    bob.goto(path_in(mail_to(smtp, "bob@example.com", "Confirm your registration"),
                     "r/confirm"))
    expect(bob.get_by_role("heading", name="You're on the waitlist")).to_be_visible()
    assert no_sideways_scroll(bob)

    # Ada cancels from her email; Bob moves up and is emailed his personal link.
    ada.goto(ada_cancel)
    ada.get_by_role("button", name="Cancel my registration").click()
    expect(ada.get_by_role("heading", name="Registration cancelled")).to_be_visible()
    moved = mail_to(smtp, "bob@example.com", "A place became free")

    # His link's lobby asks only his name: the confirmation proved his address.
    bob.goto(path_in(moved, "i"))
    expect(bob.get_by_label("Your name")).to_be_visible()
    assert bob.get_by_label("Email").count() == 0
    assert_accessible(bob, "registrant's lobby, 360 px")
    bob.get_by_label("Your name").fill("Bob Example")
    bob.get_by_role("button", name="Join").click()
    expect(bob.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    with database.connection_context():
        assert [(r.email, r.status) for r in Registration.select().order_by(Registration.id)] \
            == [("ada@example.com", "cancelled"), ("bob@example.com", "registered")]


def test_register_without_javascript(new_context, smtp, page_path):
    nora = new_context(**NO_JS).new_page()
    nora.goto(page_path)
    assert nora.locator("html").evaluate("() => typeof window.htmx") == "undefined"
    nora.get_by_label("Your name").fill("Nora Noscript")
    nora.get_by_label("Email").fill("nora@example.com")
    nora.get_by_role("button", name="Register").click()
    expect(nora.get_by_text("Check your email")).to_be_visible()
    nora.goto(path_in(mail_to(smtp, "nora@example.com", "Confirm your registration"),
                      "r/confirm"))
    expect(nora.get_by_role("heading", name="You're registered")).to_be_visible()
    personal = path_in(mail_to(smtp, "nora@example.com", "You're registered"), "i")
    nora.goto(personal)
    nora.get_by_label("Your name").fill("Nora Noscript")
    nora.get_by_role("button", name="Join").click()
    expect(nora.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
