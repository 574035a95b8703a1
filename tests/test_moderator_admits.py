"""Invited moderators admit waiting guests of their room from the room page, with the same
waiting list the owner has."""

from datetime import timedelta

import pytest
from helpers import PASSWORD, make_user, text_of

from portal import tokens
from portal.models import AuditEvent, GuestLink, Invitation, Participant, Room
from portal.timeutil import utcnow


@pytest.fixture
def room(app, db):
    now = utcnow()
    owner = make_user()
    room = Room.create(owner=owner, title="Round-table", guest_access_enabled=True,
                       require_approval=True, starts_at=now - timedelta(minutes=1),
                       ends_at=now + timedelta(hours=1))
    return room


def invited(app, room, email, role):
    user = make_user(email, access="guest")
    invitation = Invitation.create(room=room, user=user, email=email, role=role)
    client = app.test_client()
    token = tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id, 1)
    response = client.post(f"/i/{token}", data={"name": role.title(), "email": email})
    assert response.status_code == 303
    return client


def waiting_guest(app, room, n=1):
    link = GuestLink.get_or_none(GuestLink.room == room) or GuestLink.create(room=room,
                                                                             name="Guests")
    token = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    client = app.test_client()
    client.post(f"/g/{token}", data={"name": f"Guest {n}", "email": f"g{n}@example.com"})
    return client, Participant.get(Participant.email == f"g{n}@example.com")


def test_moderator_sees_and_admits_waiting_guests(app, room):
    moderator = invited(app, room, "mod@example.com", "moderator")
    guest, waiting = waiting_guest(app, room)
    assert "Waiting to be admitted" in text_of(guest.get(f"/s/{room.id}"))

    page = text_of(moderator.get(f"/s/{room.id}"))
    assert "Your role: Moderator" in page and "Guest 1" in page and "Admit" in page

    response = moderator.post(f"/s/{room.id}/waiting/{waiting.id}/admit",
                              headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Guest 1 was admitted." in text_of(response)
    assert Participant.get_by_id(waiting.id).status == "admitted"
    event = AuditEvent.get(AuditEvent.action == "guest_admitted")
    assert event.actor_email == "mod@example.com" and event.actor.email == "mod@example.com"
    assert "You're in" in text_of(guest.get(f"/s/{room.id}"))


def test_moderator_denies_and_admits_all(app, room):
    moderator = invited(app, room, "mod@example.com", "moderator")
    _, first = waiting_guest(app, room, 1)
    _, second = waiting_guest(app, room, 2)
    _, third = waiting_guest(app, room, 3)
    response = moderator.post(f"/s/{room.id}/waiting/{first.id}/deny")
    assert response.status_code == 303  # a plain form: back to the room page
    assert Participant.get_by_id(first.id).status == "rejected"
    moderator.post(f"/s/{room.id}/waiting/admit-all")
    statuses = {p.email: p.status for p in Participant.select()}
    assert statuses["g2@example.com"] == statuses["g3@example.com"] == "admitted"
    assert statuses["g1@example.com"] == "rejected"


def test_only_moderators_inside_the_room(app, room):
    viewer = invited(app, room, "viewer@example.com", "viewer")
    _, waiting = waiting_guest(app, room)
    assert "Admit" not in text_of(viewer.get(f"/s/{room.id}"))
    for client in (viewer, app.test_client()):
        assert client.get(f"/s/{room.id}/waiting").status_code == 403
        assert client.post(f"/s/{room.id}/waiting/{waiting.id}/admit").status_code == 403
        assert client.post(f"/s/{room.id}/waiting/admit-all").status_code == 403
    assert Participant.get_by_id(waiting.id).status == "waiting"

    # A moderator of another room can't reach this room's guests.
    other = Room.create(owner=room.owner, title="Other", require_approval=True,
                        starts_at=room.starts_at, ends_at=room.ends_at)
    moderator_elsewhere = invited(app, other, "mod2@example.com", "moderator")
    assert moderator_elsewhere.post(
        f"/s/{room.id}/waiting/{waiting.id}/admit").status_code == 403
    assert moderator_elsewhere.post(
        f"/s/{other.id}/waiting/{waiting.id}/admit").status_code == 404
    assert Participant.get_by_id(waiting.id).status == "waiting"


def test_moderator_list_poll_answers_204_while_unchanged(app, room):
    moderator = invited(app, room, "mod@example.com", "moderator")
    waiting_guest(app, room)
    first = moderator.get(f"/s/{room.id}/waiting", headers={"HX-Request": "true"})
    assert first.status_code == 200 and 'id="waiting-room"' in first.get_data(as_text=True)
    seen = first.get_data(as_text=True).split("seen=")[1].split('"')[0]
    again = moderator.get(f"/s/{room.id}/waiting?seen={seen}", headers={"HX-Request": "true"})
    assert again.status_code == 204


def test_a_demoted_moderator_who_also_used_the_shared_link_loses_every_power(app, room):
    """Security review, finding 1: X enters by a moderator invitation, then in the same browser
    by the room's shared link with the same email; the owner makes X a viewer, then removes
    the invitation. X must not keep moderator powers through either door."""
    client = app.test_client()
    user = make_user("x@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    invite_token = tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id, 1)
    client.post(f"/i/{invite_token}", data={"name": "X", "email": "x@example.com"})
    assert "Your role: Moderator" in text_of(client.get(f"/s/{room.id}"))
    link = GuestLink.create(room=room, name="Guests")
    link_token = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    client.post(f"/g/{link_token}", data={"name": "X", "email": "x@example.com"})
    _guest, waiting = waiting_guest(app, room, n=2)

    owner = app.test_client()
    owner.post("/sign-in", data={"email": "owner@example.com",
                                 "password": "correct horse battery"})
    owner.post(f"/rooms/{room.id}/invitations/{invitation.id}/role", data={"role": "viewer"})
    owner.post(f"/rooms/{room.id}/invitations/{invitation.id}/delete")

    page = text_of(client.get(f"/s/{room.id}"))
    assert "Moderator" not in page
    assert client.post(f"/s/{room.id}/waiting/{waiting.id}/deny").status_code == 403
    assert client.post(f"/s/{room.id}/waiting/admit-all").status_code == 403
    assert Participant.get_by_id(waiting.id).status == "waiting"
    mine = Participant.get(Participant.email == "x@example.com")
    assert mine.role == "viewer" and mine.link_id == link.id


def test_a_shared_link_gives_a_viewer_even_to_an_invited_moderator(app, room):
    """The role follows the door: coming back by the invitation makes X a moderator again."""
    client = app.test_client()
    user = make_user("y@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    invite_token = tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id, 1)
    client.post(f"/i/{invite_token}", data={"name": "Y", "email": "y@example.com"})
    link = GuestLink.create(room=room, name="Guests")
    link_token = tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    client.post(f"/g/{link_token}", data={"name": "Y", "email": "y@example.com"})
    # The shared link's rules, as for anyone with it: a viewer, waiting to be admitted.
    assert "Waiting to be admitted" in text_of(client.get(f"/s/{room.id}"))
    client.post(f"/i/{invite_token}", data={"name": "Y", "email": "y@example.com"})
    assert "Your role: Moderator" in text_of(client.get(f"/s/{room.id}"))
    assert Participant.select().where(Participant.email == "y@example.com").count() == 1


def test_moderator_list_speaks_the_guests_language_owner_screens_stay_english(app, room):
    moderator = invited(app, room, "mod@example.com", "moderator")
    guest, waiting = waiting_guest(app, room)
    german = {"Accept-Language": "de"}
    page = text_of(moderator.get(f"/s/{room.id}", headers=german))
    for words in ("Warteraum", "1 wartend", "Wartet seit", "Einlassen", "Abweisen",
                  "Alle einlassen"):
        assert words in page, words
    html = moderator.get(f"/s/{room.id}", headers=german).get_data(as_text=True)
    assert 'hx-confirm="Guest 1 abweisen? Die Person liest dann' in html
    response = moderator.post(f"/s/{room.id}/waiting/{waiting.id}/admit",
                              headers={"HX-Request": "true", **german})
    assert "Guest 1 wurde eingelassen." in text_of(response)
    assert "Niemand wartet." in text_of(response)

    owner = app.test_client()
    owner.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD})
    waiting_guest(app, room, n=2)
    page = text_of(owner.get(f"/rooms/{room.id}", headers=german))
    assert "Waiting room" in page and "Admit all" in page and "Warteraum" not in page
    html = owner.get(f"/rooms/{room.id}", headers=german).get_data(as_text=True)
    assert "hx-confirm=\"Deny Guest 2? They'll read that the host didn't admit them.\"" in html
