"""An owner in a real Chromium, with the real forms (CSRF on): sign in as the demo owner, create a
room, edit it, delete it, sign out. A wrong password shows the error and grants nothing."""

import json
import re

import pytest
from helpers import PASSWORD
from playwright.sync_api import expect
from scenes import ADMIN, seed


@pytest.fixture
def demo(app, live_server):
    """`flask seed-demo --json` against the served database: the details `make run` prints."""
    result = app.test_cli_runner().invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def sign_in(page, email, password):
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_owner_creates_edits_and_deletes_a_room_then_signs_out(page, demo):
    sign_in(page, demo["owner"]["email"], demo["owner"]["password"])
    expect(page).to_have_url(re.compile(r"/rooms/$"))
    expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    for room in demo["rooms"]:
        expect(page.get_by_role("link", name=room["title"])).to_be_visible()

    # create
    page.get_by_role("link", name="New room").click()
    page.get_by_label("Title").fill("Browser-made room")
    page.get_by_label("Description").fill("First line\nSecond line")
    page.get_by_label("Speakers (one per line)").fill("Ada Lovelace\nGrace Hopper")
    page.get_by_label("Starts").fill("2031-01-15T10:00")
    page.get_by_label("Ends").fill("2031-01-15T11:00")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Guests wait to be admitted").check()
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name="Browser-made room", level=1)).to_be_visible()
    expect(page.get_by_text("Room “Browser-made room” created.")).to_be_visible()
    # A room for later opens on Access (share it); its settings are under Details.
    expect(page).to_have_url(re.compile(r"/rooms/\d+/access$"))
    page.get_by_role("link", name="Details").click()
    expect(page.get_by_text("Ada Lovelace, Grace Hopper")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/rooms/\d+/details$"))
    room_url = page.url

    # edit
    page.get_by_role("link", name="Edit room").click()
    expect(page.get_by_label("Title")).to_have_value("Browser-made room")
    page.get_by_label("Title").fill("Browser-edited room")
    page.get_by_role("button", name="Save room").click()
    expect(page).to_have_url(room_url)
    expect(page.get_by_role("heading", name="Browser-edited room", level=1)).to_be_visible()
    expect(page.get_by_text("Room saved.")).to_be_visible()

    # delete, confirming the browser's dialog
    page.wait_for_load_state("load")  # htmx (deferred) asks for the confirmation
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete room").click()
    expect(page).to_have_url(re.compile(r"/rooms/$"))
    expect(page.get_by_text("Room “Browser-edited room” deleted.", exact=False)).to_be_visible()
    expect(page.get_by_role("link", name="Browser-edited room")).to_have_count(0)
    assert asked and asked[0].startswith("Delete “Browser-edited room”?")
    assert page.goto(room_url).status == 404

    # sign out
    page.goto("/rooms/")
    page.get_by_role("button", name=re.compile("Sign out")).click()
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_text("You're signed out.")).to_be_visible()
    page.goto("/rooms/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))


def test_dismissing_the_confirmation_keeps_the_room(page, demo):
    sign_in(page, demo["owner"]["email"], demo["owner"]["password"])
    page.get_by_role("link", name=demo["rooms"][0]["title"]).click()
    expect(page.get_by_role("heading", name=demo["rooms"][0]["title"], level=1)).to_be_visible()
    page.get_by_role("link", name="Details").click()
    page.wait_for_load_state("load")  # htmx (deferred) asks for the confirmation
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete room").click()
    expect(page.get_by_role("heading", name=demo["rooms"][0]["title"], level=1)).to_be_visible()
    page.goto("/rooms/")
    expect(page.get_by_role("link", name=demo["rooms"][0]["title"])).to_be_visible()


def test_plain_forms_that_remove_something_ask_first(app, page):
    """Remove an attachment, a domain rule: plain forms that htmx boosts to ask (hx-confirm);
    the answer is the page they redirect to, at its own address."""
    scene = seed(app)
    sign_in(page, ADMIN, PASSWORD)
    page.goto(f"/rooms/{scene['room'].id}/details")
    page.wait_for_load_state("load")
    remove = page.locator("#attachments").get_by_role("button", name="Remove Agenda.pdf")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    remove.click()
    expect(page.locator("#attachments")).to_contain_text("Agenda.pdf")
    assert asked == ["Remove “Agenda.pdf”?"]
    page.once("dialog", lambda dialog: dialog.accept())
    remove.click()
    expect(page.locator(".flashes")).to_be_visible()
    expect(page.locator("#attachments")).not_to_contain_text("Agenda.pdf")
    expect(page).to_have_url(re.compile(rf"/rooms/{scene['room'].id}/details$"))

    page.goto("/admin/domains")
    page.get_by_label("Domain", exact=True).fill("example.org")
    page.get_by_role("button", name="Add rule").click()
    rule = page.locator("tr[data-domain='example.org']")
    page.once("dialog", lambda dialog: dialog.accept())
    rule.get_by_role("button", name="Remove example.org").click()
    expect(rule).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/admin/domains$"))


def test_wrong_password_shows_the_error_and_grants_no_access(page, demo):
    sign_in(page, demo["owner"]["email"], "not the password at all")
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password don't match an account.")
    expect(page.get_by_label("Email")).to_have_value(demo["owner"]["email"])
    page.goto("/rooms/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next="))
    expect(page.get_by_role("link", name=demo["rooms"][0]["title"])).to_have_count(0)


def test_the_pages_fit_a_360px_phone(page, demo):
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, demo["owner"]["email"], demo["owner"]["password"])
    for url in ("/rooms/", "/rooms/new", demo["rooms"][0]["url"]):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 360, f"{url} scrolls sideways ({overflow}px)"
