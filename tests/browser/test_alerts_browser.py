"""The Alerts screen in a real Chromium: the service worker registers from the site's root,
"Notify this browser when someone waits" asks for permission and says what came of it, the
subscribed browsers are listed and removable, preferences save, and axe finds nothing serious.

What can't be done here: Chromium's own subscribe step needs its vendor's push service, which
this machine can't reach, so the button's last step ends in the page's clear "couldn't
subscribe" message. What the server does with a subscription (encrypt, sign, send, forget a gone
one) is tests/test_web_push.py's, through a stand-in push service."""

import re

import pytest
from a11y import assert_accessible
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import PushSubscription

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def config(config, tmp_path):
    return {**config, "VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem")}


def test_the_button_asks_and_says_what_came_of_it(owner, new_context):
    page = new_context(permissions=["notifications"]).new_page()
    sign_in(page)
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
    status = page.locator("#push-status")
    expect(status).to_have_text("This browser isn't notified yet.")
    scope = page.evaluate("navigator.serviceWorker.getRegistration().then(r => r && r.scope)")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", scope)

    page.get_by_role("button", name="Notify this browser when someone waits").click()
    # The push service is out of reach here: the page says so instead of failing silently.
    expect(status).to_contain_text("couldn't subscribe to notifications", timeout=20_000)
    button = page.get_by_role("button", name="Notify this browser when someone waits")
    expect(button).to_be_enabled()


def test_blocked_notifications_are_explained(owner, new_context):
    context = new_context()
    page = context.new_page()
    sign_in(page)
    page.goto("/account/alerts")
    page.evaluate("Notification.requestPermission = () => Promise.resolve('denied')")
    page.get_by_role("button", name="Notify this browser when someone waits").click()
    expect(page.locator("#push-status")).to_contain_text("Notifications are blocked for this site")


def test_browsers_listed_removed_and_preferences_saved(owner, page):
    PushSubscription.create(user=owner, endpoint="https://push.example.net/send/abc",
                            p256dh="x" * 87, auth="y" * 22, label="Firefox on Linux")
    sign_in(page)
    page.goto("/account/alerts")
    row = page.locator("#browsers tbody tr").first
    expect(row).to_contain_text("Firefox on Linux")
    expect(row).to_contain_text("Not yet")
    page.get_by_role("button", name="Remove Firefox on Linux").click()
    expect(page.get_by_text("That browser is no longer notified.")).to_be_visible()
    expect(page.locator("#browsers")).to_contain_text("No browser is notified yet.")
    assert PushSubscription.select().count() == 0

    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Enter both times of the quiet hours, or neither.")).to_be_visible()
    assert_accessible(page, "alerts with an error")
    page.get_by_label("Quiet until").fill("07:00")
    page.get_by_label("Email me").uncheck()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your alert settings are saved.")).to_be_visible()
    expect(page.get_by_label("Email me")).not_to_be_checked()
    expect(page.get_by_label("Quiet until")).to_have_value("07:00")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_alerts_screen_is_accessible(owner, new_context, size):
    PushSubscription.create(user=owner, endpoint="https://push.example.net/send/abc",
                            p256dh="x" * 87, auth="y" * 22, label="Firefox on Linux",
                            last_error="503 busy")
    page = new_context(**size).new_page()
    sign_in(page)
    page.goto("/account/alerts")
    expect(page.locator("#push-status")).not_to_have_text(re.compile("needs JavaScript"))
    assert_accessible(page, "alerts")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
