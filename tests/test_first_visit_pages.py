"""The lobby a whole audience opens at once is rendered once per address and language for
visitors who bring no cookie: each still gets a CSRF token of their own, and a change the page
shows (the room's title, its start) shows at once."""

import re
from datetime import timedelta

import pytest
from helpers import invitation_path, link_path

from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def lobby(app, db, owner):
    now = utcnow()
    room = Room.create(owner=owner, title="Town hall", guest_access_enabled=True,
                       starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2))
    link = GuestLink.create(room=room, name="Everyone")
    return room, link_path(app, link)




def test_first_visitors_share_the_page_but_not_the_csrf_token(app, lobby, renders):
    app.config["WTF_CSRF_ENABLED"] = True
    room, path = lobby
    pages, browsers = [], []
    for _ in range(3):
        browser = app.test_client()
        response = browser.get(path)
        assert response.status_code == 200 and "Town hall" in response.get_data(as_text=True)
        pages.append(response.get_data(as_text=True))
        browsers.append(browser)
    assert renders == ["guest/lobby.html"]  # rendered for the first visitor only
    csrf = [TOKEN.search(page).group(1) for page in pages]
    assert len(set(csrf)) == 3
    # in the form and in the htmx header
    assert all(page.count(token) == 2 for page, token in zip(pages, csrf, strict=True))
    assert pages[1].replace(csrf[1], "T") == pages[2].replace(csrf[2], "T")
    # Each visitor's own token works with their own session, in any order.
    for i in (2, 0, 1):
        answer = browsers[i].post(path, data={"csrf_token": csrf[i], "name": f"Guest {i}",
                                              "email": f"guest{i}@example.com"})
        assert answer.status_code == 303, answer.get_data(as_text=True)
    assert Participant.select().count() == 3
    # Someone else's token is refused.
    stranger = app.test_client()
    stranger.get(path)
    assert stranger.post(path, data={"csrf_token": csrf[0], "name": "X",
                                     "email": "x@example.com"}).status_code == 400


def test_what_the_page_shows_is_never_stale(app, lobby):
    room, path = lobby
    assert "Town hall" in app.test_client().get(path).get_data(as_text=True)
    Room.update(title="Town hall (moved)").where(Room.id == room.id).execute()
    assert "Town hall (moved)" in app.test_client().get(path).get_data(as_text=True)
    german = app.test_client().get(path, headers={"Accept-Language": "de"})
    assert "Kein Konto nötig" in german.get_data(as_text=True)
    assert "No account needed" in app.test_client().get(path).get_data(as_text=True)
    # The access decision is still made every time: a disabled link turns the next visitor away.
    Room.update(guest_access_enabled=False).where(Room.id == room.id).execute()
    assert app.test_client().get(path).status_code == 403


def test_a_returning_browser_gets_its_own_rendering(app, lobby, renders):
    _room, path = lobby
    browser = app.test_client()
    browser.get(path)  # now it has a session cookie
    browser.get(path)
    assert renders == ["guest/lobby.html", "guest/lobby.html"]


def test_an_invitations_lobby_shows_the_email_field_as_the_room_asks_now(app, db, owner):
    """The kept page's key is the template's context itself: a room setting that changes the
    form (asking the invited email or not) shows to the next visitor at once."""
    from portal.models import Invitation, User

    now = utcnow()
    room = Room.create(owner=owner, title="Board", starts_at=now + timedelta(hours=1),
                       ends_at=now + timedelta(hours=2), require_email_match=True)
    invited = User.create(email="ada@example.com", password_hash="x")
    invitation = Invitation.create(room=room, user=invited, email=invited.email)
    path = invitation_path(app, invitation)
    assert 'name="email"' in app.test_client().get(path).get_data(as_text=True)
    Room.update(require_email_match=False).where(Room.id == room.id).execute()
    assert 'name="email"' not in app.test_client().get(path).get_data(as_text=True)
