"""The guest's session cookie: polls don't re-sign it, an hour-old one is renewed, and a key
rotation (OLD_SECRET_KEYS) keeps guests in their rooms."""

import time

import pytest
from invite_helpers import make_room
from itsdangerous import TimestampSigner

from portal import create_app, tokens
from portal.models import GuestLink, Participant


@pytest.fixture
def room(db, owner):
    return make_room(owner, require_approval=True, guest_access_enabled=True)


def _enter(app, room, email="ada@example.com"):
    link = GuestLink.create(room=room, name="Customers")
    guest = app.test_client()
    path = "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id,
                                     link.version)
    assert guest.post(path, data={"name": "Ada", "email": email}).status_code == 303
    return guest


def _poll(guest, room):
    return guest.get(f"/s/{room.id}/status?state=waiting")


def test_a_poll_answers_without_a_new_cookie(app, room):
    guest = _enter(app, room)
    response = _poll(guest, room)
    assert response.status_code == 204
    assert "Set-Cookie" not in response.headers
    assert "Cookie" in response.headers.get("Vary", "")


def test_a_session_signed_over_an_hour_ago_is_signed_again(app, room, monkeypatch):
    hour_ago = int(time.time()) - 3601
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: hour_ago)
        guest = _enter(app, room)
    response = _poll(guest, room)
    assert response.status_code == 204  # still the same guest, still waiting
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Expires=" in cookie
    assert "Set-Cookie" not in _poll(guest, room).headers  # fresh again


def test_a_session_older_than_its_lifetime_has_ended(app, room, monkeypatch):
    long_ago = int(time.time()) - app.config["PERMANENT_SESSION_LIFETIME"] - 60
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: long_ago)
        guest = _enter(app, room)
    assert _poll(guest, room).get_data(as_text=True) == "gone"


def test_rotating_the_key_keeps_guests_in_their_rooms(app, config, room, db):
    guest = _enter(app, room)
    assert _poll(guest, room).status_code == 204
    rotated = create_app({**config, "SECRET_KEY": "a-brand-new-key",
                          "SECRET_KEYS": ["a-brand-new-key", config["SECRET_KEY"]]})
    survivor = rotated.test_client()
    survivor.set_cookie("session", guest.get_cookie("session").value)
    response = survivor.get(f"/s/{room.id}/status?state=waiting")
    assert response.status_code == 204, response.get_data(as_text=True)

    # Without the old key the cookie means nothing: the guest is simply not inside.
    dropped = create_app({**config, "SECRET_KEY": "a-brand-new-key",
                          "SECRET_KEYS": ["a-brand-new-key"]})
    stranger = dropped.test_client()
    stranger.set_cookie("session", guest.get_cookie("session").value)
    assert stranger.get(f"/s/{room.id}/status?state=waiting").get_data(as_text=True) == "gone"
    assert Participant.select().count() == 1
