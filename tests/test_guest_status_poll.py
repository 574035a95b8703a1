"""The status poll (/s/ROOM/status), which every waiting guest's page makes every few seconds:
it decides from plain values read in one narrow query, and must answer as the full page
would decide."""

from datetime import datetime

import flask

from portal import access, guest
from portal.models import GuestLink, Invitation, Participant, Room, User


def _room_with_guests():
    owner = User.create(email="owner@example.com", password_hash="x", access="broadcaster")
    room = Room.create(owner=owner, title="Poll", starts_at=datetime(2030, 1, 1, 10),
                       ends_at=datetime(2030, 1, 1, 11), guest_access_enabled=True,
                       require_approval=True, host_message="Starting soon")
    invited = User.create(email="ada@example.com", password_hash="x")
    invitation = Invitation.create(room=room, user=invited, email=invited.email,
                                   role="moderator")
    Participant.create(room=room, invitation=invitation, name="Ada", email=invited.email,
                       role="viewer", status="admitted", device="device-1")
    link = GuestLink.create(room=room, name="Spare", max_uses=1)
    Participant.create(room=room, link=link, name="Bo", email="bo@example.com",
                       status="waiting", device="device-2")
    expired = GuestLink.create(room=room, name="Old", expires_at=datetime(2020, 1, 1))
    Participant.create(room=room, link=expired, name="Cy", email="cy@example.com",
                       status="admitted", device="device-3")
    gone = GuestLink.create(room=room, name="Gone")
    Participant.create(room=room, link=gone, name="Di", email="di@example.com",
                       role="speaker", status="admitted", device="device-4")
    gone.delete_instance()  # the participant's link reference is cleared
    return room


def test_the_polls_narrow_facts_decide_as_the_full_presence(app, db):
    """For guests through an invitation and through links (waiting, a host message, the link
    expired or deleted), the decision, the page state and the role are the same as with every
    column loaded."""
    room = _room_with_guests()
    states = {}
    for device in ("device-1", "device-2", "device-3", "device-4"):
        with app.test_request_context():
            flask.session["device"] = device
            participant, door = access.current_presence(room.id)
            full = access.decide_presence(participant, door)
            facts = access.presence_facts(room.id)
            narrow = facts.decide()
            assert narrow == full, device
            assert facts.participant_id == participant.id and facts.status == participant.status
            assert facts.role == participant.role, device
            if door.room is not None:
                assert guest.page_state(narrow, facts.host_message) == \
                    guest.page_state(full, door.room.host_message)
            states[device] = guest.page_state(narrow, facts.host_message)
    assert states["device-1"].startswith("countdown.")
    assert states["device-2"].startswith("countdown.")  # with the message's checksum
    assert states["device-3"] == "link_expired" and states["device-4"] == "link_deleted"


def test_the_role_is_the_invitations_now(app, db):
    """A presence's role is its door's as it is now, whatever was written at entry."""
    room = _room_with_guests()
    with app.test_request_context():
        flask.session["device"] = "device-1"
        assert access.presence_facts(room.id).role == "moderator"
        assert access.current_presence(room.id)[0].role == "moderator"


def test_a_browser_with_no_presence_polls_gone(app, client, db):
    room = _room_with_guests()
    response = client.get(f"/s/{room.id}/status?state=waiting")
    assert response.status_code == 200 and response.get_data(as_text=True) == "gone"
    assert response.headers["HX-Refresh"] == "true"
    assert response.headers["Cache-Control"] == "no-store"
