"""Rooms through the API: every field of the room form, the same rules and messages as the form
(portal/services/rooms.py), the same audit events and calendar updates; pages by cursor and the
time filter; hostile bodies answered 4xx problems naming the field, never 500."""

from datetime import datetime

import pytest
from api_helpers import Api, token_for
from helpers import make_room, make_user, text_of

from portal.models import AuditEvent, Room

ROOM = {"title": "Winter town hall", "description": "Questions welcome.\nBring coffee.",
        "speakers": ["Ada Lovelace", "Grace Hopper"], "starts_at": "2031-01-15T10:00:00",
        "ends_at": "2031-01-15T11:30:00", "timezone": "Europe/Berlin", "kind": "regular",
        "require_approval": True, "require_email_match": False, "consent_required": True,
        "consent_text": "This session is recorded.", "join_url": "https://meet.example.org/x"}


@pytest.fixture
def api(app, owner):
    return Api(app, token_for(owner))


def create(api, **overrides):
    response = api.post("/api/v1/rooms", json={**ROOM, **overrides})
    assert response.status_code == 201, response.json
    return response.json


def test_create_reads_wall_clock_times_in_the_room_s_zone_like_the_form(api, auth, client, db,
                                                                         owner):
    room = create(api)
    assert room["starts_at"] == "2031-01-15T09:00:00Z"  # 10:00 in Berlin in January
    assert room["ends_at"] == "2031-01-15T10:30:00Z"
    assert room["speakers"] == ["Ada Lovelace", "Grace Hopper"]
    assert room["consent_version"] == 1 and room["platform"] == "other"
    assert room["owner"] == {"id": owner.id, "email": "owner@example.com"}
    assert room["url"] == f"http://guestgate.test/rooms/{room['id']}"
    stored = Room.get_by_id(room["id"])
    assert stored.starts_at == datetime(2031, 1, 15, 9, 0)
    assert stored.speakers == "Ada Lovelace\nGrace Hopper"
    assert stored.meeting_name.startswith("winter-town-hall-")
    event = AuditEvent.get(AuditEvent.action == "room_created")
    assert (event.room_id, event.actor_id, event.actor_email) == (room["id"], owner.id,
                                                                  "owner@example.com")
    # ... and it is the owner's room on screen
    auth.sign_in()
    assert "Winter town hall" in text_of(client.get("/rooms/"))
    assert "Bring coffee." in text_of(client.get(f"/rooms/{room['id']}/details"))


def test_an_offset_is_an_instant(api, db):
    room = create(api, starts_at="2031-06-01T08:00:00+02:00", ends_at="2031-06-01T07:00:00Z")
    assert (room["starts_at"], room["ends_at"]) == ("2031-06-01T06:00:00Z",
                                                    "2031-06-01T07:00:00Z")


def test_update_changes_only_what_is_sent_and_bumps_the_consent_version(api, db):
    room = create(api)
    response = api.patch(f"/api/v1/rooms/{room['id']}", json={"title": "Spring town hall"})
    assert response.status_code == 200
    assert response.json["title"] == "Spring town hall"
    assert response.json["starts_at"] == room["starts_at"]  # kept, in its own zone
    assert response.json["consent_version"] == 1
    changed = api.patch(f"/api/v1/rooms/{room['id']}", json={"consent_text": "Recorded, v2."})
    assert changed.json["consent_version"] == 2
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.room == room["id"])
               .order_by(AuditEvent.id)]
    assert actions == ["room_created", "room_edited", "room_edited", "consent_text_changed"]


def test_delete_answers_204_and_the_room_is_gone_for_the_api_and_its_links(api, app, db):
    room = create(api)
    assert api.delete(f"/api/v1/rooms/{room['id']}").status_code == 204
    assert Room.get_by_id(room["id"]).deleted_at is not None
    gone = api.get(f"/api/v1/rooms/{room['id']}")
    assert gone.status_code == 404 and gone.json["code"] == "not_found"
    assert api.delete(f"/api/v1/rooms/{room['id']}").status_code == 404


# --- the form's rules, with the form's words ------------------------------------------------------

@pytest.mark.parametrize("overrides, field, message", [
    ({"ends_at": "2031-01-15T09:00:00"}, "ends_at", "The end must be after the start."),
    ({"title": "   "}, "title", "Give the room a title."),
    ({"title": "x" * 201}, "title", "Field cannot be longer than 200 characters."),
    ({"title": "Bad\x00title"}, "title", "Remove the control characters"),
    ({"title": "Q3 \u202egnitsoh"}, "title", "Remove the invisible characters"),
    ({"description": "null\x00byte"}, "description", "Remove the control characters"),
    ({"speakers": ["Ada", "\u2067Grace\u2069"]}, "speakers", "Remove the invisible characters"),
    ({"join_url": "javascript:alert(1)"}, "join_url", "Enter a full web address"),
    ({"join_url": "meet.example.org/room"}, "join_url", "Enter a full web address"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Not a valid choice."),
    ({"timezone": "±" * 60}, "timezone", "Not a valid choice."),
    ({"kind": "stadium"}, "kind", "Not a valid choice."),
    ({"platform": "zoom"}, "platform", "Not a valid choice."),
    ({"consent_text": ""}, "consent_text", "Enter the text guests agree to"),
    ({"starts_at": "3000-01-01T10:00:00"}, "starts_at", "between the years 1900 and 2999"),
    ({"starts_at": "0001-01-01T00:00:00"}, "starts_at", "between the years 1900 and 2999"),
    ({"ends_at": "9999-12-31T23:59:59"}, "ends_at", "between the years 1900 and 2999"),
    ({"starts_at": "tomorrow"}, "starts_at", "Not a valid datetime."),
    ({"title": 5}, "title", "Not a valid string."),
    ({"require_approval": "perhaps"}, "require_approval", "Not a valid boolean."),
    ({"speakers": "Ada"}, "speakers", "Not a valid list."),
    ({"owner": 7}, "owner", "Unknown field."),
    ({"meeting_name": "other-room"}, "meeting_name", "Unknown field."),
])
def test_bad_fields_are_422_naming_the_field_with_the_form_s_words(api, db, overrides, field,
                                                                   message):
    response = api.post("/api/v1/rooms", json={**ROOM, **overrides})
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "invalid"
    assert any(message in m for m in response.json["errors"][field]), response.json
    assert Room.select().count() == 0


def test_missing_fields_are_named(api, db):
    response = api.post("/api/v1/rooms", json={})
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"title", "starts_at", "ends_at"}


def test_an_update_is_checked_against_the_whole_room(api, db):
    room = create(api)
    response = api.patch(f"/api/v1/rooms/{room['id']}",
                         json={"ends_at": "2031-01-15T08:00:00Z"})
    assert response.status_code == 422 and "ends_at" in response.json["errors"]
    assert Room.get_by_id(room["id"]).ends_at == datetime(2031, 1, 15, 10, 30)


@pytest.mark.parametrize("body, content_type, status", [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
    (b'{"title": "x", "starts_at": ' + b"9" * 5000 + b"}", "application/json", 400),
    (b'"a string"', "application/json", 422),
    (b"[1, 2]", "application/json", 422),
    (b"null", "application/json", 422),
    (b"title=x", "application/x-www-form-urlencoded", 422),
    (b"", "application/json", 422),
])
def test_hostile_bodies_are_problems_never_500(api, db, body, content_type, status):
    response = api.post("/api/v1/rooms", data=body, headers={"Content-Type": content_type})
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    assert Room.select().count() == 0


def test_nul_in_the_query_is_a_400_problem(api, db):
    response = api.get("/api/v1/rooms?cursor=a%00b")
    assert response.status_code == 400 and response.content_type == "application/problem+json"


# --- lists: scope, cursor, time filter ------------------------------------------------------------

def test_the_list_is_paged_by_cursor_in_start_order(api, owner, db):
    ids = [create(api, title=f"Room {n}", starts_at=f"2031-02-{n + 1:02d}T10:00:00",
                  ends_at=f"2031-02-{n + 1:02d}T11:00:00")["id"] for n in range(5)]
    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/rooms", query_string={"limit": 2, **(
            {"cursor": cursor} if cursor else {})}).json
        seen += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    later = api.get("/api/v1/rooms", query_string={"starts_after": "2031-02-03T00:00:00Z",
                                                    "starts_before": "2031-02-05T00:00:00Z"})
    assert [r["title"] for r in later.json["items"]] == ["Room 2", "Room 3"]


@pytest.mark.parametrize("query, field", [
    ({"cursor": "garbage"}, "cursor"), ({"cursor": "WzEsMl0"}, "cursor"),
    ({"limit": "0"}, "limit"), ({"limit": "101"}, "limit"), ({"limit": "9" * 400}, "limit"),
    ({"starts_after": "2031-01-01T10:00:00"}, "starts_after"),
])
def test_bad_list_arguments_are_named(api, db, query, field):
    response = api.get("/api/v1/rooms", query_string=query)
    assert response.status_code == 422
    assert field in response.json["errors"]


def test_owners_see_their_rooms_admins_all(app, owner, db):
    other = make_user("other@example.com")
    mine, theirs = make_room(owner, title="Mine"), make_room(other, title="Theirs")
    assert [r["id"] for r in Api(app, token_for(owner)).get("/api/v1/rooms").json["items"]] == \
        [mine.id]
    admin = make_user("admin@example.com", access="admin")
    listed = Api(app, token_for(admin)).get("/api/v1/rooms").json["items"]
    assert {r["id"] for r in listed} == {mine.id, theirs.id}
    assert Api(app, token_for(admin)).get(f"/api/v1/rooms/{mine.id}").status_code == 200


def test_guest_access_on_and_off(api, owner, db):
    room = make_room(owner)
    on = api.put(f"/api/v1/rooms/{room.id}/guest-access", json={"enabled": True})
    assert on.status_code == 200 and on.json == {"enabled": True}
    assert Room.get_by_id(room.id).guest_access_enabled
    channel = make_room(owner, kind="channel")
    refused = api.put(f"/api/v1/rooms/{channel.id}/guest-access", json={"enabled": True})
    assert refused.status_code == 409 and refused.json["code"] == "channel_room"
    assert AuditEvent.select().where(AuditEvent.action == "guest_access_on").count() == 1
