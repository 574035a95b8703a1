"""The status poll (/s/ROOM/status), which every waiting guest's page makes every few seconds:
it decides from plain values read in one narrow query, and must answer as the full page
would decide."""

from datetime import datetime, timedelta

import flask
import pytest
from helpers import GuestActions, invited_guest, link_path, make_room, text_of

from portal import access, create_app, poll, timeutil
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
                assert poll.page_state(narrow, facts.host_message) == \
                    poll.page_state(full, door.room.host_message)
            states[device] = poll.page_state(narrow, facts.host_message)
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


def _crowd_of_every_kind():
    """Guests whose polls answer each way: waiting 1st and 2nd in line, inside with a role,
    removed, on a countdown, inside and waiting through a deleted link. Devices d1..d7."""
    now = timeutil.utcnow()
    owner = User.create(email="owner@example.com", password_hash="x", access="broadcaster")
    live = Room.create(owner=owner, title="Live", starts_at=now - timedelta(minutes=5),
                       ends_at=now + timedelta(hours=1), guest_access_enabled=True,
                       require_approval=True, host_message="Welcome")
    later = Room.create(owner=owner, title="Later", starts_at=now + timedelta(hours=2),
                        ends_at=now + timedelta(hours=3), guest_access_enabled=True)
    link, soon, gone = (GuestLink.create(room=r, name=n)
                        for r, n in ((live, "Live"), (later, "Later"), (live, "Gone")))
    for device, room, door, status, extra in (
            ("d1", live, link, "waiting", {}), ("d2", live, link, "waiting", {}),
            ("d3", live, link, "admitted", {"role": "speaker"}),
            ("d4", live, link, "admitted", {"removed_at": now}),
            ("d5", later, soon, "admitted", {}), ("d6", live, gone, "admitted", {}),
            ("d7", live, gone, "waiting", {})):
        Participant.create(room=room, link=door, name=device, email=f"{device}@example.com",
                           status=status, device=device, created_at=now - timedelta(
                               seconds=10 - int(device[1])), **extra)
    gone.delete_instance()
    return live, later


def test_the_quick_answer_before_flask_is_the_routes_answer(app, config, db):
    """portal/quickpoll.py answers polls before Flask: for every kind of link guest and every
    state and place a page may hold, it answers exactly as the route does without it, and
    "unchanged" and "changed, reload" never reach Flask (only a new place in line does)."""
    slow_app = create_app({**config, "QUICK_POLL": False})
    reached_flask = []
    app.before_request(lambda: reached_flask.append(flask.request.full_path))
    live, later = _crowd_of_every_kind()
    truths = {}
    for device in ("d1", "d2", "d3", "d4", "d5", "d6", "d7"):
        room = later if device == "d5" else live
        quick, slow = app.test_client(), slow_app.test_client()
        for browser in (quick, slow):
            with browser.session_transaction() as session:
                session["device"], session.permanent = device, True
        truth = truths[device] = slow.get(f"/s/{room.id}/status?state=-").get_data(as_text=True)
        unchanged = 0
        for state in (truth, "waiting", "enter", "countdown", "-", "%00", None):
            for place, every in ((None, None), ("1", "5"), ("2", "5"), ("3", "5"), ("1", None),
                                 ("1", "60")):
                query = "&".join(f"{k}={v}" for k, v in (("state", state), ("place", place),
                                                          ("every", every)) if v is not None)
                path = f"/s/{room.id}/status?{query}"
                a, b = quick.get(path), slow.get(path)
                assert (a.status_code, a.headers.get("HX-Refresh")) == \
                    (b.status_code, b.headers.get("HX-Refresh")), (device, path)
                if a.status_code < 400:  # an error page carries a fresh form token each time
                    assert a.get_data() == b.get_data(), (device, path)
                if a.status_code == 204 or a.headers.get("HX-Refresh"):
                    unchanged += a.status_code == 204
                    assert not reached_flask, (path, reached_flask)  # answered before it
                    if a.status_code == 200:
                        assert a.mimetype == b.mimetype == "text/plain"
                reached_flask.clear()
                if a.status_code == 204 or a.headers.get("HX-Refresh"):
                    for header in ("Content-Security-Policy", "X-Frame-Options",
                                   "X-Content-Type-Options", "Referrer-Policy",
                                   "Cache-Control", "Vary", "Permissions-Policy"):
                        assert a.headers.get(header) == b.headers.get(header), header
                    assert "Set-Cookie" not in a.headers
        assert unchanged, device
    # Inside through a link deleted since, the guest keeps their seat until the page loads
    # again; waiting through it, they learn it at once.
    assert truths["d6"] == "enter" and truths["d7"] == "link_deleted"


def test_a_poll_without_a_valid_cookie_is_flasks_to_answer(app, db):
    live, _later = _crowd_of_every_kind()
    forged = app.test_client()
    forged.set_cookie("session", "eyJkZXZpY2UiOiJkMSJ9.forged.signature")
    answer = forged.get(f"/s/{live.id}/status?state=waiting&place=1")
    assert answer.status_code == 200 and answer.headers["HX-Refresh"] == "true"
    assert answer.get_data(as_text=True) == "gone"


# --- a guest in the room keeps their seat until their next page load --------------------------

def _access_off(room, link):
    Room.update(guest_access_enabled=False).where(Room.id == room.id).execute()


def _link_deleted(room, link):
    GuestLink.update(deleted_at=timeutil.utcnow()).where(GuestLink.id == link.id).execute()


def _link_expired(room, link):
    GuestLink.update(expires_at=timeutil.utcnow() - timedelta(seconds=1)).where(
        GuestLink.id == link.id).execute()


def _link_used_up(room, link):
    GuestLink.update(max_uses=1).where(GuestLink.id == link.id).execute()


def _invitation_removed(room, invitation):
    Invitation.update(removed_at=timeutil.utcnow()).where(
        Invitation.id == invitation.id).execute()


def _invitation_reset(room, invitation):
    Invitation.update(version=Invitation.version + 1).where(
        Invitation.id == invitation.id).execute()


def _invitation_expired(room, invitation):
    Invitation.update(expires_at=timeutil.utcnow() - timedelta(seconds=1)).where(
        Invitation.id == invitation.id).execute()


def _seated_by(app, room, kind, name="Ada"):
    """A guest inside `room` by a shared link or an invitation: (their browser, the door)."""
    if kind == "link":
        link = GuestLink.create(room=room, name="Guests")
        guest = GuestActions(app)
        email = f"{name.lower()}@example.com"
        assert guest.enter(link_path(app, link), name, email).status_code == 303
        return guest, link
    guest = invited_guest(app, room, "sam@example.com")
    return guest, guest.invitation


@pytest.mark.parametrize("quick", [True, False], ids=["quick-poll", "flask"])
@pytest.mark.parametrize("kind, change, page_load_reads", [
    ("link", _access_off, "The host has turned off guest access"),
    ("link", _link_deleted, "This link is no longer available"),
    ("link", _link_expired, "This link has expired"),
    ("link", _link_used_up, "You're in"),  # their own use: still theirs on the next load too
    ("invite", _invitation_removed, "This invitation is no longer valid"),
    ("invite", _invitation_reset, "This invitation is no longer valid"),
    ("invite", _invitation_expired, "This link has expired"),
])
def test_a_seated_guests_poll_doesnt_follow_their_door(
        app, config, db, owner, quick, kind, change, page_load_reads):
    """Access off, the link or invitation deleted, reset, used up or expired stop new entries;
    the guest already in the room is told nothing changed (204) until they load the page
    again, which decides again."""
    app = app if quick else create_app({**config, "QUICK_POLL": False})
    room = make_room(owner, guest_access_enabled=True)
    guest, door = _seated_by(app, room, kind)
    assert guest.get(f"/s/{room.id}/status?state=enter").status_code == 204
    change(room, door)
    for _ in range(2):
        poll = guest.get(f"/s/{room.id}/status?state=enter")
        assert poll.status_code == 204, poll.get_data(as_text=True)
    assert page_load_reads in text_of(guest.place(room))


@pytest.mark.parametrize("quick", [True, False], ids=["quick-poll", "flask"])
def test_a_seated_guests_poll_follows_what_is_about_them_and_the_room(
        app, config, db, owner, quick):
    """Remove, Move to waiting room, a new role, the room deleted or its session over: the
    room page learns it within one poll, also after access went off (the page then loads
    again, and reads what that load decides: the door first)."""
    app = app if quick else create_app({**config, "QUICK_POLL": False})
    room = make_room(owner, guest_access_enabled=True)
    guests = {name: _seated_by(app, room, "link", name)[0] for name in ("a", "b", "c", "d")}
    _access_off(room, None)
    now = timeutil.utcnow()
    poll = f"/s/{room.id}/status?state=enter"
    for name, change, state in (
            ("a", dict(status="rejected", removed_at=now), "guest_access_off"),
            ("b", dict(status="waiting", moved_at=now), "guest_access_off"),
            ("c", dict(role="speaker"), "enter.speaker")):
        Participant.update(**change).where(
            Participant.id == guests[name].participant.id).execute()
        answer = guests[name].get(poll)
        assert answer.headers.get("HX-Refresh") == "true", name
        assert answer.get_data(as_text=True) == state
    assert guests["d"].get(poll).status_code == 204
    Room.update(guest_access_enabled=True).where(Room.id == room.id).execute()
    assert guests["b"].get(poll).get_data(as_text=True) == "waiting"
    Room.update(ends_at=now).where(Room.id == room.id).execute()
    assert guests["d"].get(poll).get_data(as_text=True) == "session_ended"
    Room.update(deleted_at=now).where(Room.id == room.id).execute()
    assert guests["d"].get(poll).get_data(as_text=True) == "room_unavailable"


@pytest.mark.parametrize("quick", [True, False], ids=["quick-poll", "flask"])
def test_waiting_and_countdown_pages_follow_every_change_at_once(
        app, config, db, owner, quick):
    """Not in the room yet: their pages learn at once what their next load would say (rather
    than at the start, or on Admit)."""
    app = app if quick else create_app({**config, "QUICK_POLL": False})
    waiting_room = make_room(owner, guest_access_enabled=True, require_approval=True)
    later = make_room(owner, guest_access_enabled=True, starts_in=timedelta(hours=1))
    waiting, waiting_link = _seated_by(app, waiting_room, "link")
    early, early_link = _seated_by(app, later, "link")
    _link_deleted(waiting_room, waiting_link)
    _access_off(later, early_link)
    answer = waiting.get(f"/s/{waiting_room.id}/status?state=waiting&place=1&every=5")
    assert answer.get_data(as_text=True) == "link_deleted" and answer.headers["HX-Refresh"]
    answer = early.get(f"/s/{later.id}/status?state=countdown")
    assert answer.get_data(as_text=True) == "guest_access_off" and answer.headers["HX-Refresh"]
