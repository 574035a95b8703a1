"""Invited moderators admit waiting guests of their room from the room page, with the same
waiting list the owner has."""

import pytest
from helpers import (
    GuestActions,
    OwnerActions,
    invitation_path,
    invited_guest,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal.models import AuditEvent, GuestLink, Invitation, Participant


@pytest.fixture
def room(app, db):
    return make_room(title="Round-table", guest_access_enabled=True, require_approval=True)


def waiting_guest(app, room, n=1):
    """Guest n waiting, by the room's shared link: (their browser, their Participant row)."""
    link = GuestLink.get_or_none(GuestLink.room == room) or GuestLink.create(room=room,
                                                                             name="Guests")
    guest = GuestActions(app)
    guest.enter(link_path(app, link), f"Guest {n}", f"g{n}@example.com")
    return guest, guest.participant


def signed_in_owner_browser(app):
    owner = OwnerActions(app.test_client())
    owner.sign_in()
    return owner


def test_moderator_sees_and_admits_waiting_guests(app, room):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
    guest, waiting = waiting_guest(app, room)
    assert "Waiting to be admitted" in text_of(guest.place(room))

    page = text_of(moderator.place(room))
    assert "Your role: Moderator" in page and "Guest 1" in page and "Admit" in page

    response = moderator.post(f"/s/{room.id}/waiting/{waiting.id}/admit",
                              headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Guest 1 was admitted." in text_of(response)
    assert Participant.get_by_id(waiting.id).status == "admitted"
    event = AuditEvent.get(AuditEvent.action == "guest_admitted")
    assert event.actor_email == "mod@example.com" and event.actor.email == "mod@example.com"
    assert "You're in" in text_of(guest.place(room))


def test_moderator_denies_and_admits_all(app, room):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
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


def test_moderator_denies_with_a_message_in_the_guests_language(app, room):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
    guest, waiting = waiting_guest(app, room)
    page = moderator.get(f"/s/{room.id}/waiting/{waiting.id}/deny",
                         headers={"Accept-Language": "de"})
    assert page.status_code == 200 and "Nachricht an Guest 1 (optional)" in text_of(page)
    too_long = moderator.post(f"/s/{room.id}/waiting/{waiting.id}/deny",
                              data={"message": "x" * 301})
    assert too_long.status_code == 422 and "Use at most 300 characters." in text_of(too_long)
    assert Participant.get_by_id(waiting.id).status == "waiting"
    done = moderator.post(f"/s/{room.id}/waiting/{waiting.id}/deny",
                          data={"message": "Sorry, staff only today."})
    assert done.status_code == 303
    assert "Message from the host: Sorry, staff only today." in text_of(guest.place(room))
    event = AuditEvent.get(AuditEvent.action == "guest_denied")
    assert event.actor_email == "mod@example.com"
    assert event.detail == "Message: Sorry, staff only today."


def test_only_moderators_inside_the_room(app, room):
    viewer = invited_guest(app, room, "viewer@example.com", "viewer")
    _, waiting = waiting_guest(app, room)
    assert "Admit" not in text_of(viewer.place(room))
    for client in (viewer, app.test_client()):
        assert client.get(f"/s/{room.id}/waiting").status_code == 403
        assert client.post(f"/s/{room.id}/waiting/{waiting.id}/admit").status_code == 403
        assert client.post(f"/s/{room.id}/waiting/admit-all").status_code == 403
    assert Participant.get_by_id(waiting.id).status == "waiting"

    # A moderator of another room can't reach this room's guests.
    other = make_room(room.owner, title="Other", require_approval=True,
                      starts_at=room.starts_at, ends_at=room.ends_at)
    moderator_elsewhere = invited_guest(app, other, "mod2@example.com", "moderator")
    assert moderator_elsewhere.post(
        f"/s/{room.id}/waiting/{waiting.id}/admit").status_code == 403
    assert moderator_elsewhere.post(
        f"/s/{other.id}/waiting/{waiting.id}/admit").status_code == 404
    assert Participant.get_by_id(waiting.id).status == "waiting"


def test_moderator_list_poll_answers_204_while_unchanged(app, room):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
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
    client = GuestActions(app)
    user = make_user("x@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    client.enter(invitation_path(app, invitation), "X", "x@example.com")
    assert "Your role: Moderator" in text_of(client.place(room))
    link = GuestLink.create(room=room, name="Guests")
    client.enter(link_path(app, link), "X", "x@example.com")
    _guest, waiting = waiting_guest(app, room, n=2)

    owner = signed_in_owner_browser(app)
    owner.change_role(room, invitation, "viewer")
    owner.remove_invitation(room, invitation)

    page = text_of(client.place(room))
    assert "Moderator" not in page
    assert client.post(f"/s/{room.id}/waiting/{waiting.id}/deny").status_code == 403
    assert client.post(f"/s/{room.id}/waiting/admit-all").status_code == 403
    assert Participant.get_by_id(waiting.id).status == "waiting"
    mine = Participant.get(Participant.email == "x@example.com")
    assert mine.role == "viewer" and mine.link_id == link.id


def test_a_shared_link_gives_a_viewer_even_to_an_invited_moderator(app, room):
    """The role follows the door: coming back by the invitation makes X a moderator again."""
    client = GuestActions(app)
    user = make_user("y@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    client.enter(invitation_path(app, invitation), "Y", "y@example.com")
    link = GuestLink.create(room=room, name="Guests")
    client.enter(link_path(app, link), "Y", "y@example.com")
    # The shared link's rules, as for anyone with it: a viewer, waiting to be admitted.
    assert "Waiting to be admitted" in text_of(client.place(room))
    client.enter(invitation_path(app, invitation), "Y", "y@example.com")
    assert "Your role: Moderator" in text_of(client.place(room))
    assert Participant.select().where(Participant.email == "y@example.com").count() == 1


def test_moderator_list_speaks_the_guests_language_owner_screens_stay_english(app, room):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
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

    owner = signed_in_owner_browser(app).client
    waiting_guest(app, room, n=2)
    page = text_of(owner.get(f"/rooms/{room.id}/live", headers=german))
    assert "Waiting room" in page and "Admit all" in page and "Warteraum" not in page
    html = owner.get(f"/rooms/{room.id}/live", headers=german).get_data(as_text=True)
    assert "hx-confirm=\"Deny Guest 2? They'll read that the host didn't admit them.\"" in html
