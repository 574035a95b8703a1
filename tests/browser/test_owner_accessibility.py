"""Every owner and admin screen passes axe-core with no serious or critical violation, at desktop
width and on a 360 px phone, where no screen scrolls sideways (tables stack). Form errors are
tied to their fields and focus lands on the first one."""

import re

import pytest
from a11y import assert_accessible
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect
from scenes import ADMIN, GUEST, seed

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


@pytest.fixture
def scene(app):
    return seed(app)




def owner_screens(page, scene):
    """Visit every owner screen; yields a label once each is shown."""
    room = scene["room"]
    page.goto("/sign-in")
    yield "sign in"
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".error-summary")).to_be_visible()
    yield "sign in with errors"
    page.goto("/forgot-password")
    yield "forgot password"
    page.get_by_role("button", name="Email me a link").click()
    expect(page.locator(".error-summary")).to_be_visible()
    yield "forgot password with errors"
    sign_in(page, ADMIN)
    yield "rooms list"
    page.goto("/rooms/new")
    yield "new room"
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Create room").click()
    expect(page.locator(".error-summary")).to_be_visible()
    yield "new room with errors"
    page.goto(f"/rooms/{room.id}/edit")
    yield "edit room"
    page.goto(f"/rooms/{room.id}")
    expect(page.locator("#waiting-room")).to_contain_text("Linus Waiting")
    expect(page.locator("#in-the-room")).to_contain_text("Inés Inside")
    expect(page.locator("#in-the-room")).to_contain_text("Rex Removed")
    yield "room: Live"
    for view, section in (("Access", "#registrants"), ("Insights", "#attendance"),
                          ("Details", "#attachments")):
        page.get_by_role("navigation", name="Room views").get_by_role(
            "link", name=re.compile(f"^{view}")).click()
        expect(page.locator(section)).to_be_visible()
        yield f"room: {view}"
        if view == "Access":
            # Registration's folded parts, open: every form of the section is checked too.
            for summary in page.locator("#registration details.part > summary").all():
                summary.click()
            expect(page.locator("#registration-reminders")).to_be_visible()
            yield "room: Access, registration's parts open"
    page.goto(f"/rooms/{room.id}/audit")
    yield "room audit log"
    page.goto("/api-tokens")
    yield "API tokens"
    page.goto("/webhooks/")
    yield "webhooks"
    page.goto("/admin/users")
    yield "admin users"
    page.get_by_role("button", name="Add user").click()
    expect(page.locator(".error-summary")).to_be_visible()
    yield "admin users with errors"
    page.goto("/admin/domains")
    page.get_by_label("Domain", exact=True).fill("example.org")
    page.get_by_role("button", name="Add rule").click()
    expect(page.locator("tr[data-domain='example.org']")).to_be_visible()
    yield "admin domain rules"
    page.goto("/admin/audit")
    yield "admin audit log"


def no_sideways_scroll(page, label, width=360):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{label}: page is {scroll}px wide at {width}px; widest: " + str(
        page.evaluate(f"""() => [...document.querySelectorAll('main *')]
            .filter(e => e.getBoundingClientRect().right > {width})
            .slice(-3).map(e => e.outerHTML.slice(0, 80))"""))


def tap_targets_fit_a_finger(page, label):
    """As on the guest pages: every control shown is at least 44 px tall at 360 px (a check
    box's is its label's, which toggles it)."""
    small = page.evaluate("""() => [...document.querySelectorAll(
        'main a.button, main button, main input:not([type=hidden]), main select, main textarea,'
        + ' .room-views a')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.outerHTML.slice(0, 60),
                   (e.closest('label.check') || e).getBoundingClientRect().height])
        .filter(([, h]) => h < 44)""")
    assert small == [], f"{label}: tap targets under 44px: {small}"


@pytest.mark.parametrize("size", SIZES)
def test_owner_screens_pass_axe(new_context, scene, size):
    page = new_context(**SIZES[size]).new_page()
    for label in owner_screens(page, scene):
        assert_accessible(page, f"{label} [{size}]")
        if size == "phone":
            no_sideways_scroll(page, label)
            tap_targets_fit_a_finger(page, label)
        if label == "room: Live" and size == "phone":
            # The stacked waiting table still says which column each value is.
            cell = page.locator("#waiting-room tbody tr").first.locator("td").nth(2)
            expect(cell).to_have_attribute("data-label", "Link")
            cell = page.locator("#in-the-room tbody tr").first.locator("td").nth(3)
            expect(cell).to_have_attribute("data-label", "Came in by")


@pytest.mark.parametrize("size", SIZES)
def test_my_sessions_passes_axe(new_context, scene, size):
    page = new_context(**SIZES[size]).new_page()
    sign_in(page, GUEST)
    expect(page.get_by_role("heading", name="My sessions")).to_be_visible()
    assert_accessible(page, f"my sessions [{size}]")
    if size == "phone":
        no_sideways_scroll(page, "my sessions")


def test_form_errors_are_tied_to_fields_and_focused(page, scene):
    sign_in(page, ADMIN)
    page.goto("/rooms/new")
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Create room").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct the highlighted field")
    title = page.get_by_label("Title")
    expect(title).to_be_focused()
    expect(title).to_have_attribute("aria-invalid", "true")
    described = title.get_attribute("aria-describedby").split()
    error_text = " ".join(page.locator(f"#{i}").inner_text() for i in described)
    assert "title" in error_text.lower() or "enter" in error_text.lower(), error_text
    assert page.locator(f"#{described[-1]}").get_attribute("class") == "error"

    # An error from the server without a field (wrong password): the alert itself gets focus.
    page.context.clear_cookies()
    page.goto("/sign-in")
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_focused()


def test_htmx_answers_are_announced(page, scene):
    """Every fragment an owner control swaps in says what happened in a live region."""
    sign_in(page, ADMIN)
    room = scene["room"]
    page.goto(f"/rooms/{room.id}")
    page.get_by_role("button", name="Admit Linus Waiting").click()
    expect(page.locator("#waiting-room [role=status]")).to_have_text("Linus Waiting was admitted.")
    page.get_by_role("button", name="Save message").click()
    expect(page.locator("#host-message [role=status]")).to_be_visible()
    page.get_by_role("link", name="Access").click()
    page.get_by_role("switch", name="Enable guest access").click()
    expect(page.locator("#guest-access [role=status]")).to_contain_text("Guest access is off")
    assert page.locator("#invitations-status[role=status]").count() == 1
