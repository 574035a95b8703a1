"""The keyboard alone: a guest goes from the link through the lobby and the waiting room into the
room, and an owner signs in, turns guest access on, creates a link, copies it and admits a guest
— with Tab, typing, Enter and Space only (no mouse, no clicks, no fill). The skip link is the
first Tab stop, and whatever has focus shows a visible outline."""

import re
import time
from datetime import timedelta

import pytest
from helpers import PASSWORD, make_user
from playwright.sync_api import expect

from portal import tokens
from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

MAX_TABS = 80

# What has focus: enough to find it again and to check its outline.
ACTIVE = r"""() => { const e = document.activeElement; const s = getComputedStyle(e);
  return {tag: e.tagName.toLowerCase(), id: e.id, name: e.getAttribute('name') || '',
          text: (e.innerText || e.value || '').replace(/\s+/g, ' ').trim().slice(0, 80),
          cls: e.className || '', outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth),
          shadow: s.boxShadow}; }"""


def focused(page) -> dict:
    return page.evaluate(ACTIVE)


def assert_focus_visible(info: dict):
    visible = (info["outline"] not in ("none", "") and info["outlineWidth"] >= 2) \
        or info["shadow"] not in ("none", "")
    assert visible, f"no visible focus on {info}"


def tab_to(page, matches, what: str, key="Tab") -> dict:
    """Press Tab until the focused element matches; every stop on the way shows its focus."""
    stops = []
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        info = focused(page)
        if info["tag"] != "body":
            assert_focus_visible(info)
        if matches(info):
            return info
        stops.append(info["id"] or info["text"][:20] or info["tag"])
    raise AssertionError(f"{what}: not reached with {MAX_TABS} presses of {key}; "
                         f"the first stops: {stops[:12]}")


def wait_until(page, expression, timeout=5.0):
    """Until the expression is true in the page. Not page.wait_for_function: Playwright polls a
    predicate with eval(), which the portal's Content Security Policy refuses once the first
    check comes back false; page.evaluate goes through DevTools and is allowed."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(25)


def wait_for_htmx(page):
    """Until htmx has processed the page (on DOMContentLoaded; the page's load comes after) and
    the content of its last swap (in the settle step, after focus is restored to the new
    content): a key pressed before that submits a form without htmx, the no-JS path."""
    wait_until(page, "window.htmx !== undefined && document.readyState === 'complete'"
                     " && document.querySelector('.htmx-swapping, .htmx-settling') === null")


def by_id(element_id):
    return lambda info: info["id"] == element_id


def by_name(name):
    return lambda info: info["name"] == name


def by_text(pattern):
    return lambda info: re.search(pattern, info["text"]) is not None


@pytest.fixture
def owner_room(app, owner):
    now = utcnow()
    return Room.create(owner=owner, title="Keyboard round-table", require_approval=True,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))


def test_skip_link_is_the_first_tab_stop_and_focus_is_visible(page, owner_room):
    page.goto("/sign-in")
    page.keyboard.press("Tab")
    info = focused(page)
    assert "skip-link" in info["cls"], info
    assert_focus_visible(info)
    box = page.locator(".skip-link").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, "the focused skip link is on screen"
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    # The next Tab continues inside the main content, not back in the header.
    info = tab_to(page, lambda i: i["name"] == "email", "email field")
    assert info["tag"] == "input"


def test_guest_goes_from_link_to_room_with_the_keyboard(app, new_context, owner_room):
    Room.update(guest_access_enabled=True).where(Room.id == owner_room.id).execute()
    link = GuestLink.create(room=owner_room, name="Guests")
    url = "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    guest = new_context().new_page()
    guest.goto(url)
    wait_for_htmx(guest)

    tab_to(guest, by_name("name"), "name field")
    guest.keyboard.type("Kim Keys")
    tab_to(guest, by_name("email"), "email field")
    guest.keyboard.type("kim@example.com")
    tab_to(guest, by_text("^Join$"), "Join button")
    guest.keyboard.press("Enter")
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    wait_for_htmx(guest)

    # The host admits (here straight in the database); the page moves on by itself.
    Participant.update(status="admitted").where(Participant.email == "kim@example.com").execute()
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible(timeout=20_000)
    wait_for_htmx(guest)

    tab_to(guest, by_text("^Leave$"), "Leave button")
    guest.keyboard.press("Space")
    expect(guest.get_by_role("heading", name="You left the session")).to_be_visible()


def test_lobby_error_takes_focus_to_the_field(app, new_context, owner):
    """A keyboard user who submits an empty lobby lands on the first field with an error."""
    now = utcnow()
    room = Room.create(owner=owner, title="Focus", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Guests")
    guest = new_context().new_page()
    guest.goto("/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1))
    tab_to(guest, by_text("^Join$"), "Join button")
    guest.keyboard.press("Enter")
    guest.wait_for_selector("[aria-invalid=true]")
    wait_until(guest, "document.activeElement !== document.body")
    info = focused(guest)
    assert info["name"] == "name", info
    assert_focus_visible(info)


def test_owner_manages_guest_access_with_the_keyboard(page, new_context, owner_room):
    make_user("other@example.com")  # nothing else on screen depends on it; a second account
    Participant.create(room=owner_room, name="Wendy Waiting", email="wendy@example.com",
                       device="keyboard-device", status="waiting")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    page.goto("/sign-in")
    tab_to(page, by_name("email"), "email field")
    page.keyboard.type("owner@example.com")
    tab_to(page, by_name("password"), "password field")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()

    tab_to(page, by_text("^Keyboard round-table$"), "room link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Keyboard round-table", level=1)).to_be_visible()
    wait_for_htmx(page)

    # The session runs: the room opens on Live. Access is one link away in the views' nav;
    # htmx swaps the view in, and focus stays on the link used.
    expect(page).to_have_url(re.compile(r"/live$"))
    tab_to(page, by_id("view-access"), "Access view link")
    page.keyboard.press("Enter")
    expect(page.locator("#view-access")).to_have_attribute("aria-current", "page")
    expect(page.locator("#guest-access")).to_be_visible()
    expect(page.locator("#view-access")).to_be_focused()
    expect(page).to_have_url(re.compile(r"/access$"))
    wait_for_htmx(page)

    # Enable guest access: a switch, toggled with Space; focus stays on it after the swap.
    tab_to(page, by_id("guest-access-toggle"), "guest access switch")
    page.keyboard.press("Space")
    switch = page.get_by_role("switch", name="Enable guest access")
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(switch).to_be_focused()
    wait_for_htmx(page)

    # Create new link: type a name, Enter submits.
    tab_to(page, by_name("link-name"), "link name field")
    page.keyboard.type("Keyboard guests")
    page.keyboard.press("Enter")
    section = page.locator("#guest-access")
    expect(section.get_by_role("status")).to_contain_text("Link “Keyboard guests” created.")

    # Copy link: Enter on the button copies the field's value.
    tab_to(page, by_text("^Copy link"), "Copy link button")
    page.keyboard.press("Enter")
    expect(section.get_by_role("button", name=re.compile("^Copied"))).to_be_visible()
    url = section.locator("input[id^=link-url-]").input_value()
    assert url.startswith("http://127.0.0.1:") and "/g/" in url
    assert page.evaluate("navigator.clipboard.readText()") == url

    # Back to Live, and admit the waiting guest.
    tab_to(page, by_id("view-live"), "Live view link", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#view-live")).to_have_attribute("aria-current", "page")
    expect(page.locator("#waiting-room")).to_be_visible()
    expect(page.locator("#view-live")).to_be_focused()
    wait_for_htmx(page)
    tab_to(page, by_text("^Admit Wendy Waiting$"), "Admit button")
    page.keyboard.press("Enter")
    waiting = page.locator("#waiting-room")
    expect(waiting.get_by_role("status")).to_have_text("Wendy Waiting was admitted.")
    assert Participant.get(Participant.email == "wendy@example.com").status == "admitted"
    # Focus stays in the waiting room (on its message) though the guest's row went away.
    wait_until(page, "document.activeElement.closest('#waiting-room') !== null")
    assert "was admitted" in focused(page)["text"]


def test_a_guest_arriving_does_not_move_the_owners_focus(page, owner_room):
    """The waiting room redraws itself when someone arrives; the owner typing elsewhere keeps
    their place."""
    page.goto("/sign-in")
    tab_to(page, by_name("email"), "email field")
    page.keyboard.type("owner@example.com")
    tab_to(page, by_name("password"), "password field")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    page.goto(f"/rooms/{owner_room.id}")

    def arrives(name):
        Participant.create(room=owner_room, name=name, email=f"{name.split()[0]}@example.com",
                           device=f"device-{name.split()[0]}", status="waiting")
        expect(page.locator("#waiting-room")).to_contain_text(name, timeout=15_000)
        page.wait_for_timeout(300)  # past htmx's settle

    arrives("Arriving Arno")
    assert focused(page)["tag"] == "body", "nothing had focus, and nothing should get it"
    tab_to(page, by_name("message"), "host message field")
    page.keyboard.type("Five minutes")
    arrives("Belated Bea")
    info = focused(page)
    assert info["name"] == "message" and info["text"] == "Five minutes", info
