"""The room page's views in Chromium: switched in place with htmx (the address, the browser's
Back, aria-current and focus follow), or page by page without JavaScript; the nav's counts
update by themselves; and the Live view fits a phone: 3 waiting and 2 inside in under 2,000 CSS
px, one card a person with every action within the screen's width."""

import re
from datetime import timedelta

import pytest
from helpers import make_room
from helpers import sign_in_in_browser as sign_in
from playwright.sync_api import expect

from portal.models import GuestLink, Participant
from portal.timeutil import utcnow

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}


@pytest.fixture
def room(app, owner):
    room = make_room(owner, title="Quarterly round-table", guest_access_enabled=True,
                     require_approval=True, join_url="https://meet.example.com/r/q",
                     host_message="We start 10 minutes late.")
    link = GuestLink.create(room=room, name="Customers")
    now = utcnow()
    for i, (name, email) in enumerate([("Grace Guest", "grace.guest@example.com"),
                                       ("Linus Waiting", "linus.waiting@example.org"),
                                       ("Margaret Hamilton-Smythe",
                                        "margaret.hamilton-smythe@example.co.uk")]):
        Participant.create(room=room, link=link, name=name, email=email, status="waiting",
                           device=f"waiting-{i}", created_at=now - timedelta(minutes=3 - i))
    for i, (name, email) in enumerate([("Inés Inside", "ines@example.org"),
                                       ("Ada Lovelace", "ada.lovelace@example.com")]):
        Participant.create(room=room, link=link, name=name, email=email, status="admitted",
                           device=f"inside-{i}", decided_at=now - timedelta(minutes=1))
    return room


def nav(page):
    return page.get_by_role("navigation", name="Room views")


def test_views_switch_in_place_with_history(page, room):
    sign_in(page)
    page.goto(f"/rooms/{room.id}")
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/live$"))  # the session runs
    expect(nav(page).get_by_role("link", name="Live · 3 waiting")).to_have_attribute(
        "aria-current", "page")
    expect(page.locator("#waiting-room")).to_contain_text("Grace Guest")
    page.evaluate("window.sameDocument = true")

    nav(page).get_by_role("link", name="Access").click()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/access$"))
    expect(page.locator("#guest-access")).to_be_visible()
    expect(page.locator("#waiting-room")).to_have_count(0)  # the other views are gone
    expect(nav(page).get_by_role("link", name="Access")).to_have_attribute(
        "aria-current", "page")
    expect(page.locator("[aria-current=page]")).to_have_count(1)
    expect(nav(page).get_by_role("link", name="Access")).to_be_focused()

    nav(page).get_by_role("link", name="Details").click()
    expect(page.get_by_role("button", name="Delete room")).to_be_visible()
    nav(page).get_by_role("link", name="Insights").click()
    expect(page.locator("#denials")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True  # no page load on the way

    page.go_back()
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/details$"))
    expect(page.get_by_role("button", name="Delete room")).to_be_visible()
    expect(nav(page).get_by_role("link", name="Details")).to_have_attribute(
        "aria-current", "page")
    page.reload()
    expect(page.get_by_role("button", name="Delete room")).to_be_visible()


def test_views_are_pages_of_their_own_without_javascript(new_context, room):
    page = new_context(java_script_enabled=False).new_page()
    sign_in(page)
    page.goto(f"/rooms/{room.id}")
    expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/live$"))
    for view, shows in (("Access", "#guest-access"), ("Insights", "#denials"),
                        ("Details", "#attachments"), ("Live", "#waiting-room")):
        nav(page).get_by_role("link", name=re.compile(f"^{view}")).click()
        expect(page).to_have_url(re.compile(rf"/rooms/{room.id}/{view.lower()}$"))
        expect(page.locator(shows)).to_be_visible()
        expect(page.locator("[aria-current=page]")).to_have_text(re.compile(f"^{view}"))


def test_the_nav_counts_update_by_themselves_on_any_view(page, room):
    sign_in(page)
    page.goto(f"/rooms/{room.id}/details")
    live = nav(page).get_by_role("link", name=re.compile("^Live"))
    expect(live).to_have_text("Live · 3 waiting")
    Participant.update(status="admitted").where(Participant.name == "Grace Guest").execute()
    expect(live).to_have_text("Live · 2 waiting")
    expect(page.locator("#live-announcer")).to_have_text("Live: 2 waiting.")
    expect(page).to_have_title(re.compile(r"^\(2 waiting\) Quarterly round-table"))


def test_the_live_view_fits_a_phone(new_context, room):
    page = new_context(**PHONE).new_page()
    sign_in(page)
    page.goto(f"/rooms/{room.id}/live")
    expect(page.locator("#waiting-room tbody tr")).to_have_count(3)
    expect(page.locator("#in-the-room tbody tr")).to_have_count(2)
    expect(page.locator("#waiting-alerts")).to_be_visible()  # what JavaScript adds, counted
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2000, f"the Live view is {height} CSS px tall at 360 px"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # One card a person: every action within the screen, none overflowing its card.
    for row in page.locator("#waiting-room tbody tr, #in-the-room tbody tr").all():
        card = row.bounding_box()
        for control in row.locator("button:visible, select").all():
            box = control.bounding_box()
            assert box["x"] >= card["x"] and box["x"] + box["width"] <= card["x"] + \
                card["width"] + 0.5, control.inner_text()
            assert box["height"] >= 44


def test_the_live_view_reads_one_line_a_person_at_desktop_width(new_context, room):
    page = new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_in(page)
    page.goto(f"/rooms/{room.id}/live")
    expect(page.locator("#in-the-room tbody tr")).to_have_count(2)
    # Each cell's text on one line: no email broken, no name or door wrapped.
    wrapped = page.evaluate("""() => [...document.querySelectorAll(
        '#waiting-room tbody td:not(.actions), #in-the-room tbody td:not(.actions):not(.role)')]
        .filter(td => { const r = document.createRange(); r.selectNodeContents(td);
                        return r.getBoundingClientRect().height >
                               1.5 * parseFloat(getComputedStyle(td).lineHeight); })
        .map(td => td.innerText)""")
    assert wrapped == [], wrapped
    # The actions side by side: each row's controls share one line.
    for row in page.locator("#waiting-room tbody tr, #in-the-room tbody tr").all():
        tops = {round(c.bounding_box()["y"]) for c in row.locator("button, select").all()}
        assert len(tops) == 1, row.inner_text()
