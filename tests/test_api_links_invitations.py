"""Guest links and invitations through the API, over real HTTP where it matters: what the API
makes shows on the owner's room page and its URL opens the lobby; invitations sent over the API
arrive through a real SMTP server (aiosmtpd) with working links; every change is audited as the
same action on screen."""

import http.client
from datetime import timedelta

import pytest
from api_helpers import Api, HttpApi, token_for
from helpers import GuestActions, LiveServer, make_room, text_of

from portal.models import AuditEvent, GuestLink, Invitation, Room


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings, "MAX_INVITATIONS_PER_ROOM": 60}


@pytest.fixture
def room(owner):
    return make_room(owner, guest_access_enabled=True)


@pytest.fixture
def api(app, owner):
    return Api(app, token_for(owner))


def _path(url: str) -> str:
    return url.removeprefix("http://guestgate.test")


# --- links ----------------------------------------------------------------------------------------

def test_a_link_made_over_http_shows_on_the_room_page_and_opens_the_lobby(app, owner, auth,
                                                                          client, db):
    with LiveServer(app) as server:
        api = HttpApi(app, server.url, token_for(owner))
        status, _h, room = api.request("POST", "/api/v1/rooms", {
            "title": "Launch party", "starts_at": "2031-03-01T18:00:00Z",
            "ends_at": "2031-03-01T20:00:00Z"})
        assert status == 201
        status, _h, access = api.request("PUT", f"/api/v1/rooms/{room['id']}/guest-access",
                                         {"enabled": True})
        assert (status, access) == (200, {"enabled": True})
        status, _h, link = api.request("POST", f"/api/v1/rooms/{room['id']}/links",
                                       {"name": "Press", "max_uses": 50, "days": 7})
        assert status == 201
        assert link["url"].startswith(server.url + "/g/")
        assert (link["max_uses"], link["uses"], link["state"]) == (50, 0, "active")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", link["url"].removeprefix(server.url))
        lobby = conn.getresponse()
        page = lobby.read().decode()
        conn.close()
        assert lobby.status == 200 and "Launch party" in page
    auth.sign_in()
    room_page = client.get(f"/rooms/{room['id']}/access").get_data(as_text=True)
    assert "Press" in room_page and link["url"] in room_page
    event = AuditEvent.get(AuditEvent.action == "link_created")
    assert (event.target, event.actor_email) == ("Press", "owner@example.com")


def test_extend_and_raise_a_link(api, room, db):
    link = api.post(f"/api/v1/rooms/{room.id}/links", json={"name": "Guests", "max_uses": 2,
                                                            "days": 1}).json
    changed = api.patch(f"/api/v1/rooms/{room.id}/links/{link['id']}",
                        json={"add_clicks": 3, "extend_days": 1})
    assert changed.status_code == 200
    assert changed.json["max_uses"] == 5
    stored = GuestLink.get_by_id(link["id"])
    assert stored.expires_at == Room.get_by_id(room.id).ends_at  # capped by the session's end
    actions = {e.action for e in AuditEvent.select()}
    assert {"link_created", "link_limit_raised", "link_extended"} <= actions


def test_link_refusals(api, room, owner, db):
    base = f"/api/v1/rooms/{room.id}/links"
    unlimited = api.post(base, json={"name": "Open"}).json
    refused = api.patch(f"{base}/{unlimited['id']}", json={"add_clicks": 1})
    assert refused.status_code == 409 and refused.json["code"] == "no_click_limit"
    assert api.patch(f"{base}/{unlimited['id']}", json={}).status_code == 422
    api.post(base, json={"name": "Two"})
    api.post(base, json={"name": "Three"})
    full = api.post(base, json={"name": "Four"})
    assert full.status_code == 409 and full.json["code"] == "too_many_links"
    for body, field in [({"name": ""}, "name"), ({"name": "a\x00b"}, "name"),
                        ({"name": "x", "max_uses": 0}, "max_uses"),
                        ({"name": "x", "max_uses": 10**400}, "max_uses"),
                        ({"name": "x", "max_uses": "10"}, "max_uses"),
                        ({"name": "x", "max_uses": 1.5}, "max_uses"),
                        ({"name": "x", "days": 3651}, "days")]:
        bad = api.post(base, json=body)
        assert bad.status_code == 422 and field in bad.json["errors"], body
    ended = make_room(owner, title="Over", starts_in=-timedelta(hours=3))
    old = api.post(f"/api/v1/rooms/{ended.id}/links", json={"name": "Late"}).json
    late = api.patch(f"/api/v1/rooms/{ended.id}/links/{old['id']}", json={"extend_days": 1})
    assert late.status_code == 409 and late.json["code"] == "session_ended"
    channel = make_room(owner, kind="channel")
    no = api.post(f"/api/v1/rooms/{channel.id}/links", json={"name": "x"})
    assert no.status_code == 409 and no.json["code"] == "channel_room"


def test_a_deleted_link_lets_nobody_in(app, api, room, db):
    link = api.post(f"/api/v1/rooms/{room.id}/links", json={"name": "Gone soon"}).json
    assert api.delete(f"/api/v1/rooms/{room.id}/links/{link['id']}").status_code == 204
    assert GuestActions(app).open(_path(link["url"])).status_code == 410
    assert api.get(f"/api/v1/rooms/{room.id}/links").json == {"items": []}
    assert api.delete(f"/api/v1/rooms/{room.id}/links/{link['id']}").status_code == 404


# --- invitations ----------------------------------------------------------------------------------

def test_invite_fifty_people_and_send_now(app, api, room, smtp, db):
    addresses = [f"guest{n}@example.com" for n in range(50)]
    response = api.post(f"/api/v1/rooms/{room.id}/invitations", json={
        "emails": addresses + ["not an address", "GUEST1@example.com"], "role": "speaker",
        "send_now": True})
    assert response.status_code == 201
    body = response.json
    assert [i["email"] for i in body["added"]] == addresses
    assert all(i["email_status"] == "sent" and i["role"] == "speaker" for i in body["added"])
    assert {r["email"]: r["reason"] for r in body["refused"]}["an"] == "invalid email address"
    assert len(body["emailed"]) == 50 and all(e["sent"] for e in body["emailed"])
    messages = smtp.messages()
    assert sorted(m["To"] for m in messages) == sorted(addresses)
    first = next(m for m in messages if m["To"] == "guest0@example.com")
    url = next(i["url"] for i in body["added"] if i["email"] == "guest0@example.com")
    assert url in first.get_body(("plain",)).get_content()
    lobby = GuestActions(app).open(_path(url))
    assert lobby.status_code == 200 and "Launch" in text_of(lobby)
    assert AuditEvent.select().where(AuditEvent.action == "invited").count() == 50
    assert AuditEvent.select().where(AuditEvent.action == "invitation_emailed").count() == 50


def test_resend_reset_role_and_revoke(app, api, room, smtp, db):
    base = f"/api/v1/rooms/{room.id}/invitations"
    inv = api.post(base, json={"emails": ["ada@example.com"]}).json["added"][0]
    assert inv["email_status"] == "not_sent" and not smtp.envelopes
    sent = api.post(f"{base}/{inv['id']}/send")
    assert sent.status_code == 200 and sent.json == {"invitation_id": inv["id"], "sent": True,
                                                      "error": None}
    assert len(smtp.envelopes) == 1
    reset = api.post(f"{base}/{inv['id']}/reset").json
    assert reset["url"] != inv["url"] and reset["email_status"] == "not_sent"
    assert GuestActions(app).open(_path(inv["url"])).status_code == 410  # the old link is dead
    role = api.patch(f"{base}/{inv['id']}", json={"role": "moderator"})
    assert role.status_code == 200 and role.json["role"] == "moderator"
    assert Invitation.get_by_id(inv["id"]).role == "moderator"
    assert api.patch(f"{base}/{inv['id']}", json={"role": "king"}).status_code == 422
    assert api.delete(f"{base}/{inv['id']}").status_code == 204
    assert GuestActions(app).open(_path(reset["url"])).status_code == 410
    assert api.get(base).json == {"items": []}
    assert api.get(f"{base}/{inv['id']}").status_code == 404
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.room == room.id)
               .order_by(AuditEvent.id)]
    assert actions[:5] == ["invited", "invitation_emailed", "invitation_reset", "role_changed",
                           "invitation_removed"]


def test_invitation_refusals(api, room, owner, db):
    base = f"/api/v1/rooms/{room.id}/invitations"
    none = api.post(base, json={"emails": ["nope"]})
    assert none.status_code == 200 and none.json["added"] == []
    assert none.json["refused"] == [{"email": "nope", "reason": "invalid email address"}]
    many = api.post(base, json={"emails": [f"g{n}@example.com" for n in range(101)]})
    assert many.status_code == 422 and "emails" in many.json["errors"]
    packed = api.post(base, json={"emails": [f"g{n}@x.org, h{n}@x.org" for n in range(51)]})
    assert packed.status_code == 422 and packed.json["errors"]["emails"] == [
        "Enter at most 100 addresses at once."]  # the form's words, from the service
    for body, field in [({"emails": []}, "emails"), ({"emails": "a@example.com"}, "emails"),
                        ({"emails": ["a@example.com"], "role": "owner"}, "role"),
                        ({"emails": ["a@example.com"], "days": 0}, "days")]:
        bad = api.post(base, json=body)
        assert bad.status_code == 422 and field in bad.json["errors"], body
    channel = make_room(owner, kind="channel")
    refused = api.post(f"/api/v1/rooms/{channel.id}/invitations", json={"emails": ["a@b.org"]})
    assert refused.status_code == 409 and refused.json["code"] == "channel_room"
    assert Invitation.select().count() == 0
