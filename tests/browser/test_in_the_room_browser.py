"""In the room, in Chromium: the owner's Remove, Move to waiting room, role and Allow again,
each with what the guest sees on their own page (moved along by the page's poll, 0.5 s here);
an invited moderator's same controls; the owner's opt-in sound and notification when someone
new waits; the guest's place in the queue; and Remove and Move with JavaScript off."""

import re

import pytest
from helpers import invitation_path, link_path, make_room, make_user
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import GuestLink, Invitation, Participant

NO_JS = {"java_script_enabled": False}


@pytest.fixture
def room(owner):
    return make_room(owner, title="Live Q&A", guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


def guest_enters(new_context, path, name, email, **context):
    """A guest in a browser of their own goes through the lobby; returns their page."""
    page = new_context(**context).new_page()
    page.goto(path)
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name=re.compile("^(Join|Login)$")).click()
    return page


def owner_room_page(page, room, **_):
    sign_in(page)
    page.goto(f"/rooms/{room.id}/live")
    return page.locator("#in-the-room")


def test_remove_then_allow_again(app, page, new_context, room, link):
    guest = guest_enters(new_context, link_path(app, link), "Ada", "ada@example.com")
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    section = owner_room_page(page, room)
    expect(section).to_contain_text("ada@example.com")
    expect(section).to_contain_text("Guest link “Customers”")

    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm
    section.get_by_role("button", name="Remove Ada").click()
    expect(page.locator("#in-the-room [role=status]")).to_have_text(
        "Ada was removed from the session.")
    # The guest's page moves on by itself and says why, in words.
    expect(guest.get_by_role("heading", name="You were removed from this session")).to_be_visible()
    # The same link on this device doesn't let them in again.
    guest.goto(link_path(app, link))
    expect(guest.get_by_role("heading", name="You were removed from this session")).to_be_visible()

    page.locator("#in-the-room").get_by_role("button", name="Allow again Ada").click()
    expect(page.locator("#in-the-room [role=status]")).to_have_text("Ada can enter again.")
    # Allowed again, the same guest returns by the link: no name and email again, no click.
    guest.goto(link_path(app, link))
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    assert guest.url.endswith(f"/s/{room.id}")
    expect(page.locator("#in-the-room")).to_contain_text("ada@example.com")
    page.get_by_role("link", name="Access").click()
    expect(page.locator("#guest-access")).to_contain_text("1 so far, no limit")


def test_move_to_waiting_room_then_admit(app, page, new_context, room, link):
    """Link guests go straight in here; Move still puts the guest in the waiting room, and the
    owner admits them back from the waiting room that the answer brought along."""
    guest = guest_enters(new_context, link_path(app, link), "Ada", "ada@example.com")
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    section = owner_room_page(page, room)
    section.get_by_role("button", name="Move to waiting room Ada").click()
    expect(page.locator("#in-the-room [role=status]")).to_have_text(
        "Ada was moved to the waiting room.")
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    page.locator("#waiting-room").get_by_role("button", name="Admit Ada").click()
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    expect(page.locator("#in-the-room")).to_contain_text("ada@example.com")


def test_changing_the_role_reaches_the_guests_page(app, page, new_context, room, link):
    guest = guest_enters(new_context, link_path(app, link), "Ada", "ada@example.com")
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    section = owner_room_page(page, room)
    # The role applies as it is chosen: no button to press (that is for pages without
    # JavaScript), and the focus stays on the select.
    expect(section.get_by_role("button", name="Change role Ada")).to_have_count(0)
    section.get_by_label("Role of Ada").select_option("speaker")
    expect(page.locator("#in-the-room [role=status]")).to_have_text("Ada is now: speaker.")
    expect(page.locator("#live-announcer")).to_have_text("Ada is now: speaker.")
    expect(section.get_by_label("Role of Ada")).to_have_value("speaker")
    expect(guest.get_by_role("heading", name="Your role: Speaker")).to_be_visible()


def test_an_invited_moderator_moves_and_removes_from_their_room_page(
        app, new_context, room, link):
    user = make_user("mod@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    moderator = guest_enters(new_context, invitation_path(app, invitation), "Mo",
                             "mod@example.com")
    ada = guest_enters(new_context, link_path(app, link), "Ada", "ada@example.com")
    expect(ada.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    section = moderator.locator("#in-the-room")
    expect(section).to_contain_text("ada@example.com")  # the list polled in by itself
    expect(section.get_by_role("button", name="Remove Mo")).to_have_count(0)  # not themselves
    section.get_by_role("button", name="Move to waiting room Ada").click()
    expect(ada.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    moderator.locator("#waiting-room").get_by_role("button", name="Admit Ada").click()
    expect(ada.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    expect(section).to_contain_text("ada@example.com")
    moderator.once("dialog", lambda dialog: dialog.accept())
    section.get_by_role("button", name="Remove Ada").click()
    expect(ada.get_by_role("heading", name="You were removed from this session")).to_be_visible()


FAKE_NOTIFICATIONS_AND_AUDIO = """
window.shownNotifications = [];
window.tonesPlayed = 0;
window.Notification = class {
  static permission = "granted";
  static requestPermission() { return Promise.resolve("granted"); }
  constructor(title, options) { window.shownNotifications.push({title, body: options.body}); }
};
window.AudioContext = class {
  constructor() { this.state = "running"; this.currentTime = 0; this.destination = {}; }
  resume() { return Promise.resolve(); }
  createGain() {
    const param = {setValueAtTime() {}, exponentialRampToValueAtTime() {}};
    return {gain: param, connect() {}};
  }
  createOscillator() {
    return {frequency: {setValueAtTime() {}}, connect() {},
            start() { window.tonesPlayed += 1; }, stop() {}};
  }
};
"""


def test_owner_hears_and_sees_new_waiting_guests_when_chosen(app, page, new_context, owner):
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    first = guest_enters(new_context, link_path(app, link), "Early", "early@example.com")
    expect(first.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()

    # The browser's notification and audio APIs, recorded instead of reaching the machine: a real
    # notification goes to the desktop's notification service (D-Bus), which a headless Chromium
    # in CI doesn't have — it wedged the browser there. Set up before the page's own script runs.
    page.context.add_init_script(FAKE_NOTIFICATIONS_AND_AUDIO)
    sign_in(page)
    page.goto(f"/rooms/{room.id}/live")
    alerts = page.locator("#waiting-alerts")
    expect(alerts).to_be_visible()
    page.get_by_label("Play a sound").check()
    page.get_by_label("Show a browser notification").check()
    expect(page.get_by_label("Show a browser notification")).to_be_checked()
    expect(page.locator("#alert-status")).to_have_text(
        "A notification shows when someone starts waiting.")
    # Remembered in this browser.
    page.reload()
    expect(page.get_by_label("Play a sound")).to_be_checked()
    expect(page.get_by_label("Show a browser notification")).to_be_checked()
    expect(page.locator("#waiting-room")).to_contain_text("Early")
    expect(alerts).not_to_have_attribute("data-sounds", re.compile(".*"))  # none for Early

    guest_enters(new_context, link_path(app, link), "Newcomer", "new@example.com")
    expect(page.locator("#waiting-room")).to_contain_text("Newcomer")
    expect(alerts).to_have_attribute("data-sounds", "1")
    expect(alerts).to_have_attribute("data-notifications", "1")
    expect(page).to_have_title(re.compile(r"^\(2 waiting\) Approval"))
    shown = page.evaluate("window.shownNotifications")
    assert [n["body"] for n in shown] == ["Someone started waiting to be admitted."], shown
    assert page.evaluate("window.tonesPlayed") == 1


def test_queue_position_updates_on_the_waiting_page(app, page, new_context, owner):
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    guest_enters(new_context, link_path(app, link), "First", "first@example.com")
    second = guest_enters(new_context, link_path(app, link), "Second", "second@example.com")
    expect(second.locator("#queue-position")).to_have_text("You're 2nd in line.")
    sign_in(page)
    page.goto(f"/rooms/{room.id}/live")
    page.locator("#waiting-room").get_by_role("button", name="Admit First").click()
    expect(second.locator("#queue-position")).to_have_text("You're next in line.")


def test_remove_and_move_without_javascript(app, new_context, room, link):
    guest = guest_enters(new_context, link_path(app, link), "Nora", "nora@example.com", **NO_JS)
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    owner = new_context(**NO_JS).new_page()
    section = owner_room_page(owner, room)
    section.get_by_role("button", name="Move to waiting room Nora").click()
    expect(owner.get_by_text("Nora was moved to the waiting room.")).to_be_visible()
    assert owner.url.endswith(f"/rooms/{room.id}/live#in-the-room")
    guest.reload()
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    owner.locator("#waiting-room").get_by_role("button", name="Admit Nora").click()
    guest.reload()
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    # Without JavaScript the role is sent with its button, and the answer is the Live view.
    owner.locator("#in-the-room").get_by_label("Role of Nora").select_option("speaker")
    owner.locator("#in-the-room").get_by_role("button", name="Change role Nora").click()
    expect(owner.get_by_text("Nora is now: speaker.")).to_be_visible()
    assert owner.url.endswith(f"/rooms/{room.id}/live#in-the-room")
    guest.reload()
    expect(guest.get_by_role("heading", name="Your role: Speaker")).to_be_visible()

    owner.locator("#in-the-room").get_by_role("button", name="Remove Nora").click()
    expect(owner.get_by_text("Nora was removed from the session.")).to_be_visible()
    guest.reload()
    expect(guest.get_by_role("heading", name="You were removed from this session")).to_be_visible()
    assert Participant.get(Participant.email == "nora@example.com").removed_at is not None
    owner.locator("#in-the-room").get_by_role("button", name="Allow again Nora").click()
    expect(owner.get_by_text("Nora can enter again.")).to_be_visible()


def test_owner_changes_the_role_moves_and_removes_with_the_keyboard(
        app, page, new_context, room, link):
    from test_keyboard import tab_to, wait_for_htmx

    guest = guest_enters(new_context, link_path(app, link), "Ada", "ada@example.com")
    expect(guest.get_by_role("heading", name="Your role: Viewer")).to_be_visible()
    me = Participant.get(Participant.email == "ada@example.com")
    owner_room_page(page, room)
    wait_for_htmx(page)

    tab_to(page, lambda info: info["id"] == f"role-{me.id}", "role of Ada")
    page.keyboard.press("ArrowDown")  # viewer → speaker, applied as it is chosen
    expect(page.locator("#in-the-room [role=status]")).to_have_text("Ada is now: speaker.")
    expect(page.locator(f"#role-{me.id}")).to_be_focused()  # the control used, still there
    expect(guest.get_by_role("heading", name="Your role: Speaker")).to_be_visible()

    tab_to(page, lambda info: info["id"] == f"move-{me.id}", "Move to waiting room")
    page.keyboard.press("Enter")
    expect(guest.get_by_role("heading", name="Waiting to be admitted")).to_be_visible()
    tab_to(page, lambda info: info["id"] == f"admit-{me.id}", "Admit", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(guest.get_by_role("heading", name="Your role: Speaker")).to_be_visible()

    expect(page.locator(f"#remove-{me.id}")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, lambda info: info["id"] == f"remove-{me.id}", "Remove")
    page.keyboard.press("Space")
    expect(guest.get_by_role("heading", name="You were removed from this session")).to_be_visible()
