"""The door in a real Chromium: a guest enters by a shared link and clicks "Join the live
session", the owner clicks "Join as host" — each browser lands in the BigBlueButton client with
its own session, as a viewer and as a moderator (a BBB API server that checks every checksum:
tests/bbb_server.py). When the platform is down, the page says so in words."""

import re
from datetime import timedelta

import pytest
from helpers import sign_in_in_browser
from playwright.sync_api import expect

from portal import tokens
from portal.db import database
from portal.models import GuestLink, Room
from portal.timeutil import utcnow


@pytest.fixture
def config(config, bbb_settings):
    return {**config, **bbb_settings, "MEETING_TIMEOUT": 2}


@pytest.fixture
def link_path(app, owner):
    now = utcnow()
    with database.connection_context():
        room = Room.create(owner=owner, title="Launch", guest_access_enabled=True,
                           platform="bigbluebutton", meeting_name="launch-1",
                           starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
        link = GuestLink.create(room=room, name="Guests")
    return room, "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)


def test_guest_and_host_land_in_the_meeting_with_their_roles(page, new_context, owner, bbb,
                                                             link_path):
    room, path = link_path
    guest = new_context().new_page()
    guest.goto(path)
    guest.get_by_label("Your name").fill("Ada Guest")
    guest.get_by_label("Email").fill("ada@example.com")
    guest.get_by_role("button", name="Join").click()
    guest.get_by_role("link", name="Join the live session").click()
    expect(guest).to_have_url(re.compile(re.escape(bbb.base_url) + r"/html5client/join\?"))
    assert bbb.joins[-1]["fullName"] == "Ada Guest" and bbb.joins[-1]["role"] == "VIEWER"

    sign_in_in_browser(page, owner.email)
    page.goto(f"/rooms/{room.id}")
    page.get_by_role("link", name="Join as host").click()
    expect(page).to_have_url(re.compile(re.escape(bbb.base_url) + r"/html5client/join\?"))
    assert bbb.joins[-1]["role"] == "MODERATOR"
    assert bbb.meetings["launch-1"]["name"] == "Launch" and len(bbb.meetings) == 1


def test_a_platform_that_is_down_is_said_in_words(page, bbb, link_path):
    _room, path = link_path
    page.goto(path)
    page.get_by_label("Your name").fill("Ada Guest")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Join").click()
    bbb.mode = "fail"
    page.get_by_role("link", name="Join the live session").click()
    expect(page.get_by_role("heading", name="The live session can't be reached right now")) \
        .to_be_visible()
    bbb.mode = "ok"
    page.get_by_role("link", name="Join again").click()
    expect(page).to_have_url(re.compile(re.escape(bbb.base_url) + r"/html5client/join\?"))
