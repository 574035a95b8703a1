"""Walks app.url_map so that every route — including routes added later — is covered:
CSRF on every state-changing route, security headers on every GET route, and the
authorization matrix of every owner and admin route."""

from datetime import timedelta

import pytest
from helpers import make_user
from werkzeug.routing import Rule

from portal import tokens
from portal.models import (
    MODELS,
    Attachment,
    DomainRule,
    GuestLink,
    Invitation,
    Participant,
    PushSubscription,
    Room,
    SchemaVersion,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.services import api_tokens
from portal.sessions import is_api
from portal.timeutil import utcnow

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def build_world(app, tmp_path, tag=""):
    """Owner A's room with one of everything, another broadcaster, a guest-access user, an
    admin. `tag` keeps the emails of a second world apart."""
    now = utcnow()
    owner = make_user(f"owner{tag}@example.com")
    other = make_user(f"other{tag}@example.com")
    guest = make_user(f"guest{tag}@example.com", access="guest")
    admin = make_user(f"admin{tag}@example.com", access="admin")
    room = Room.create(owner=owner, title="A's room", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Guests")
    invitation = Invitation.create(room=room, user=guest, email=guest.email)
    participant = Participant.create(room=room, link=link, name="Ada", email="ada@example.com",
                                     device="device-1", status="waiting")
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    stored = f"f{tag}.pdf"
    (folder / stored).write_bytes(b"%PDF")
    attachment = Attachment.create(room=room, filename="f.pdf", stored_name=stored,
                                   content_type="application/pdf", size=4)
    rule = DomainRule.create(domain=f"blocked{tag.strip('-')}.example", mode="block")
    api_token, _secret = api_tokens.create(owner, "walker", "write", 1)
    endpoint = WebhookEndpoint.create(owner=owner, url="https://hooks.example/in",
                                      events="guest.waiting", secret="whsec_AAAA")
    event = WebhookEvent.create(event_id=f"msg_walk{tag}", type="guest.waiting", payload="{}")
    delivery = WebhookDelivery.create(endpoint=endpoint, event=event)
    subscription = PushSubscription.create(user=owner, endpoint=f"https://push.example/{tag}",
                                           p256dh="k", auth="a")
    keys = app.config["SECRET_KEYS"]
    return {
        "users": {"guest user": guest, "another broadcaster": other, "the owner": owner,
                  "an admin": admin},
        "values": {
            "room_id": room.id, "link_id": link.id, "invitation_id": invitation.id,
            "participant_id": participant.id, "attachment_id": attachment.id,
            "rule_id": rule.id, "user_id": owner.id, "endpoint_id": endpoint.id,
            "webhook_id": endpoint.id,  # the same endpoint, as the API names it
            "delivery_id": delivery.id, "subscription_id": subscription.id,
            "view": "live",  # the room page's views (owner/cockpit.py)
            "question_id": "q1",  # a registration question's id (services/registration.py)
            "token": tokens.make_token(keys, tokens.LINK, link.id, 1),
            "filename": "app.css",
            "token_id": api_token.id, "name": "swagger-ui.css",  # the API reference's files
        },
        "invite_token": tokens.make_token(keys, tokens.INVITE, invitation.id, 1),
    }


@pytest.fixture
def world(app, db, tmp_path):
    return build_world(app, tmp_path)


def url_for_rule(rule: Rule, world) -> str:
    values = {}
    for arg in rule.arguments - (rule.defaults or {}).keys():  # defaults: the view's, not the URL's
        if arg not in world["values"]:
            pytest.fail(f"the walker doesn't know a value for <{arg}> in {rule.rule}: add one")
        values[arg] = world["values"][arg]
    if rule.endpoint == "guest.invite_lobby":
        values["token"] = world["invite_token"]
    if rule.endpoint == "auth.reset_password":
        values["token"] = "not-a-token"
    return rule.build(values)[1]


def rules(app, methods):
    return [r for r in app.url_map.iter_rules() if r.methods & methods]


def row_counts():
    return {m.__name__: m.select().count() for m in MODELS if m is not SchemaVersion}


def sign_in_as(client, user):
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True


@pytest.fixture
def config(config):
    return {**config, "WTF_CSRF_ENABLED": True}


def test_every_state_changing_route_refuses_a_missing_or_wrong_csrf_token(app, world):
    client = app.test_client()
    sign_in_as(client, world["users"]["an admin"])
    checked = 0
    for rule in rules(app, STATE_CHANGING):
        url = url_for_rule(rule, world)
        before = row_counts()
        for headers in ({}, {"HX-Request": "true"}, {"X-CSRFToken": "forged"}):
            response = client.open(url, method=sorted(rule.methods & STATE_CHANGING)[0],
                                   data={"name": "x", "email": "x@example.com"},
                                   headers=headers)
            if is_api(url):
                # The API takes no CSRF token because it takes no cookie: a signed-in
                # browser's request opens nothing there.
                assert response.status_code == 401, (rule.rule, response.status_code)
                assert response.json["code"] == "token_missing"
                continue
            assert response.status_code == 400, (rule.rule, headers, response.status_code)
            assert "This form has expired" in response.get_data(as_text=True)
        assert row_counts() == before, rule.rule
        checked += 1
    assert checked >= 5


def test_every_get_route_sends_the_security_headers(app, world):
    clients = {"anonymous": app.test_client()}
    for label, user in world["users"].items():
        clients[label] = app.test_client()
        sign_in_as(clients[label], user)
    for rule in rules(app, {"GET"}):
        url = url_for_rule(rule, world)
        for label, client in clients.items():
            response = client.get(url)
            assert response.status_code < 500, (url, label)
            csp = response.headers.get("Content-Security-Policy", "")
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, url
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
            assert response.headers["X-Content-Type-Options"] == "nosniff", url
            assert response.headers["Referrer-Policy"] == "no-referrer", url
            assert response.headers["X-Frame-Options"] == "DENY", url
            response.close()


def expected_for(endpoint: str, who: str) -> set[int]:
    """The answer each kind of person gets from an owner or admin route."""
    if who == "anonymous":
        return {302}
    if endpoint.startswith("webhooks."):
        # Endpoints are personal: anyone else's, an admin's too, is a 404.
        if who == "guest user":
            return {403}
        if who != "the owner" and endpoint not in ("webhooks.endpoints", "webhooks.create"):
            return {404}
        return {200, 303, 400, 422}
    if endpoint.startswith("admin."):
        return {200, 302, 303, 422} if who == "an admin" else {403}
    if who == "guest user":
        return {403}
    if who == "another broadcaster":
        # Their own rooms list and "new room" work; nobody else's room is reachable.
        return {200, 303, 422} if endpoint in ("owner.rooms", "owner.new_room") else {404}
    if endpoint == "owner.room":
        return {302}  # to the view it opens on
    if endpoint in ("owner.registration", "owner.attendance", "owner.invitation_import"):
        return {302}  # once screens of their own: to their sections in the room's views
    return {200, 204, 303, 400, 422}


def is_destructive(rule: Rule) -> bool:
    return rule.rule.endswith(("/delete", "/remove"))


def test_authorization_matrix_for_owner_and_admin_routes(app, world, tmp_path):
    app.config["WTF_CSRF_ENABLED"] = False
    protected = [r for r in app.url_map.iter_rules()
                 if r.endpoint.startswith(("owner.", "admin.", "webhooks."))]
    assert len(protected) >= 8
    worlds = 0
    for who in ("anonymous", "guest user", "another broadcaster", "the owner", "an admin"):
        # Destructive routes last, each on a world of its own for the people they work for,
        # so that every answer is about permissions, never about an earlier deletion.
        for rule in sorted(protected, key=is_destructive):
            for method in sorted(rule.methods & ({"GET"} | STATE_CHANGING)):
                here = world
                if is_destructive(rule) and who in ("the owner", "an admin"):
                    worlds += 1
                    here = build_world(app, tmp_path, tag=f"-{worlds}")
                client = app.test_client()
                if who != "anonymous":
                    sign_in_as(client, here["users"][who])
                response = client.open(url_for_rule(rule, here), method=method, data={})
                assert response.status_code in expected_for(rule.endpoint, who), \
                    (who, method, rule.rule, response.status_code)
                if who == "anonymous":
                    assert "/sign-in" in response.location
                response.close()


def test_nothing_of_one_owner_is_reachable_by_another(app, world):
    client = app.test_client()
    sign_in_as(client, world["users"]["another broadcaster"])
    v = world["values"]
    for url in (f"/rooms/{v['room_id']}", f"/rooms/{v['room_id']}/edit",
                f"/rooms/{v['room_id']}/attachments/{v['attachment_id']}"):
        assert client.get(url).status_code == 404
    assert "A's room" not in client.get("/rooms/").get_data(as_text=True)


def test_htmx_poll_after_the_session_ended_redirects_the_whole_page(app, world):
    client = app.test_client()
    room_id = world["values"]["room_id"]
    response = client.get(f"/rooms/{room_id}/waiting", headers={
        "HX-Request": "true", "HX-Current-URL": f"http://guestgate.test/rooms/{room_id}"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == f"/sign-in?next=%2Frooms%2F{room_id}"
    assert "<form" not in response.get_data(as_text=True)


def test_htmx_request_with_an_expired_csrf_token_reloads_the_page(app, world):
    client = app.test_client()
    sign_in_as(client, world["users"]["the owner"])
    room_id = world["values"]["room_id"]
    response = client.post(f"/rooms/{room_id}/message", data={"message": "hi"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400 and response.headers["HX-Refresh"] == "true"
