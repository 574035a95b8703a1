"""Consent before entry: the owner's "Guests must agree before they enter" with their text; the
lobbies of shared links and invitations ask for "I agree", refuse without it (nothing stored, no
use spent), keep when each guest agreed and to which version, and ask again after the owner
changes the text — without turning anyone out."""

import re
from datetime import timedelta

import pytest
from helpers import (
    HTMX,
    GuestActions,
    OwnerActions,
    invitation_path,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal import timeutil
from portal.models import AuditEvent, GuestLink, Invitation, Participant, Room

NOTICE = "Recording: this session is recorded and published on our website."
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def edit_room(client, room, **overrides):
    """The owner's Edit room form as the browser sends it, with `overrides`."""
    room = Room.get_by_id(room.id)
    zone = room.timezone
    data = {"title": room.title, "description": room.description, "speakers": room.speakers,
            "starts_at": f"{timeutil.to_local(room.starts_at, zone):%Y-%m-%dT%H:%M}",
            "ends_at": f"{timeutil.to_local(room.ends_at, zone):%Y-%m-%dT%H:%M}",
            "timezone": zone, "kind": room.kind, "require_email_match": "y", "join_url": ""}
    data.update(overrides)
    return client.post(f"/rooms/{room.id}/edit", data={k: v for k, v in data.items()
                                                       if v is not None})


def agree(version: int | str = 1) -> dict:
    """"I agree" ticked on a lobby page that showed this version of the host's text (the form
    sends the version back)."""
    return {"consent": "y", "consent_version": str(version)}


def version_shown(response) -> str | None:
    """The version of the host's text the lobby page showed: its form sends it back."""
    found = re.search(r'name="consent_version"[^>]*value="([^"]*)"|'
                      r'value="([^"]*)"[^>]*name="consent_version"',
                      response.get_data(as_text=True))
    return next(v for v in found.groups() if v is not None) if found else None


@pytest.fixture
def room(db, owner):
    return make_room(owner, guest_access_enabled=True, consent_required=True,
                     consent_text=NOTICE, consent_version=1)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Guests", max_uses=5)


# --- the owner's option --------------------------------------------------------------------------

def test_owner_turns_consent_on_with_a_text_and_a_new_text_is_a_new_version(
        client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    form = text_of(client.get(f"/rooms/{room.id}/edit"))
    assert "Guests must agree before they enter" in form and "What guests agree to" in form

    response = edit_room(client, room, consent_required="y", consent_text=NOTICE)
    assert response.status_code == 303
    room = Room.get_by_id(room.id)
    assert (room.consent_required, room.consent_text, room.consent_version) == (True, NOTICE, 1)
    page = text_of(client.get(f"/rooms/{room.id}/details"))
    assert "Guests must agree before they enter Yes (text version 1)" in page
    assert NOTICE in page

    # Saving the room again with the same text keeps the version; a new text makes version 2.
    assert edit_room(client, room, consent_required="y", consent_text=NOTICE).status_code == 303
    assert Room.get_by_id(room.id).consent_version == 1
    assert edit_room(client, room, consent_required="y",
                     consent_text="New terms.").status_code == 303
    assert Room.get_by_id(room.id).consent_version == 2
    assert AuditEvent.select().where(AuditEvent.action == "consent_text_changed").count() == 2


def test_consent_without_a_text_is_refused_on_the_form(client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    response = edit_room(client, room, consent_required="y", consent_text="  ")
    assert response.status_code == 422
    assert "Enter the text guests agree to" in text_of(response)
    assert Room.get_by_id(room.id).consent_required is False


# --- the shared link's lobby ---------------------------------------------------------------------

def test_lobby_shows_the_hosts_text_with_a_required_checkbox(app, room, link):
    page = GuestActions(app).get(link_path(app, link))
    html = page.get_data(as_text=True)
    assert NOTICE in text_of(page)
    assert "The host asks you to agree before you enter" in text_of(page)
    assert 'type="checkbox"' in html and 'name="consent"' in html
    assert 'aria-describedby="consent-text"' in html and "required" in html


def test_without_the_checkbox_nothing_is_stored_and_no_use_is_spent(app, room, link):
    guest = GuestActions(app)
    response = guest.enter(link_path(app, link), "Ada")
    assert response.status_code == 422
    page = text_of(response)
    assert "To enter, tick “I agree”: the host asks everyone to agree first." in page
    assert "Ada" in response.get_data(as_text=True)  # what was typed is kept
    assert Participant.select().count() == 0
    assert GuestLink.get_by_id(link.id).uses == 0
    # The same guest, now agreeing: in, with the time and the version of the text.
    before = timeutil.utcnow()
    response = guest.enter(link_path(app, link), "Ada", **agree())
    assert response.status_code == 303
    participant = guest.participant
    assert participant.consent_version == 1
    assert before - timedelta(seconds=1) <= participant.consented_at <= timeutil.utcnow()
    assert GuestLink.get_by_id(link.id).uses == 1


def test_the_refusal_reads_in_german(app, room, link):
    response = GuestActions(app).post(link_path(app, link), headers=GERMAN,
                                      data={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 422
    page = text_of(response)
    assert "Um einzutreten, kreuzen Sie „Ich stimme zu“ an" in page
    assert "Der Host bittet Sie, vor dem Eintreten zuzustimmen" in page


def test_rooms_without_the_option_ask_nothing(app, owner, db):
    room = make_room(owner, guest_access_enabled=True, consent_text="Old text, option off")
    link = GuestLink.create(room=room, name="Guests")
    guest = GuestActions(app)
    assert 'name="consent"' not in guest.get(link_path(app, link)).get_data(as_text=True)
    assert guest.enter(link_path(app, link)).status_code == 303
    assert guest.participant.consented_at is None and guest.participant.consent_version is None


# --- the invitation's lobby ----------------------------------------------------------------------

def test_invitation_lobby_refuses_without_agreeing_and_binds_nothing(app, room):
    user = make_user("ivy@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email, valid_once=True)
    guest = GuestActions(app)
    response = guest.enter(invitation_path(app, invitation), "Ivy", "ivy@example.com")
    assert response.status_code == 422
    assert "tick “I agree”" in text_of(response)
    assert Participant.select().count() == 0
    assert Invitation.get_by_id(invitation.id).bound_device is None  # the single use is intact

    response = guest.enter(invitation_path(app, invitation), "Ivy", "ivy@example.com",
                           **agree())
    assert response.status_code == 303
    assert guest.participant.consent_version == 1


def test_a_signed_in_invited_guest_is_asked_too(app, room):
    user = make_user("sam@example.com", access="guest", name="Sam")
    invitation = Invitation.create(room=room, user=user, email=user.email)
    guest = GuestActions(app)
    OwnerActions(guest.client).sign_in("sam@example.com")
    # Normally their sign-in lets them straight in; here the lobby asks first.
    page = guest.get(invitation_path(app, invitation))
    assert page.status_code == 200 and NOTICE in text_of(page)
    assert 'name="email"' not in page.get_data(as_text=True)  # their account says who they are
    assert guest.post(invitation_path(app, invitation), data={"name": "Sam"}).status_code == 422
    assert Participant.select().count() == 0
    response = guest.post(invitation_path(app, invitation), data={"name": "Sam", **agree()})
    assert response.status_code == 303
    participant = Participant.get()
    assert participant.email == "sam@example.com" and participant.consent_version == 1


def enters_agreeing(app, path: str, name: str, email: str, version: int = 1):
    """A guest who enters ticking "I agree": their browser, and when they agreed."""
    guest = GuestActions(app)
    assert guest.enter(path, name, email, **agree(version)).status_code == 303
    return guest, guest.participant.consented_at


def test_the_owner_sees_when_an_invited_guest_agreed(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, consent_required=True, consent_text=NOTICE,
                     consent_version=2)
    user = make_user("ivy@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email)
    Invitation.create(room=room, user=make_user("not-yet@example.com", access="guest"),
                      email="not-yet@example.com")
    _, agreed = enters_agreeing(app, invitation_path(app, invitation), "Ivy", "ivy@example.com",
                                version=2)
    page = client.get(f"/rooms/{room.id}/access")
    assert f"Agreed {agreed:%a %d %b %Y, %H:%M} UTC (text version 2)" in text_of(page)
    # On the guest list (Access), and in In the room (Live); the guest who hasn't entered
    # shows nothing.
    assert text_of(page).count("Agreed ") == 1
    assert text_of(client.get(f"/rooms/{room.id}/live")).count("Agreed ") == 1


# --- a new text ---------------------------------------------------------------------------------

def test_a_new_text_asks_again_on_the_next_visit_without_turning_anyone_out(
        app, client, signed_in_owner, room, link):
    guest = GuestActions(app)
    assert guest.enter(link_path(app, link), "Ada", **agree()).status_code == 303
    assert edit_room(client, room, consent_required="y",
                     consent_text="We now also record the chat.").status_code == 303

    # Still inside: the room page doesn't ask.
    assert "You're in" in text_of(guest.place(room))
    # Opening the link again shows the new text and asks again, with their name filled in.
    again = guest.get(link_path(app, link))
    assert again.status_code == 200
    page = text_of(again)
    assert "The host changed what guests agree to" in page
    assert "We now also record the chat." in page
    assert 'value="Ada"' in again.get_data(as_text=True)
    assert version_shown(again) == "2"
    # Not agreeing: told so, still inside, nothing changed.
    refused = guest.post(link_path(app, link), data={"name": "Ada", "email": "ada@example.com"})
    assert refused.status_code == 422 and "tick “I agree”" in text_of(refused)
    assert guest.participant.consent_version == 1
    # Agreeing: version 2 recorded on the same presence, and no second click is spent.
    assert guest.enter(link_path(app, link), "Ada", **agree(2)).status_code == 303
    assert Participant.select().count() == 1
    assert guest.participant.consent_version == 2
    assert GuestLink.get_by_id(link.id).uses == 1
    assert guest.get(link_path(app, link)).status_code == 303  # agreed: straight back in


def test_the_owner_sees_when_a_waiting_guest_agreed(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, guest_access_enabled=True, require_approval=True,
                     consent_required=True, consent_text=NOTICE, consent_version=3)
    link = GuestLink.create(room=room, name="Guests")
    _, agreed = enters_agreeing(app, link_path(app, link), "Wanda", "wanda@example.com",
                                version=3)
    page = text_of(client.get(f"/rooms/{room.id}/live"))
    assert f"Wanda Agreed {agreed:%H:%M} UTC (text version 3)" in page


def test_the_owner_sees_in_the_room_when_each_guest_agreed(
        app, client, signed_in_owner, room, link):
    guest, agreed = enters_agreeing(app, link_path(app, link), "Ada", "ada@example.com")
    page = client.get(f"/rooms/{room.id}/live")
    assert f"Ada Agreed {agreed:%H:%M} UTC (text version 1)" in text_of(page)
    # The section's poll redraws when a guest inside agrees to a new text.
    inside = client.get(f"/rooms/{room.id}/inside", headers=HTMX).get_data(as_text=True)
    seen = re.search(r"seen=(\w+)", inside).group(1)
    assert client.get(f"/rooms/{room.id}/inside?seen={seen}", headers=HTMX).status_code == 204
    assert edit_room(client, room, consent_required="y",
                     consent_text="We now also record the chat.").status_code == 303
    assert guest.enter(link_path(app, link), "Ada", **agree(2)).status_code == 303
    redrawn = client.get(f"/rooms/{room.id}/inside?seen={seen}", headers=HTMX)
    assert redrawn.status_code == 200 and "(text version 2)" in text_of(redrawn)


# --- the text shown is the text agreed to -------------------------------------------------------

@pytest.mark.parametrize("door", ["link", "invitation"])
def test_a_text_changed_while_the_lobby_was_open_is_shown_and_asked_again(
        app, client, signed_in_owner, room, link, door):
    """The guest read version 1; the host saved a new text before they pressed Join: the lobby
    shows the new text and asks again. Nothing is stored, no use spent, no invitation bound."""
    if door == "link":
        path = link_path(app, link)
    else:
        user = make_user("ivy@example.com", access="guest")
        invitation = Invitation.create(room=room, user=user, email=user.email, valid_once=True)
        path = invitation_path(app, invitation)
    guest = GuestActions(app)
    shown = version_shown(guest.get(path))
    assert shown == "1"
    assert edit_room(client, room, consent_required="y",
                     consent_text="We now also record the chat.").status_code == 303

    response = guest.enter(path, "Ada", "ivy@example.com", **agree(shown))
    assert response.status_code == 409
    page = text_of(response)
    assert "The host changed the text to agree to. Please read it again." in page
    assert "We now also record the chat." in page and NOTICE not in page
    assert version_shown(response) == "2"
    html = response.get_data(as_text=True)
    assert re.search(r'<input[^>]*name="consent"[^>]*checked', html) is None  # ticked again?
    assert 'value="Ada"' in html  # what was typed is kept
    assert Participant.select().count() == 0
    assert GuestLink.get_by_id(link.id).uses == 0
    if door == "invitation":
        assert Invitation.get_by_id(invitation.id).bound_device is None

    # Agreeing to the text now shown: in, and the record names version 2.
    response = guest.enter(path, "Ada", "ivy@example.com", **agree(version_shown(response)))
    assert response.status_code == 303
    assert Participant.get().consent_version == 2


def test_a_form_that_names_no_version_is_asked_again(app, room, link):
    """A lobby page loaded before this check existed, or a form made by hand: which text the
    guest read isn't known, so nothing is recorded as agreed."""
    guest = GuestActions(app)
    for version in (None, "", "x", "0", "99999999999999999999"):
        fields = {"consent": "y"} if version is None else agree(version)
        response = guest.enter(link_path(app, link), "Ada", **fields)
        assert response.status_code == 409, version
        assert "Please read it again" in text_of(response)
    assert Participant.select().count() == 0 and GuestLink.get_by_id(link.id).uses == 0


def test_the_changed_text_is_said_in_german(app, room, link):
    response = GuestActions(app).post(link_path(app, link), headers=GERMAN, data={
        "name": "Ada", "email": "ada@example.com", "consent": "y", "consent_version": "0"})
    assert response.status_code == 409
    assert "Der Host hat den Text geändert, dem Sie zustimmen sollen. Bitte lesen Sie ihn erneut." \
        in text_of(response)
