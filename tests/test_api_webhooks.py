"""Webhook endpoints through the API: what the API registers is the endpoint on the owner's
screen, and a real event reaches a real receiver (tests/webhook_receiver.py, which checks the
signature with svix's verifier and by the specification's words) signed with the secret the API
answered; refused input names its field; another account's endpoint is a 404 and stays as it
was; rotating, the delivery log, Send again and delete do what the screen's buttons do. Every
answer is checked against the OpenAPI document (tests/api_helpers.py)."""

import pytest
from api_helpers import Api, token_for
from helpers import make_room, make_user
from webhook_receiver import Receiver

from portal import webhook_delivery
from portal.db import database
from portal.models import AuditEvent, WebhookDelivery, WebhookEndpoint


@pytest.fixture
def config(config):
    return {**config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True, "WEBHOOK_TIMEOUT_SECONDS": 5}


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def api(app, owner):
    return Api(app, token_for(owner))


def deliver(app) -> int:
    """What `flask deliver-webhooks --once` does."""
    with app.app_context():
        try:
            return webhook_delivery.deliver_due()
        finally:
            database.close()


def register(api, receiver, events=("link.created",), **extra):
    response = api.post("/api/v1/webhooks", json={"url": receiver.url, "events": list(events),
                                                  **extra})
    assert response.status_code == 201, response.json
    receiver.secrets.append(response.json["secret"])
    return response.json


def test_an_endpoint_registered_over_the_api_is_on_the_screen_and_gets_signed_events(
        app, db, owner, auth, api, receiver):
    room = make_room(owner, title="Round-table", guest_access_enabled=True)
    made = register(api, receiver, ["link.created", "guest.waiting"], room_ids=[room.id],
                    description="CRM")
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["link.created", "guest.waiting"]
    assert made["room_ids"] == [room.id] and made["description"] == "CRM"
    assert made["enabled"] is True and made["status"] == "active"
    endpoint = WebhookEndpoint.get_by_id(made["id"])
    assert endpoint.owner_id == owner.id and endpoint.secret == made["secret"]
    assert AuditEvent.get(AuditEvent.action == "webhook_created").detail == \
        "link.created guest.waiting"
    # the secret is answered once: never by a read
    got = api.get(f"/api/v1/webhooks/{made['id']}").json
    assert "secret" not in got and got["url"] == receiver.url
    assert [e["id"] for e in api.get("/api/v1/webhooks").json["items"]] == [made["id"]]

    auth.sign_in()
    page = auth.client.get("/webhooks/")
    assert page.status_code == 200
    assert receiver.url in page.get_data(as_text=True)
    assert made["secret"] not in page.get_data(as_text=True)

    # a real event, caused over the API too, reaches the receiver signed with that secret
    link = api.post(f"/api/v1/rooms/{room.id}/links", json={"name": "Guests"}).json
    assert deliver(app) == 1
    [sent] = receiver.wait_for(1)
    assert sent.verified and sent.type == "link.created"
    assert sent.payload["data"]["link"]["id"] == link["id"]
    assert sent.payload["data"]["room"]["id"] == room.id

    log = api.get(f"/api/v1/webhooks/{made['id']}/deliveries").json["items"]
    assert len(log) == 1
    assert log[0]["type"] == "link.created" and log[0]["status"] == "delivered"
    assert log[0]["event_id"] == sent.webhook_id and log[0]["last_status"] == 200
    assert log[0]["attempts"] == 1 and log[0]["next_attempt_at"] is None


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.com/x", "events": ["guest.waiting"]}, "url"),
    ({"url": "https://user:pw@example.com/x", "events": ["guest.waiting"]}, "url"),
    ({"url": "https://example.com/x", "events": ["guest.waiting", "guest.teleported"]},
     "events"),
    ({"url": "https://example.com/x", "events": []}, "events"),
    ({"url": "https://example.com/x", "events": ["guest.waiting"], "room_ids": [999999]},
     "room_ids"),
    ({"url": "https://example.com/x", "events": ["guest.waiting"], "room_ids": [2**70]},
     "room_ids.0"),
    ({"url": "https://example.com/x", "events": ["guest.waiting"], "room_ids": ["1"]},
     "room_ids.0"),
    ({"url": "https://example.com:99999/x", "events": ["guest.waiting"]}, "url"),
    ({"url": "https://example.com/x", "events": ["guest.waiting"], "description": "a\x00b"},
     "description"),
    ({"url": "https://example.com/x"}, "events"),
    ({"events": ["guest.waiting"]}, "url"),
    ({"url": "https://example.com/x", "events": ["guest.waiting"], "secret": "mine"}, "secret"),
])
def test_refused_input_names_the_field_and_makes_nothing(app, db, api, body, field):
    response = api.post("/api/v1/webhooks", json=body)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["code"] == "invalid"
    assert list(response.json["errors"]) == [field]
    assert WebhookEndpoint.select().count() == 0


def test_another_rooms_id_is_refused_as_a_room_you_cant_see(app, db, api):
    theirs = make_room(make_user("other@example.com"))
    response = api.post("/api/v1/webhooks", json={"url": "https://example.com/x",
                                                   "events": ["room.updated"],
                                                   "room_ids": [theirs.id]})
    assert response.status_code == 422 and list(response.json["errors"]) == ["room_ids"]


def test_patch_changes_what_it_names_and_refuses_all_or_nothing(app, db, api, receiver):
    made = register(api, receiver)
    url = f"/api/v1/webhooks/{made['id']}"
    changed = api.patch(url, json={"events": ["guest.waiting", "guest.denied"],
                                   "description": "Lobby bot"})
    assert changed.status_code == 200
    assert changed.json["events"] == ["guest.waiting", "guest.denied"]
    assert changed.json["description"] == "Lobby bot" and changed.json["url"] == receiver.url

    off = api.patch(url, json={"enabled": False})
    assert off.json["enabled"] is False and off.json["status"] == "disabled"
    assert AuditEvent.select().where(AuditEvent.action == "webhook_disabled").count() == 1

    # a refused field changes nothing else, the enabling neither
    refused = api.patch(url, json={"url": "gopher://example.com", "enabled": True,
                                   "description": "Changed"})
    assert refused.status_code == 422 and list(refused.json["errors"]) == ["url"]
    endpoint = WebhookEndpoint.get_by_id(made["id"])
    assert (endpoint.url, endpoint.status, endpoint.description) == (
        receiver.url, "disabled", "Lobby bot")
    assert api.patch(url, json={"events": ["nope"]}).json["errors"] == {
        "events": ["Unknown events: nope."]}
    empty = api.patch(url, json={})
    assert empty.status_code == 422 and list(empty.json["errors"]) == ["body"]

    on = api.patch(url, json={"enabled": True})
    assert on.json["enabled"] is True and on.json["status"] == "active"


def test_another_accounts_endpoint_is_a_404_and_stays_as_it_was(app, db, owner, api, receiver):
    made = register(api, receiver)
    assert api.post(f"/api/v1/webhooks/{made['id']}/test").status_code == 202
    delivery = WebhookDelivery.get()
    before = WebhookEndpoint.select().where(WebhookEndpoint.id == made["id"]).tuples().get()
    # endpoints are personal: an admin is another account here too
    for intruder in (make_user("other@example.com"),
                     make_user("admin@example.com", access="admin")):
        other = Api(app, token_for(intruder))
        base = f"/api/v1/webhooks/{made['id']}"
        for method, path, body in [
                ("GET", base, None), ("PATCH", base, {"url": "https://evil.example.com/"}),
                ("DELETE", base, None), ("POST", f"{base}/rotate-secret", None),
                ("POST", f"{base}/test", None), ("GET", f"{base}/deliveries", None),
                ("POST", f"{base}/deliveries/{delivery.id}/resend", None)]:
            response = other.request(method, path, json=body)
            assert response.status_code == 404, (intruder.email, method, path)
            assert response.json["code"] == "not_found"
        assert other.get("/api/v1/webhooks").json["items"] == []
    assert WebhookEndpoint.select().where(
        WebhookEndpoint.id == made["id"]).tuples().get() == before
    assert WebhookDelivery.select().count() == 1


def test_a_read_only_token_reads_but_cant_register(app, db, owner, api, receiver):
    made = register(api, receiver)
    reader = Api(app, token_for(owner, scope="read"))
    refused = reader.post("/api/v1/webhooks", json={"url": receiver.url,
                                                    "events": ["guest.waiting"]})
    assert refused.status_code == 403 and refused.json["code"] == "insufficient_scope"
    assert reader.post(f"/api/v1/webhooks/{made['id']}/rotate-secret").status_code == 403
    assert WebhookEndpoint.select().count() == 1
    assert reader.get(f"/api/v1/webhooks/{made['id']}").status_code == 200
    assert reader.get("/api/v1/webhooks").status_code == 200


def test_rotating_answers_a_new_secret_and_both_sign_meanwhile(app, db, api, receiver):
    made = register(api, receiver)
    old = made["secret"]
    rotated = api.post(f"/api/v1/webhooks/{made['id']}/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json["secret"]
    assert new.startswith("whsec_") and new != old
    assert rotated.json["previous_secret_until"].endswith("Z")
    endpoint = WebhookEndpoint.get_by_id(made["id"])
    assert (endpoint.secret, endpoint.previous_secret) == (new, old)
    assert api.get(f"/api/v1/webhooks/{made['id']}").json["previous_secret_until"] == \
        rotated.json["previous_secret_until"]

    # a receiver that knows only the new secret, and one that knows only the old, both verify
    for secrets in ([new], [old]):
        receiver.secrets[:] = secrets
        test = api.post(f"/api/v1/webhooks/{made['id']}/test")
        assert test.status_code == 202 and test.json["type"] == "webhook.test"
        assert test.json["status"] == "pending"
        deliver(app)
    first, second = receiver.wait_for(2)
    assert first.verified and second.verified
    assert first.type == second.type == "webhook.test"


def test_the_delivery_log_and_send_again(app, db, api, receiver):
    made = register(api, receiver)
    base = f"/api/v1/webhooks/{made['id']}"
    receiver.answers = [500]
    test = api.post(f"{base}/test").json
    deliver(app)
    [failed] = api.get(f"{base}/deliveries").json["items"]
    assert failed["id"] == test["id"] and failed["status"] == "pending"
    assert failed["last_status"] == 500 and failed["attempts"] == 1
    assert failed["next_attempt_at"] is not None

    again = api.post(f"{base}/deliveries/{test['id']}/resend")
    assert again.status_code == 202
    assert again.json["event_id"] == test["event_id"] and again.json["id"] != test["id"]
    deliver(app)  # the resend is due now (the first's retry is not yet)
    [sent] = receiver.wait_for(1)
    assert sent.verified and sent.webhook_id == test["event_id"]
    log = api.get(f"{base}/deliveries").json["items"]
    assert [d["id"] for d in log] == [again.json["id"], test["id"]]  # newest first
    assert log[0]["status"] == "delivered"
    assert len(api.get(f"{base}/deliveries", query_string={"limit": 1}).json["items"]) == 1
    assert api.get(f"{base}/deliveries", query_string={"limit": 0}).status_code == 422

    assert api.post(f"{base}/deliveries/999999/resend").status_code == 404
    # another endpoint's delivery is not this one's
    mine_too = register(api, receiver)
    assert api.post(f"/api/v1/webhooks/{mine_too['id']}/deliveries/{test['id']}/resend") \
        .status_code == 404


def test_delete_is_204_and_gone(app, db, api, receiver):
    made = register(api, receiver)
    api.post(f"/api/v1/webhooks/{made['id']}/test")
    response = api.delete(f"/api/v1/webhooks/{made['id']}")
    assert response.status_code == 204 and response.data == b""
    assert api.get(f"/api/v1/webhooks/{made['id']}").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{made['id']}").status_code == 404
    assert api.get("/api/v1/webhooks").json["items"] == []
    assert WebhookEndpoint.select().count() == 0 and WebhookDelivery.select().count() == 0
    assert AuditEvent.select().where(AuditEvent.action == "webhook_deleted").count() == 1
    assert deliver(app) == 0 and receiver.got == []
