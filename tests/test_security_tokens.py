"""Token attacks on the guest routes: every bad token gets its denial page, never a 500, and
the answers reveal nothing about other rooms."""

from datetime import timedelta

import pytest
from helpers import make_user, text_of

from portal import create_app, tokens
from portal.gunicorn_conf import scrub
from portal.models import DenialCount, GuestLink, Invitation, Room
from portal.timeutil import utcnow


@pytest.fixture
def doors(app, db):
    now = utcnow()
    owner = make_user()
    guest = make_user("ada@example.com", access="guest")
    room = Room.create(owner=owner, title="Secret board meeting", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Guests")
    invitation = Invitation.create(room=room, user=guest, email=guest.email, version=2)
    keys = app.config["SECRET_KEYS"]
    return {
        "room": room, "link": link, "invitation": invitation,
        "link_token": tokens.make_token(keys, tokens.LINK, link.id, 1),
        "invite_token": tokens.make_token(keys, tokens.INVITE, invitation.id, 2),
        "old_invite_token": tokens.make_token(keys, tokens.INVITE, invitation.id, 1),
    }


def test_bad_tokens_get_link_invalid_and_reveal_nothing(client, doors):
    good = doors["link_token"]
    for bad in (good[:-3], good + "x", good[::-1], "WzEsMV0", "..", "%ff%fe", "a" * 300,
                good.replace(".", "!")):
        for prefix in ("/g/", "/i/"):
            response = client.get(prefix + bad)
            assert response.status_code == 404, bad
            assert "This link isn't valid" in text_of(response)
            assert "Secret board meeting" not in text_of(response)
            response = client.post(prefix + bad, data={"name": "x", "email": "x@example.com"})
            assert response.status_code == 404


def test_swapped_kind_is_not_valid(client, doors):
    assert client.get("/i/" + doors["link_token"]).status_code == 404
    assert client.get("/g/" + doors["invite_token"]).status_code == 404


def test_unknown_object_looks_exactly_like_a_garbled_token(app, client, doors):
    unknown = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, 99999, 1)
    garbled = client.get("/g/garbage")
    missing = client.get("/g/" + unknown)
    assert missing.status_code == garbled.status_code == 404
    assert text_of(missing) == text_of(garbled)


def test_deleted_room_answers_without_its_title(client, doors):
    Room.update(deleted_at=utcnow()).where(Room.id == doors["room"].id).execute()
    response = client.get("/g/" + doors["link_token"])
    assert response.status_code == 410
    assert "This room is no longer available" in text_of(response)
    assert "Secret board meeting" not in text_of(response)


def test_old_version_after_reset(client, doors):
    response = client.get("/i/" + doors["old_invite_token"])
    assert response.status_code == 410
    assert "This invitation is no longer valid" in text_of(response)
    assert client.get("/i/" + doors["invite_token"]).status_code == 200


def test_rotated_out_key(config, doors, db):
    # Rotation: the new key signs; the old one still verifies while it is listed.
    old_link = doors["link_token"]
    rotated = create_app({**config, "SECRET_KEY": "brand-new-key",
                          "SECRET_KEYS": ["brand-new-key", config["SECRET_KEY"]]})
    assert rotated.test_client().get("/g/" + old_link).status_code == 200
    dropped = create_app({**config, "SECRET_KEY": "brand-new-key",
                          "SECRET_KEYS": ["brand-new-key"]})
    response = dropped.test_client().get("/g/" + old_link)
    assert response.status_code == 404 and "This link isn't valid" in text_of(response)


def test_garbled_tokens_are_counted_without_a_room(client, doors):
    client.get("/g/garbage")
    client.get("/i/garbage")
    row = DenialCount.get((DenialCount.room_key == 0) & (DenialCount.reason == "link_invalid"))
    assert row.count == 2


def test_guest_continues_on_a_url_without_the_token(client, doors):
    response = client.post("/g/" + doors["link_token"],
                           data={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 303
    assert doors["link_token"] not in response.location
    page = client.get(response.location)
    assert page.status_code == 200 and doors["link_token"] not in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_access_log_never_records_a_token(doors):
    token = doors["link_token"]
    for line in (f'GET /g/{token} HTTP/1.1', f'POST /i/{token}?x=1 HTTP/1.1',
                 f'GET /reset-password/{token} HTTP/1.1', f'GET /s/1/join?ticket={token}'):
        assert token not in scrub(line)
        assert "[redacted]" in scrub(line)
    assert scrub("GET /s/1/status?state=countdown HTTP/1.1") == \
        "GET /s/1/status?state=countdown HTTP/1.1"
