"""The guest's session cookie: polls don't re-sign it, an hour-old one is renewed, a key
rotation (OLD_SECRET_KEYS) keeps guests in their rooms but signs owners out, a forged or
outlived cookie opens nothing, and no request can change what the next one opens."""

import time

import flask
import pytest
from helpers import GuestActions, OwnerActions, link_path, make_room, make_user
from itsdangerous import TimestampSigner

from portal import create_app
from portal.models import GuestLink, Participant


@pytest.fixture
def room(db, owner):
    return make_room(owner, require_approval=True, guest_access_enabled=True)


def _enter(app, room, email="ada@example.com"):
    link = GuestLink.create(room=room, name="Customers")
    guest = GuestActions(app)
    assert guest.enter(link_path(app, link), "Ada", email).status_code == 303
    return guest


def _poll(guest, room):
    return guest.get(f"/s/{room.id}/status?state=waiting&place=1&every=5")


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
    response = survivor.get(f"/s/{room.id}/status?state=waiting&place=1&every=5")
    assert response.status_code == 204, response.get_data(as_text=True)

    # Without the old key the cookie means nothing: the guest is simply not inside.
    dropped = create_app({**config, "SECRET_KEY": "a-brand-new-key",
                          "SECRET_KEYS": ["a-brand-new-key"]})
    stranger = dropped.test_client()
    stranger.set_cookie("session", guest.get_cookie("session").value)
    assert stranger.get(f"/s/{room.id}/status?state=waiting&place=1&every=5").get_data(
        as_text=True) == "gone"
    assert Participant.select().count() == 1


def _rotated(config):
    """The app after SECRET_KEY=new, OLD_SECRET_KEYS=<the test's key>."""
    return create_app({**config, "SECRET_KEY": "a-brand-new-key",
                       "SECRET_KEYS": ["a-brand-new-key", config["SECRET_KEY"]]})


def test_a_session_signed_with_a_retired_key_opens_no_account(app, config, db):
    """Whoever holds a retired key can sign sessions with it: it must not make them an admin."""
    admin = make_user("admin@example.com", access="admin")
    forged = app.session_interface.get_signing_serializer(app).dumps(
        {"_user_id": admin.get_id(), "_fresh": True})
    rotated = _rotated(config)
    browser = rotated.test_client()
    browser.set_cookie("session", forged)
    response = browser.get("/admin/users")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert browser.get("/admin/users").status_code == 302  # the next request too
    signed_now = rotated.session_interface.get_signing_serializer(rotated).dumps(
        {"_user_id": admin.get_id(), "_fresh": True})
    browser.set_cookie("session", signed_now)
    assert browser.get("/admin/users").status_code == 200


def test_a_rotation_signs_owners_out_and_keeps_guests_inside(app, config, room):
    owner = app.test_client()
    OwnerActions(owner).sign_in()
    guest = _enter(app, room)
    rotated = _rotated(config)
    after_owner, after_guest = rotated.test_client(), rotated.test_client()
    after_owner.set_cookie("session", owner.get_cookie("session").value)
    after_guest.set_cookie("session", guest.get_cookie("session").value)
    assert after_owner.get("/rooms/").status_code == 302
    assert after_guest.get(f"/s/{room.id}/status?state=waiting&place=1&every=5").status_code == 204
    # The guest's cookie is signed again with the new key: dropping the old key later keeps
    # them inside too.
    dropped = create_app({**config, "SECRET_KEY": "a-brand-new-key",
                          "SECRET_KEYS": ["a-brand-new-key"]})
    later = dropped.test_client()
    later.set_cookie("session", after_guest.get_cookie("session").value)
    assert later.get(f"/s/{room.id}/status?state=waiting&place=1&every=5").status_code == 204


def test_a_forged_cookie_opens_nothing(app, room):
    guest = _enter(app, room)
    assert [_poll(guest, room).status_code for _ in range(2)] == [204] * 2
    forger = app.test_client()
    value = guest.get_cookie("session").value
    forger.set_cookie("session", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
    assert [_poll(forger, room).get_data(as_text=True) for _ in range(2)] == ["gone"] * 2


def test_a_polled_cookie_ends_with_its_lifetime(app, room):
    guest = _enter(app, room)
    assert _poll(guest, room).status_code == 204
    app.permanent_session_lifetime = 0  # every cookie signed before now has outlived it
    time.sleep(0.01)
    assert _poll(guest, room).get_data(as_text=True) == "gone"


def test_what_one_request_writes_is_not_seen_through_the_same_old_cookie(app, room):
    guest = _enter(app, room)
    old_cookie = guest.get_cookie("session").value
    opened = _open(app, old_cookie)
    opened["device"] = "someone-else"
    opened["extra"] = "x"
    again = _open(app, old_cookie)
    assert again["device"] != "someone-else" and "extra" not in again
    assert _poll(guest, room).status_code == 204


def _open(app, cookie: str):
    with app.test_request_context(headers={"Cookie": f"session={cookie}"}):
        return flask.session._get_current_object()  # as the request opened it


def test_a_session_with_flashed_messages_opens_them_each_time(app):
    serializer = app.session_interface.get_signing_serializer(app)
    flashed = serializer.dumps({"_flashes": [["success", "Saved."]], "device": "d1"})
    plain = serializer.dumps({"device": "d2"})
    assert [_open(app, flashed)["_flashes"] for _ in range(2)] == [[["success", "Saved."]]] * 2
    assert [_open(app, plain)["device"] for _ in range(2)] == ["d2"] * 2
