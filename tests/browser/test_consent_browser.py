"""Consent before entry in a real Chromium: the owner turns on "Guests must agree before they
enter" with the keyboard alone; a guest reads the text, is stopped without "I agree" (told why,
focus on the box), ticks it with the keyboard and enters — with scripts and without; the lobby
passes axe in English and German and fits a 360 px phone."""

import re
from datetime import timedelta

import pytest
from a11y import assert_accessible
from helpers import make_user, sign_in_in_browser
from playwright.sync_api import expect
from test_guest_accessibility import PHONE

from portal import tokens
from portal.models import GuestLink, Invitation, Participant, Room
from portal.timeutil import utcnow

NOTICE = ("This session is recorded. The recording is published on our website for a year; "
          "your name and your questions may be in it.")
NO_JS = {"java_script_enabled": False}


@pytest.fixture
def room(owner):
    now = utcnow()
    return Room.create(owner=owner, title="Recorded town hall", guest_access_enabled=True,
                       consent_required=True, consent_text=NOTICE, consent_version=1,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))


@pytest.fixture
def link_url(app, room):
    link = GuestLink.create(room=room, name="Guests", max_uses=10)
    return "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)


def test_owner_turns_the_option_on_with_the_keyboard(page, owner):
    room = Room.create(owner=owner, title="Board meeting", starts_at=utcnow(),
                       ends_at=utcnow() + timedelta(hours=1))
    sign_in_in_browser(page)
    page.goto(f"/rooms/{room.id}/edit")
    option = page.get_by_label("Guests must agree before they enter")
    option.focus()
    page.keyboard.press("Space")
    expect(option).to_be_checked()
    page.keyboard.press("Tab")
    expect(page.get_by_label("What guests agree to")).to_be_focused()
    page.keyboard.type("Recorded. By entering you agree.")
    page.get_by_role("button", name="Save room").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("Room saved.")).to_be_visible()
    details = page.get_by_role("region", name="Details")
    expect(details).to_contain_text("Guests must agree before they enter")
    expect(details).to_contain_text("Yes (text version 1)")
    expect(details).to_contain_text("Recorded. By entering you agree.")

    # The option without a text is refused on the form, tied to the text field.
    page.goto(f"/rooms/{room.id}/edit")
    page.get_by_label("What guests agree to").fill("")
    page.get_by_role("button", name="Save room").click()
    text = page.get_by_label("What guests agree to")
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#consent_text-error")).to_contain_text("Enter the text guests agree to")


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_guest_must_tick_i_agree_before_entering(new_context, room, link_url, scripts):
    page = new_context(**({} if scripts else NO_JS)).new_page()
    page.goto(link_url)
    expect(page.get_by_text(NOTICE)).to_be_visible()
    page.get_by_label("Your name").fill("Ada Guest")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Join").click()

    # Stopped: said in words at the box, which has the focus; nothing was stored.
    box = page.get_by_role("checkbox", name="I agree")
    expect(page.get_by_text("To enter, tick “I agree”: the host asks everyone to agree "
                            "first.")).to_be_visible()
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_be_focused()
    expect(page.get_by_label("Your name")).to_have_value("Ada Guest")
    assert Participant.select().count() == 0
    assert GuestLink.get().uses == 0

    page.keyboard.press("Space")
    expect(box).to_be_checked()
    page.get_by_role("button", name="Join").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/s/{room.id}$"))
    participant = Participant.get()
    assert participant.consent_version == 1 and participant.consented_at is not None
    assert GuestLink.get().uses == 1


def test_a_text_changed_while_the_guest_read_is_shown_and_agreed_to_again(new_context, room,
                                                                           link_url):
    """The guest ticks "I agree" under version 1; the host saves a new text before Join: the
    lobby shows the new one, unticked, and says why — nothing stored; agreeing records it."""
    page = new_context().new_page()
    page.goto(link_url)
    page.get_by_label("Your name").fill("Ada Guest")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("checkbox", name="I agree").check()
    changed = "We now also record the chat."
    Room.update(consent_text=changed, consent_version=2).where(Room.id == room.id).execute()
    page.get_by_role("button", name="Join").click()

    expect(page.get_by_text("The host changed the text to agree to. Please read it again."))\
        .to_be_visible()
    expect(page.get_by_text(changed)).to_be_visible()
    expect(page.get_by_text(NOTICE)).to_have_count(0)
    box = page.get_by_role("checkbox", name="I agree")
    expect(box).not_to_be_checked()
    expect(box).to_be_focused()
    expect(page.get_by_label("Your name")).to_have_value("Ada Guest")
    assert Participant.select().count() == 0 and GuestLink.get().uses == 0

    page.keyboard.press("Space")
    page.get_by_role("button", name="Join").click()
    expect(page).to_have_url(re.compile(rf"/s/{room.id}$"))
    assert Participant.get().consent_version == 2


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
def test_consent_lobby_passes_axe(new_context, link_url, locale):
    page = new_context(locale=locale).new_page()
    page.goto(link_url)
    expect(page.get_by_text(NOTICE)).to_be_visible()
    assert_accessible(page, f"consent lobby [{locale}]")
    page.locator("input[name=name]").fill("Ada")
    page.locator("input[name=email]").fill("ada@example.com")
    page.locator("button[type=submit]").click()
    expect(page.locator("#consent-error")).to_be_visible()
    assert_accessible(page, f"consent lobby with its error [{locale}]")


def test_consent_lobby_fits_a_phone(new_context, link_url):
    page = new_context(**PHONE).new_page()
    page.goto(link_url)
    page.locator("button[type=submit]").click()
    expect(page.locator("#consent-error")).to_be_visible()
    assert_accessible(page, "consent lobby [phone]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    box = page.get_by_role("checkbox", name="I agree").bounding_box()
    assert box["height"] >= 44  # a tap target a thumb hits


def test_invited_guest_agrees_with_the_keyboard_alone(app, new_context, room):
    guest = make_user("ivy@example.com", access="guest")
    invitation = Invitation.create(room=room, user=guest, email=guest.email, role="speaker")
    url = "/i/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id, 1)
    page = new_context(locale="de-DE").new_page()
    page.goto(url)
    expect(page.get_by_text(NOTICE)).to_be_visible()
    # Name, email, the box, the button: in that order by Tab.
    page.get_by_label("Ihr Name").focus()
    page.keyboard.type("Ivy")
    page.keyboard.press("Tab")
    page.keyboard.type("ivy@example.com")
    page.keyboard.press("Tab")
    box = page.get_by_role("checkbox", name="Ich stimme zu")
    expect(box).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.locator("button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/s/{room.id}$"))
    participant = Participant.get()
    assert (participant.email, participant.role, participant.consent_version) == (
        "ivy@example.com", "speaker", 1)
