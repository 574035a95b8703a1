"""A meeting name belongs to one room on its platform, and every platform accepts it.

The meeting name is what a platform knows a meeting by, and what Guestgate mints credentials
for: a second room with the same name would hand its owner a moderator's credential for the
first room's meeting. Guestgate names every meeting itself (the title made URL-safe, then
random letters nobody can guess); the database holds each name for one room on its platform,
deleted rooms included, compared as the platforms compare (Jitsi lower-cases room names)."""

import base64
import http.client
import itertools
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from helpers import GuestActions, LiveServer, OwnerActions, link_path, make_user, text_of
from peewee import IntegrityError

from portal import meetings
from portal.meetings import bigbluebutton
from portal.models import AuditEvent, GuestLink, Room
from portal.timeutil import utcnow

JITSI = {"JITSI_URL": "https://meet.example.org", "JITSI_APP_ID": "guestgate",
         "JITSI_APP_SECRET": "jitsi-secret-0123456789abcdef0123", "JITSI_AUDIENCE": "jitsi"}
LIVEKIT = {"LIVEKIT_URL": "wss://lk.example.org", "LIVEKIT_API_KEY": "APIkey",
           "LIVEKIT_API_SECRET": "livekit-secret-0123456789abcdef0123456789",
           "LIVEKIT_MEET_URL": "https://meet.example.org/custom"}
GALENE = {"GALENE_URL": "https://galene.example.org",
          "GALENE_KEY": base64.urlsafe_b64encode(b"g" * 32).decode()}
DERIVED = re.compile(r"[a-z0-9][a-z0-9-]*-[a-z2-7]{16}")


@pytest.fixture
def config(config, bbb_settings):
    return {**config, **JITSI, **LIVEKIT, **GALENE, **bbb_settings, "MEETING_TIMEOUT": 2}


def room_form(**overrides):
    return {"title": "Town hall", "starts_at": "2031-01-15T10:00",
            "ends_at": "2031-01-15T11:00", "timezone": "UTC", "kind": "regular",
            "platform": "jitsi", **overrides}


def owner_signed_in(app, email) -> OwnerActions:
    make_user(email)
    owner = OwnerActions(app.test_client())
    owner.sign_in(email)
    return owner


def create_room(owner: OwnerActions, **overrides) -> Room:
    response = owner.client.post("/rooms/new", data=room_form(**overrides))
    assert response.status_code == 303, text_of(response)
    return Room.get_by_id(int(response.location.rstrip("/").rsplit("/", 1)[-1]))


def open_to_guests(app, room: Room) -> GuestActions:
    """The room live now with guest access on, and a guest inside by its shared link."""
    Room.update(guest_access_enabled=True, starts_at=utcnow() - timedelta(minutes=5),
                ends_at=utcnow() + timedelta(hours=1)).where(Room.id == room.id).execute()
    guest = GuestActions(app)
    assert guest.enter(link_path(app, GuestLink.create(room=room, name="Guests"))) \
        .status_code == 303
    return guest


def jitsi_room(response) -> str:
    """The conference a Jitsi token lets its holder into (as prosody reads `room`)."""
    assert response.status_code == 303, text_of(response)
    token = parse_qs(urlsplit(response.location.split("#")[0]).query)["jwt"][0]
    return jwt.decode(token, JITSI["JITSI_APP_SECRET"], algorithms=["HS256"],
                      audience="jitsi", issuer="guestgate")["room"]


def java_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- one room, one name ------------------------------------------------------------------------

def test_another_owner_cant_take_a_rooms_meeting_name(app, db):
    """The review's attack: Bob copies the meeting name of Alice's room (printed in every Join
    URL of her guests) into his own room and clicks Join as host."""
    alice = owner_signed_in(app, "alice@example.com")
    bob = owner_signed_in(app, "bob@example.com")
    alices = create_room(alice, title="Board meeting")
    bobs = create_room(bob, title="Bob's room")
    theirs, his = alices.meeting, bobs.meeting

    for name in (theirs, theirs.upper()):  # Jitsi would read both as Alice's room
        response = bob.client.post(f"/rooms/{bobs.id}/edit",
                                   data=room_form(title="Bob's room", meeting_name=name))
        assert response.status_code == 303  # saved, but the name is Guestgate's to give
        assert Room.get_by_id(bobs.id).meeting == his
    assert Room.get_by_id(alices.id).meeting == theirs

    # Join as host: Bob is moderator of his own meeting, never of Alice's.
    assert jitsi_room(bob.client.get(f"/rooms/{bobs.id}/join")) == his != theirs
    # His shared-link guests land in his meeting, not past Alice's waiting room.
    assert jitsi_room(open_to_guests(app, bobs).join(bobs)) == his
    # The form offers no name to type; it shows the room's own.
    form = bob.client.get(f"/rooms/{bobs.id}/edit")
    assert 'name="meeting_name"' not in form.get_data(as_text=True)
    assert his in text_of(form)


def test_new_rooms_get_a_name_of_their_own_that_nobody_can_guess(app, db):
    owner = owner_signed_in(app, "owner@example.com")
    first, second = (create_room(owner, title="Café Talk") for _ in range(2))
    for room in (first, second):
        assert DERIVED.fullmatch(room.meeting) and room.meeting.startswith("cafe-talk-")
        assert not room.meeting.endswith(f"-{room.id}")  # no longer title + id
    assert first.meeting != second.meeting
    # Saving again, with a new title, keeps the name: guests already inside stay together.
    response = owner.client.post(f"/rooms/{first.id}/edit", data=room_form(title="Tea Talk"))
    assert response.status_code == 303
    assert Room.get_by_id(first.id).meeting == first.meeting


@pytest.mark.parametrize("spelling, first_deleted", [
    ("launch-1", False), ("Launch-1", False), ("launch-1", True)],
    ids=["same", "other-case", "held-by-a-deleted-room"])
def test_the_database_holds_a_name_for_one_room_on_its_platform(app, db, spelling,
                                                                 first_deleted):
    owner = make_user()
    times = {"starts_at": datetime(2031, 1, 1, 10), "ends_at": datetime(2031, 1, 1, 11)}
    Room.create(owner=owner, title="First", platform="jitsi", meeting_name="launch-1",
                deleted_at=datetime(2030, 12, 1) if first_deleted else None, **times)
    with pytest.raises(IntegrityError), db.atomic():
        Room.create(owner=owner, title="Second", platform="jitsi", meeting_name=spelling,
                    **times)
    # Another platform is another server: the same name names another meeting there.
    Room.create(owner=owner, title="Elsewhere", platform="livekit", meeting_name=spelling,
                **times)
    assert Room.select().count() == 2


def test_a_room_moved_to_a_platform_where_its_name_is_taken_gets_a_new_one(app, db):
    """Names are unique per platform: a room that moves to another platform keeps its name
    unless a room there holds it already."""
    alice = owner_signed_in(app, "alice@example.com")
    bob = owner_signed_in(app, "bob@example.com")
    alices = create_room(alice, title="Town hall")
    bobs = create_room(bob, title="Town hall", platform="livekit")
    Room.update(meeting_name=alices.meeting).where(Room.id == bobs.id).execute()  # allowed

    response = bob.client.post(f"/rooms/{bobs.id}/edit", data=room_form(platform="jitsi"))
    assert response.status_code == 303
    moved = Room.get_by_id(bobs.id)
    assert moved.platform == "jitsi" and DERIVED.fullmatch(moved.meeting)
    assert moved.meeting != alices.meeting == Room.get_by_id(alices.id).meeting
    assert jitsi_room(bob.client.get(f"/rooms/{bobs.id}/join")) == moved.meeting
    event = AuditEvent.get((AuditEvent.room == bobs.id) & (AuditEvent.action == "meeting_renamed"))
    assert alices.meeting in event.detail and moved.meeting in event.detail
    log = text_of(bob.client.get(f"/rooms/{bobs.id}/audit"))
    assert "Gave the meeting a new name" in log and "bob@example.com" in log


def test_seed_demo_names_its_rooms_by_the_same_rule(app, runner, db):
    """Every door goes through portal/services/rooms.save: the command line's demo rooms too."""
    for _ in range(2):  # run again, it adds a fresh set: still one name each
        assert runner.invoke(args=["seed-demo", "--json"]).exit_code == 0
    names = [r.meeting for r in Room.select().order_by(Room.id)]
    assert len(names) == 8 and len(set(names)) == 8
    assert all(DERIVED.fullmatch(name) for name in names)
    assert names[0].startswith("product-launch-live-now-")


# --- at the same moment ------------------------------------------------------------------------

def post_together(app, requests: list[tuple[OwnerActions, str, dict]]) -> list[int]:
    """Each owner's POST sent to a real threaded server at the same moment: the statuses."""
    ready = threading.Barrier(len(requests))

    def post(port, owner, path, data):
        cookie = f"session={owner.client.get_cookie('session').value}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ready.wait()
        try:
            conn.request("POST", path, body=urlencode(data), headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            return conn.getresponse().status
        finally:
            conn.close()

    with LiveServer(app) as server, ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(lambda r: post(server.port, *r), requests))


def test_two_rooms_moved_onto_one_name_at_the_same_moment_end_with_one_each(app, db):
    """Two rooms named alike on two platforms both move to Jitsi at once: one keeps the name,
    the other gets a new one — never both the same name, never a 500."""
    alice = owner_signed_in(app, "alice@example.com")
    bob = owner_signed_in(app, "bob@example.com")
    alices = create_room(alice, platform="livekit")
    bobs = create_room(bob, platform="galene")
    Room.update(meeting_name="town-hall").where(Room.id.in_([alices.id, bobs.id])).execute()

    statuses = post_together(app, [(alice, f"/rooms/{alices.id}/edit", room_form()),
                                   (bob, f"/rooms/{bobs.id}/edit", room_form())])
    assert statuses == [303, 303]
    rooms = [Room.get_by_id(alices.id), Room.get_by_id(bobs.id)]
    assert [r.platform for r in rooms] == ["jitsi", "jitsi"]
    names = sorted(r.meeting for r in rooms)
    assert names[0] != names[1] and "town-hall" in names


def test_two_rooms_created_at_the_same_moment_never_share_a_name(app, db, monkeypatch):
    """Even when both rooms' names come out the same (forced here), the database refuses the
    second and the second room is named again: both are created, no 500."""
    real, same = meetings.derive_name, itertools.count()
    monkeypatch.setattr(meetings, "derive_name", lambda title="": "town-hall-" + "a" * 16
                        if next(same) < 2 else real(title))
    alice = owner_signed_in(app, "alice@example.com")
    bob = owner_signed_in(app, "bob@example.com")
    statuses = post_together(app, [(alice, "/rooms/new", room_form()),
                                   (bob, "/rooms/new", room_form())])
    assert statuses == [303, 303]
    names = sorted(r.meeting for r in Room.select())
    assert len(names) == 2 and names[0] != names[1]
    assert "town-hall-" + "a" * 16 in names


# --- names every platform accepts --------------------------------------------------------------

@pytest.mark.parametrize("title", ["Q", "", "日本語の会議", "a,b", "x" * 300, "Ünïcödé — 2031",
                                   "--", "\U0001f389"])
def test_every_derived_name_fits_every_platform(title):
    name = meetings.derive_name(title)
    assert DERIVED.fullmatch(name) and len(name) <= 64 and "," not in name
    assert all(meetings.fits(platform, name) for platform in meetings.choices({}) +
               list(meetings.PLATFORMS))
    assert bigbluebutton.meeting_id_fits(name)


@pytest.mark.parametrize("title", ["Q", "\U0001f389" * 200],
                         ids=["one-letter", "200-emoji-are-400-utf16-units"])
def test_a_bigbluebutton_room_with_any_title_can_be_joined(app, db, bbb, title):
    """BigBlueButton wants 2 to 256 characters (as Java counts them) in a meeting's name: a room
    titled "Q" saved fine, then every Join answered 503 (create: sizeError)."""
    owner = owner_signed_in(app, "owner@example.com")
    room = create_room(owner, title=title, platform="bigbluebutton")
    response = owner.client.get(f"/rooms/{room.id}/join")
    assert response.status_code == 303 and "/html5client/join" in response.location
    shown = bbb.meetings[room.meeting]["name"]
    assert 2 <= java_length(shown) <= 256 and shown.startswith(title[:1])
    assert "/html5client/join" in open_to_guests(app, room).join(room).location


def test_a_one_letter_meeting_name_is_replaced_when_the_room_is_saved_for_bigbluebutton(
        app, db, bbb):
    owner = owner_signed_in(app, "owner@example.com")
    room = create_room(owner, title="Quiz", platform="livekit")
    Room.update(meeting_name="q").where(Room.id == room.id).execute()  # an older version's
    response = owner.client.post(f"/rooms/{room.id}/edit",
                                 data=room_form(title="Quiz", platform="bigbluebutton"))
    assert response.status_code == 303
    saved = Room.get_by_id(room.id)
    assert saved.platform == "bigbluebutton" and DERIVED.fullmatch(saved.meeting)
    assert "/html5client/join" in owner.client.get(f"/rooms/{room.id}/join").location
