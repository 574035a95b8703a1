"""Who may call what: every operation of the OpenAPI document, called as each kind of caller that
must not get through — nobody, another owner, a read-only token (writes), an expired or revoked
token, a demoted account, an account signed out everywhere. Nothing leaks (another owner's room
is 404, exactly as a room that doesn't exist), and nothing changes (every table is the same
after as before)."""

from datetime import timedelta

import pytest
from api_helpers import Api, token_for, token_row
from helpers import GuestActions, link_path, make_room, make_user

from portal.db import database
from portal.models import (
    MODELS,
    ApiToken,
    GuestLink,
    Invitation,
    RateLimitCounter,
    User,
    WebhookEndpoint,
)
from portal.services import webhooks
from portal.timeutil import utcnow

# A valid body for every write: a refusal must come from who calls, not from what they sent.
BODIES = {
    ("post", "/api/v1/rooms"): {"title": "X", "starts_at": "2031-01-01T10:00:00Z",
                                "ends_at": "2031-01-01T11:00:00Z"},
    ("patch", "/api/v1/rooms/{room_id}"): {"title": "Taken over"},
    ("put", "/api/v1/rooms/{room_id}/guest-access"): {"enabled": False},
    ("post", "/api/v1/rooms/{room_id}/links"): {"name": "Mine now"},
    ("patch", "/api/v1/rooms/{room_id}/links/{link_id}"): {"extend_days": 1},
    ("post", "/api/v1/rooms/{room_id}/invitations"): {"emails": ["x@example.com"]},
    ("patch", "/api/v1/rooms/{room_id}/invitations/{invitation_id}"): {"role": "moderator"},
    ("post", "/api/v1/rooms/{room_id}/waiting/admit"): {"ids": [1]},
    ("post", "/api/v1/rooms/{room_id}/waiting/deny"): {"ids": [1]},
    ("put", "/api/v1/rooms/{room_id}/people/{participant_id}/role"): {"role": "speaker"},
    ("put", "/api/v1/rooms/{room_id}/registration"): {"enabled": True, "capacity": 5},
    ("post", "/api/v1/rooms/{room_id}/registrations/approve"): {"ids": [1]},
    ("post", "/api/v1/rooms/{room_id}/registrations/decline"): {"ids": [1]},
    ("post", "/api/v1/webhooks"): {"url": "https://hooks.example.com/in",
                                   "events": ["guest.waiting"]},
    ("patch", "/api/v1/webhooks/{webhook_id}"): {"url": "https://evil.example.com/in",
                                                 "enabled": False},
}
READS = ("get",)


def operations(app):
    paths = app.test_client().get("/api/v1/openapi.json").get_json()["paths"]
    for path, item in paths.items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                yield method, path


@pytest.fixture
def victim(app, owner, db):
    """owner@example.com's room with something of everything in it."""
    room = make_room(owner, require_approval=True, guest_access_enabled=True)
    link = GuestLink.create(room=room, name="Theirs", max_uses=10)
    invitation = Invitation.create(room=room, user=make_user("inv@example.com", access="guest"),
                                   email="inv@example.com")
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Wanda", "wanda@example.com")
    with app.app_context():
        endpoint, _secret = webhooks.create_endpoint(owner, "https://hooks.example.com/mine",
                                                     ["guest.waiting"])
        delivery = webhooks.send_test(endpoint)
    return {"room_id": room.id, "link_id": link.id, "invitation_id": invitation.id,
            "participant_id": guest.participant.id, "webhook_id": endpoint.id,
            "delivery_id": delivery.id}


def snapshot() -> dict:
    with database.connection_context():
        return {m.__name__: sorted(map(repr, m.select().tuples()))
                for m in MODELS if m is not RateLimitCounter}


def call_everything(app, token, ids, writes_only=False):
    api = Api(app, token)
    answers = {}
    for method, path in operations(app):
        if writes_only and method in READS:
            continue
        url = path.format(**ids)
        response = api.request(method.upper(), url, json=BODIES.get((method, path)))
        problem = response.content_type == "application/problem+json"
        answers[(method, path)] = (response.status_code,
                                   response.json["code"] if problem else None)
    return answers


def test_the_bodies_cover_every_write(app):
    writes = {(m, p) for m, p in operations(app) if m not in READS}
    bodiless = {("delete", p) for m, p in writes if m == "delete"} | {
        (m, p) for m, p in writes if p.endswith(("/send", "/reset", "/admit-all", "/remove",
                                                  "/move-to-waiting", "/allow-again",
                                                  "/rotate-secret", "/test", "/resend"))}
    assert writes - bodiless == set(BODIES)


def _expect_all(answers, status, code):
    wrong = {op: got for op, got in answers.items() if got != (status, code)}
    assert not wrong, wrong


def test_nobody(app, victim):
    before = snapshot()
    _expect_all(call_everything(app, "", victim), 401, "token_missing")
    assert snapshot() == before


def test_another_owner_sees_nothing_and_changes_nothing(app, victim):
    intruder = make_user("intruder@example.com")
    token = token_for(intruder)
    before = snapshot()
    answers = call_everything(app, token, victim)
    own = {("get", "/api/v1/rooms"), ("post", "/api/v1/rooms"),  # their own list, their own room
           ("get", "/api/v1/webhooks"), ("post", "/api/v1/webhooks")}  # and endpoint
    # The whole audit log is for admins: refused as such, saying nothing of any room.
    assert answers.pop(("get", "/api/v1/audit")) == (403, "admins_only")
    _expect_all({op: got for op, got in answers.items() if op not in own}, 404, "not_found")
    assert snapshot()["Invitation"] == before["Invitation"]
    assert snapshot()["Participant"] == before["Participant"]
    listed = Api(app, token).get("/api/v1/rooms").json["items"]
    assert victim["room_id"] not in [r["id"] for r in listed]
    assert snapshot()["WebhookDelivery"] == before["WebhookDelivery"]
    theirs = WebhookEndpoint.get_by_id(victim["webhook_id"])
    assert (theirs.url, theirs.status) == ("https://hooks.example.com/mine", "active")
    hooks = Api(app, token).get("/api/v1/webhooks").json["items"]
    assert victim["webhook_id"] not in [h["id"] for h in hooks]
    # ... and exactly as a room that doesn't exist: nobody learns which ids are taken
    missing = {k: 999999 for k in victim}
    assert call_everything(app, token, missing) == {**answers,
                                                    ("get", "/api/v1/audit"): (403, "admins_only")}


def test_a_read_only_token_changes_nothing(app, owner, victim):
    token = token_for(owner, scope="read")
    before = snapshot()
    _expect_all(call_everything(app, token, victim, writes_only=True), 403,
                "insufficient_scope")
    assert snapshot() == before
    reads = {op: got for op, got in call_everything(app, token, victim).items()
             if op[0] in READS}
    assert reads.pop(("get", "/api/v1/audit")) == (403, "admins_only")  # not an admin
    assert {status for status, _code in reads.values()} == {200}


@pytest.mark.parametrize("how, status, code", [
    ("expired", 401, "token_invalid"), ("revoked", 401, "token_invalid"),
    ("demoted", 403, "account_not_owner"), ("signed_out_everywhere", 401, "token_invalid"),
    ("removed_account", 401, "token_invalid"),
])
def test_a_token_that_stopped_working_changes_nothing(app, client, auth, owner, victim, how,
                                                      status, code):
    if how == "removed_account":
        doomed = make_user("doomed@example.com")
        token = token_for(doomed)
        doomed.delete_instance()
    else:
        token = token_for(owner)
    if how == "expired":
        ApiToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    elif how == "revoked":
        auth.sign_in()
        assert client.post(f"/api-tokens/{token_row(token).id}/revoke").status_code == 303
    elif how == "demoted":
        User.update(access="guest").where(User.id == owner.id).execute()
    elif how == "signed_out_everywhere":
        make_user("admin@example.com", access="admin")
        auth.sign_in("admin@example.com")
        assert client.post(f"/admin/users/{owner.id}/sign-out").status_code == 303
    before = snapshot()
    _expect_all(call_everything(app, token, victim), status, code)
    assert snapshot() == before
