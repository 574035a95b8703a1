"""The host's message to everyone waiting: set by the owner, shown on countdown and waiting
pages, and noticed by their polling."""

from datetime import timedelta

from helpers import GuestActions, link_path, make_user, text_of

from portal.models import AuditEvent, GuestLink, Room
from portal.timeutil import utcnow


def test_owner_sets_message_and_waiting_guest_sees_it(app, client, signed_in_owner, db):
    now = utcnow()
    room = Room.create(owner=signed_in_owner, title="Launch", guest_access_enabled=True,
                       starts_at=now + timedelta(minutes=30), ends_at=now + timedelta(hours=2))
    link = GuestLink.create(room=room, name="Guests")
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Ada", "ada@example.com")
    assert guest.get(f"/s/{room.id}/status?state=countdown").status_code == 204

    response = client.post(f"/rooms/{room.id}/message",
                           data={"message": "We start 10 minutes late"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="host-message"' in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)  # a fragment for htmx
    assert Room.get_by_id(room.id).host_message == "We start 10 minutes late"
    assert AuditEvent.get(AuditEvent.action == "host_message_set").actor_email == \
        signed_in_owner.email

    poll = guest.get(f"/s/{room.id}/status?state=countdown")
    assert poll.status_code == 200 and poll.headers["HX-Refresh"] == "true"
    assert "Message from the host: We start 10 minutes late" in text_of(guest.get(f"/s/{room.id}"))


def test_message_validation_and_permissions(app, client, signed_in_owner, db):
    now = utcnow()
    room = Room.create(owner=signed_in_owner, title="Launch", starts_at=now,
                       ends_at=now + timedelta(hours=1))
    response = client.post(f"/rooms/{room.id}/message", data={"message": "x" * 501})
    assert response.status_code == 422 and "at most 500" in text_of(response)
    response = client.post(f"/rooms/{room.id}/message", data={"message": "a\r\nBcc: x"})
    assert response.status_code == 422
    assert Room.get_by_id(room.id).host_message == ""

    make_user("other@example.com")
    other = app.test_client()
    other.post("/sign-in", data={"email": "other@example.com",
                                 "password": "correct horse battery"})
    assert other.post(f"/rooms/{room.id}/message", data={"message": "hi"}).status_code == 404
    anonymous = app.test_client().post(f"/rooms/{room.id}/message", data={"message": "hi"})
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.location
