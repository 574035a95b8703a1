"""A personal invitation from the guest's side, over HTTP: every flow and every denial reason.
Each `app.test_client()` is a separate browser."""

from datetime import timedelta

from helpers import (
    PASSWORD,
    GuestActions,
    OwnerActions,
    invitation,
    link_path,
    make_room,
    make_user,
    path_of,
    text_of,
)

from portal.models import DenialEvent, DomainRule, GuestLink, Invitation, Participant, Room
from portal.timeutil import utcnow


def invited(app, client, room, email="ada@example.com", **kw):
    response = OwnerActions(client).invite(room, email, **kw)
    assert response.status_code == 303
    inv = invitation(room, email)
    return inv, path_of(app, inv)


def last_denial(room):
    return DenialEvent.select().where(DenialEvent.room == room).order_by(
        DenialEvent.id.desc()).first()


def test_lobby_then_room(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, description="All about it")
    inv, path = invited(app, client, room, role="speaker")
    guest = GuestActions(app)
    lobby = guest.get(path)
    page = text_of(lobby)
    assert lobby.status_code == 200
    assert "Launch" in page and "Login" in page
    assert "Enter the email address this invitation was sent to." in page
    assert "ada@example.com" not in page  # the invited email is never shown
    response = guest.enter(path, "Ada", " ADA@example.com ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/s/{room.id}")
    inside = guest.place(room)
    assert inside.status_code == 200 and "Speaker" in text_of(inside)
    participant = Participant.get(Participant.invitation == inv.id)
    assert (participant.status, participant.role, participant.email) == (
        "admitted", "speaker", "ada@example.com")
    # Back again on the same browser: straight in, no second form.
    assert guest.get(path).status_code == 303


def test_countdown_before_the_start(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, starts_in=timedelta(hours=1))
    _inv, path = invited(app, client, room)
    guest = GuestActions(app)
    guest.enter(path, "Ada", "ada@example.com")
    assert guest.place(room).status_code == 200
    assert Participant.select().count() == 1


def test_without_email_match_the_link_is_the_proof(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, require_email_match=False)
    inv, path = invited(app, client, room)
    guest = GuestActions(app)
    assert 'name="email"' not in guest.get(path).get_data(as_text=True)
    assert guest.post(path, data={"name": "Ada"}).status_code == 303
    assert Participant.get(Participant.invitation == inv.id).email == "ada@example.com"


def test_email_mismatch_says_so_without_revealing_the_invited_email(app, client,
                                                                   signed_in_owner, db):
    room = make_room(signed_in_owner)
    inv, path = invited(app, client, room)
    guest = GuestActions(app)
    response = guest.enter(path, "Eve", "eve@example.com")
    page = text_of(response)
    assert response.status_code == 403
    assert "Use the email address that received the invitation" in page
    assert "Enter the email address this invitation was sent to." in page  # the hint
    assert "ada@example.com" not in page
    assert 'name="email"' in response.get_data(as_text=True)  # the form, to try again
    assert last_denial(room).reason == "email_mismatch"
    assert last_denial(room).email == "eve@example.com"
    assert Participant.select().count() == 0
    # Correcting it works.
    assert guest.enter(path, "Ada", "ada@example.com").status_code == 303


def test_invite_removed_after_delete(app, client, signed_in_owner, owner_browser, db):
    room = make_room(signed_in_owner)
    inv, path = invited(app, client, room)
    guest = GuestActions(app)
    guest.enter(path, "Ada", "ada@example.com")
    owner_browser.remove_invitation(room, inv)
    response = app.test_client().get(path)
    assert response.status_code == 410
    assert "This invitation is no longer valid" in text_of(response)
    # The guest who was inside is turned away on the next page load.
    assert guest.place(room).status_code == 410
    assert last_denial(room).reason == "invite_removed"


def test_invite_removed_after_reset(app, client, signed_in_owner, owner_browser, db):
    room = make_room(signed_in_owner)
    inv, old_path = invited(app, client, room)
    owner_browser.reset_invitation(room, inv)
    response = app.test_client().get(old_path)
    assert response.status_code == 410
    assert "This invitation is no longer valid" in text_of(response)
    new_path = path_of(app, invitation(room, "ada@example.com"))
    assert new_path != old_path
    guest = GuestActions(app)
    assert guest.get(new_path).status_code == 200
    assert guest.enter(new_path, "Ada", "ada@example.com").status_code \
        == 303


def test_link_expired(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    inv, path = invited(app, client, room, validity="days", days="2")
    assert app.test_client().get(path).status_code == 200
    Invitation.update(expires_at=utcnow() - timedelta(minutes=1)).where(
        Invitation.id == inv.id).execute()
    response = app.test_client().get(path)
    assert response.status_code == 410
    assert "This link has expired" in text_of(response)


def test_valid_once_is_used_up_on_another_browser(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    inv, path = invited(app, client, room, validity="once")
    first, second = GuestActions(app), GuestActions(app)
    # Opening the link (a mail scanner, a preview) doesn't use it up.
    assert second.get(path).status_code == 200
    assert first.enter(path, "Ada", "ada@example.com").status_code == 303
    response = second.get(path)
    assert response.status_code == 410
    assert "This link has already been used" in text_of(response)
    response = second.enter(path, "Ada", "ada@example.com")
    assert response.status_code == 410
    assert Participant.select().count() == 1
    # The browser that used it still gets in.
    assert first.place(room).status_code == 200
    assert first.get(path).status_code == 303


def test_domain_blocked(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    _inv, path = invited(app, client, room, email="ada@partner.example")
    DomainRule.create(domain="partner.example", mode="block")
    guest = GuestActions(app)
    response = guest.enter(path, "Ada", "ada@partner.example")
    assert response.status_code == 403
    assert "Your organisation's email domain can't be used here" in text_of(response)
    assert last_denial(room).reason == "domain_blocked"


def test_room_unavailable(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    _inv, path = invited(app, client, room)
    client.post(f"/rooms/{room.id}/delete")
    assert Room.get_by_id(room.id).deleted_at is not None
    response = app.test_client().get(path)
    assert response.status_code == 410
    page = text_of(response)
    assert "This room is no longer available" in page and "Launch" not in page


def test_session_ended(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    _inv, path = invited(app, client, room)
    Room.update(ends_at=utcnow() - timedelta(minutes=1)).where(Room.id == room.id).execute()
    response = app.test_client().get(path)
    assert response.status_code == 410 and "This session has ended" in text_of(response)


def test_garbled_link(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    _inv, path = invited(app, client, room)
    response = app.test_client().get(path[:-3] + "xyz")
    assert response.status_code == 404 and "This link isn't valid" in text_of(response)


def test_role_upgrade_while_inside(app, client, signed_in_owner, db):
    """Inside through the shared guest link as a viewer; the personal invitation as moderator,
    opened while inside, upgrades the role without leaving."""
    room = make_room(signed_in_owner, guest_access_enabled=True, require_email_match=False)
    link = GuestLink.create(room=room, name="Everyone")
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Ada", "ada@example.com")
    before = Participant.get(Participant.room == room)
    assert before.role == "viewer" and before.status == "admitted"
    inv, path = invited(app, client, room, role="moderator")
    guest.post(path, data={"name": "Ada"})
    after = Participant.get(Participant.room == room)
    assert after.id == before.id and after.status == "admitted"
    assert after.role == "moderator" and after.invitation_id == inv.id
    assert "Moderator" in text_of(guest.place(room))
    assert Participant.select().count() == 1


def test_broadcaster_invitee_must_sign_in(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    make_user("host@example.com", access="broadcaster")
    inv, path = invited(app, client, room, email="host@example.com")
    host = GuestActions(app)
    response = host.get(path)
    assert response.status_code == 401
    assert "Sign in to join" in text_of(response)
    # Typing the right email isn't enough for an account with host access.
    assert host.enter(path, "H", "host@example.com").status_code == 401
    assert Participant.select().count() == 0
    signed = host.post(f"/sign-in?next={path}",
                       data={"email": "host@example.com", "password": PASSWORD})
    assert signed.headers["Location"] == path
    response = host.get(path)
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/s/{room.id}")
    assert Participant.get(Participant.invitation == inv.id).email == "host@example.com"


def test_back_after_leave_an_invited_host_account_is_asked_to_sign_in_again(
        app, client, signed_in_owner, db):
    """Coming back after Leave spends nothing and skips the form, but is an entry: an account
    with host access whose sign-in has ended since (an admin's "sign out everywhere") signs in
    again first; an invited guest comes back without the form."""
    room = make_room(signed_in_owner)
    host_account = make_user("host@example.com", access="broadcaster")
    _inv, path = invited(app, client, room, email="host@example.com")
    host = GuestActions(app)
    host.post("/sign-in", data={"email": "host@example.com", "password": PASSWORD})
    assert host.get(path).status_code == 303
    host.leave(room)
    host_account.end_sessions()
    response = host.get(path)
    assert response.status_code == 401 and "Sign in to join" in text_of(response)
    host.post("/sign-in", data={"email": "host@example.com", "password": PASSWORD})
    assert host.get(path).status_code == 303
    assert "You're in" in text_of(host.place(room))

    _inv, guest_path = invited(app, client, room, email="ada@example.com")
    ada = GuestActions(app)
    assert ada.enter(guest_path, "Ada", "ada@example.com").status_code == 303
    ada.leave(room)
    back = ada.get(guest_path)
    assert back.status_code == 303 and "You're in" in text_of(ada.place(room))


def test_my_sessions_for_an_invited_guest(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, title="Round-table")
    other = make_room(signed_in_owner, title="Removed one")
    gone = make_room(signed_in_owner, title="Deleted room")
    make_user("ada@example.com", access="guest", name="Ada")
    for r in (room, other, gone):
        invited(app, client, r)
    OwnerActions(client).remove_invitation(other, invitation(other, "ada@example.com"))
    client.post(f"/rooms/{gone.id}/delete")
    guest = app.test_client()
    guest.post("/sign-in", data={"email": "ada@example.com", "password": PASSWORD})
    response = guest.get("/", follow_redirects=True)
    page = text_of(response)
    assert "My sessions" in page
    assert "Round-table" in page
    assert "Removed one" not in page and "Deleted room" not in page
    # Join: signed in as the invited account, the link takes them in without the form.
    join = guest.get(path_of(app, invitation(room, "ada@example.com")))
    assert join.status_code == 303 and join.headers["Location"].endswith(f"/s/{room.id}")
