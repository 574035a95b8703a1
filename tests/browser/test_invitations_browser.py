"""In a real Chromium: the owner invites two guests without sending, copies one link, resets it;
the old link shows the denial page; the new one leads through the lobby (wrong email, then the
right one) into the room."""

from helpers import make_room, sign_in_in_browser
from playwright.sync_api import expect

from portal.db import database
from portal.models import Invitation


def test_invite_copy_reset_and_join(page, new_context, live_server, owner):
    room = make_room(owner, title="Launch party")
    sign_in_in_browser(page, "owner@example.com")

    page.goto(f"/rooms/{room.id}/access")
    page.get_by_label("Email addresses").fill("ada@example.com\ngrace@example.com")
    assert not page.get_by_label("Send each guest a secure link now").is_checked()
    page.get_by_role("button", name="Add guests").click()
    status = page.locator("#invitations-status")
    status.get_by_text("Added 2 guests as viewer.").wait_for()
    # Said out loud by the page's live region; focus stays in the redrawn section.
    expect(page.locator("#live-announcer")).to_contain_text("Added 2 guests as viewer.")
    expect(status).to_be_focused()
    assert page.locator("[data-email-status=not_sent]").count() == 2

    with database.connection_context():
        ada = Invitation.get(Invitation.email == "ada@example.com")
    field = page.locator(f"#invite-link-{ada.id}")
    old_link = field.input_value()
    assert old_link.startswith(live_server.url + "/i/")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator(f"[data-copy-target=invite-link-{ada.id}]").click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == old_link

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Reset guest link of ada@example.com").click()
    status.get_by_text("the old link no longer works").wait_for()
    new_link = page.locator(f"#invite-link-{ada.id}").input_value()
    assert new_link != old_link

    guest = new_context().new_page()
    guest.goto(old_link)
    assert guest.get_by_role("heading", name="This invitation is no longer valid").is_visible()

    guest.goto(new_link)
    guest.get_by_label("Your name").fill("Ada")
    guest.get_by_label("Email").fill("eve@example.com")
    guest.get_by_role("button", name="Login").click()
    assert guest.get_by_text("Use the email address that received the invitation").first \
        .is_visible()
    assert "ada@example.com" not in guest.content()
    guest.get_by_label("Email").fill("ada@example.com")
    guest.get_by_role("button", name="Login").click()
    guest.wait_for_url(f"**/s/{room.id}")
    assert guest.get_by_role("heading", name="Launch party").is_visible()
