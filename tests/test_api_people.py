"""The people of a room through the API: waiting guests admitted (one, or everyone) get into
the room on their own pages, as when the host clicks Admit; deny, remove, move to the waiting
room, allow again and the role, each as on screen and audited the same."""

import pytest
from api_helpers import Api, token_for
from helpers import (
    GuestActions,
    OwnerActions,
    invited_guest,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal.models import AuditEvent, GuestLink, Invitation, Participant, Room


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", require_approval=True,
                     guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


@pytest.fixture
def api(app, owner):
    return Api(app, token_for(owner))


def test_admit_everyone_waiting_lets_their_pages_in(api, room, arrive):
    guests = [arrive(f"Guest {n}", f"g{n}@example.com") for n in range(3)]
    waiting = api.get(f"/api/v1/rooms/{room.id}/waiting").json
    assert waiting["total"] == 3
    assert [p["email"] for p in waiting["items"]] == ["g0@example.com", "g1@example.com",
                                                      "g2@example.com"]
    assert all(p["status"] == "waiting" and p["link_id"] for p in waiting["items"])
    for guest in guests:
        assert "Waiting to be admitted" in text_of(guest.place(room))
    done = api.post(f"/api/v1/rooms/{room.id}/waiting/admit-all")
    assert done.status_code == 200
    assert sorted(done.json["done"]) == sorted(g.participant.id for g in guests)
    for guest in guests:
        assert guest.get(f"/s/{room.id}/status?state=waiting").headers["HX-Refresh"] == "true"
        assert "You're in" in text_of(guest.place(room))
    inside = api.get(f"/api/v1/rooms/{room.id}/inside").json
    assert inside["total"] == 3 and {p["role"] for p in inside["items"]} == {"viewer"}
    events = AuditEvent.select().where(AuditEvent.action == "guest_admitted")
    assert events.count() == 3 and {e.actor_email for e in events} == {"owner@example.com"}
    again = api.post(f"/api/v1/rooms/{room.id}/waiting/admit-all")
    assert again.json == {"done": []}


def test_admit_and_deny_some(api, room, arrive):
    ada, bob = arrive("Ada", "ada@example.com"), arrive("Bob", "bob@example.com")
    admitted = api.post(f"/api/v1/rooms/{room.id}/waiting/admit",
                        json={"ids": [ada.participant.id]})
    assert admitted.json == {"done": [ada.participant.id]}
    denied = api.post(f"/api/v1/rooms/{room.id}/waiting/deny",
                      json={"ids": [bob.participant.id, ada.participant.id]})
    assert denied.json == {"done": [bob.participant.id]}  # Ada wasn't waiting any more
    assert "The host didn't admit you" in text_of(bob.place(room))
    away = api.get(f"/api/v1/rooms/{room.id}/turned-away").json
    assert [(p["email"], p["status"], p["link_id"]) for p in away["items"]] == [
        ("bob@example.com", "rejected", bob.participant.link_id)]
    assert bob.participant.link_id  # the door they came by, as the other lists give it
    for body in ({"ids": []}, {"ids": ["1"]}, {"ids": [0]}, {"ids": [2**64]}, {}):
        bad = api.post(f"/api/v1/rooms/{room.id}/waiting/deny", json=body)
        assert bad.status_code == 422 and "ids" in str(bad.json["errors"]), body


def test_deny_with_a_message_the_guest_reads(api, room, arrive):
    ada = arrive("Ada", "ada@example.com")
    for message in ("x" * 301, "two\nlines", 7):
        bad = api.post(f"/api/v1/rooms/{room.id}/waiting/deny",
                       json={"ids": [ada.participant.id], "message": message})
        assert bad.status_code == 422 and "message" in bad.json["errors"], message
    assert Participant.get_by_id(ada.participant.id).status == "waiting"
    denied = api.post(f"/api/v1/rooms/{room.id}/waiting/deny",
                      json={"ids": [ada.participant.id], "message": "Staff only, sorry."})
    assert denied.json == {"done": [ada.participant.id]}
    assert "Message from the host: Staff only, sorry." in text_of(ada.place(room))
    event = AuditEvent.get(AuditEvent.action == "guest_denied")
    assert event.detail == "Message: Staff only, sorry."
    assert event.actor_email == "owner@example.com"


def test_remove_move_allow_again_and_role(api, room, arrive):
    ada = arrive("Ada", "ada@example.com")
    pid = ada.participant.id
    api.post(f"/api/v1/rooms/{room.id}/waiting/admit-all")
    base = f"/api/v1/rooms/{room.id}/people/{pid}"
    role = api.put(f"{base}/role", json={"role": "speaker"})
    assert role.status_code == 200 and Participant.get_by_id(pid).role == "speaker"
    assert api.put(f"{base}/role", json={"role": "boss"}).status_code == 422
    assert api.post(f"{base}/move-to-waiting").json == {"done": [pid]}
    assert Participant.get_by_id(pid).status == "waiting"
    api.post(f"/api/v1/rooms/{room.id}/waiting/admit", json={"ids": [pid]})
    assert api.post(f"{base}/remove").json == {"done": [pid]}
    assert "removed" in text_of(ada.place(room))
    twice = api.post(f"{base}/remove")
    assert twice.status_code == 409 and twice.json["code"] == "not_inside"
    not_in = api.put(f"{base}/role", json={"role": "viewer"})
    assert not_in.status_code == 409 and not_in.json["code"] == "not_inside"
    assert api.post(f"{base}/allow-again").json == {"done": [pid]}
    again = api.post(f"{base}/allow-again")
    assert again.status_code == 409 and again.json["code"] == "not_turned_away"
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.room == room.id)
               .order_by(AuditEvent.id)]
    assert actions == ["guest_admitted", "role_changed", "guest_moved_to_waiting",
                       "guest_admitted", "guest_removed", "guest_allowed_again"]
    assert api.post(f"/api/v1/rooms/{room.id}/people/999999/remove").status_code == 404


def test_an_invited_guest_s_role_changes_their_invitation(app, api, owner, db):
    room = make_room(owner, guest_access_enabled=True)
    guest = invited_guest(app, room, "mod@example.com")
    pid = guest.participant.id
    assert api.put(f"/api/v1/rooms/{room.id}/people/{pid}/role",
                   json={"role": "moderator"}).status_code == 200
    assert Invitation.get(Invitation.email == "mod@example.com").role == "moderator"


def test_denial_reasons(api, app, room, link, owner, db):
    Room.update(guest_access_enabled=False).where(Room.id == room.id).execute()
    for n in range(2):
        GuestActions(app).enter(link_path(app, link), f"G{n}", f"g{n}@example.com")
    denials = api.get(f"/api/v1/rooms/{room.id}/denials").json
    assert denials["counts"][0]["reason"] == "guest_access_off"
    assert denials["counts"][0]["all"] >= 2 and denials["counts"][0]["words"]
    assert len(denials["recent"]) >= 2 and denials["recent"][0]["link_id"] == link.id


def test_the_audit_log_by_cursor(api, owner, db):
    room = make_room(owner)
    for n in range(3):
        api.post(f"/api/v1/rooms/{room.id}/links", json={"name": f"L{n}"})
    for enabled in (True, False):
        api.put(f"/api/v1/rooms/{room.id}/guest-access", json={"enabled": enabled})
    first = api.get(f"/api/v1/rooms/{room.id}/audit", query_string={"limit": 3}).json
    rest = api.get(f"/api/v1/rooms/{room.id}/audit",
                   query_string={"limit": 3, "cursor": first["next_cursor"]}).json
    events = first["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [e["action"] for e in events] == ["guest_access_off", "guest_access_on",
                                             "link_created", "link_created", "link_created"]
    assert events[-1]["who"] == "owner@example.com"
    assert events[-1]["action_words"] == "Created a guest link"


def test_the_whole_audit_log_is_for_admins(app, api, owner, db):
    """Every room's events and the organisation's settings, filtered by room and action, as the
    admin's /admin/audit screen shows them; a broadcaster's token is refused."""
    room, other = make_room(owner, title="Mine"), make_room(owner, title="Other")
    api.post(f"/api/v1/rooms/{room.id}/links", json={"name": "L"})
    api.put(f"/api/v1/rooms/{other.id}/guest-access", json={"enabled": True})
    refused = api.get("/api/v1/audit")
    assert refused.status_code == 403 and refused.json["code"] == "admins_only"

    admin = make_user("admin@example.com", access="admin")
    boss = Api(app, token_for(admin))  # its creation is audited outside any room
    everything = boss.get("/api/v1/audit").json["items"]
    assert [(e["action"], e["room_id"]) for e in everything] == [
        ("api_token_created", None), ("guest_access_on", other.id), ("link_created", room.id),
        ("api_token_created", None)]
    only_room = boss.get("/api/v1/audit", query_string={"room_id": room.id}).json["items"]
    assert [e["action"] for e in only_room] == ["link_created"]
    only_tokens = boss.get("/api/v1/audit", query_string={"action": "api_token_created"}).json
    assert [e["who"] for e in only_tokens["items"]] == ["admin@example.com", "owner@example.com"]
    first = boss.get("/api/v1/audit", query_string={"limit": 2}).json
    rest = boss.get("/api/v1/audit", query_string={"limit": 2,
                                                    "cursor": first["next_cursor"]}).json
    assert first["items"] + rest["items"] == everything and rest["next_cursor"] is None
    bad = boss.get("/api/v1/audit", query_string={"action": "nonsense", "room_id": "x"})
    assert bad.status_code == 422 and set(bad.json["errors"]) >= {"action", "room_id"}
    # The screen reads the same log, filtered alike.
    screen = OwnerActions(app.test_client())
    screen.sign_in("admin@example.com")
    page = text_of(screen.client.get(f"/admin/audit?room={room.id}"))
    assert "(link_created)" in page and "(guest_access_on)" not in page
