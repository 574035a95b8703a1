"""Host alerts by Web Push, through a local receiver standing in for the push service: it
decrypts each payload with the subscription's own keys (http_ece, aes128gcm) and checks the
VAPID JWT (ES256) with PyJWT, an independent library, against the public key the Alerts screen
gives browsers. A subscription the push service says is gone (404/410) is removed; one at a
private address is refused unless allowed; the VAPID key is made once and kept private. And the
Alerts screen: subscribe, list, remove, preferences, the service worker."""

import base64
import json
import os
import secrets
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from helpers import free_port, make_room, make_user, text_of

from portal import host_alerts, timeutil, webpush
from portal.db import database
from portal.models import AlertPreference, GuestLink, PushSubscription

AFTER = 30


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on 127.0.0.1: keeps each POST (path, headers, body) and answers 201,
    or what `answers` says for a path."""

    def __init__(self):
        self.received = []
        self.answers = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                service.received.append((self.path, dict(self.headers), body))
                self.send_response(service.answers.get(self.path, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """What a browser holds for one subscription: its ECDH key pair and auth secret (the
    browser gives the server only the public key and the secret)."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = secrets.token_bytes(16)

    def subscription(self) -> dict:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "keys": {"p256dh": b64url(public),
                                                     "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                           version="aes128gcm"))


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


@pytest.fixture
def config(config, tmp_path):
    return {**config, "HOST_ALERT_AFTER_SECONDS": AFTER, "PUSH_ALLOW_PRIVATE_ADDRESSES": True,
            "VAPID_PRIVATE_KEY_FILE": str(tmp_path / "keys" / "vapid.pem"),
            "MAIL_DEFAULT_SENDER": "Guestgate <gate@example.com>"}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", require_approval=True,
                     guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


def check(app, seconds: float) -> int:
    with app.app_context():
        try:
            return host_alerts.alert_due(timeutil.utcnow() + timedelta(seconds=seconds))
        finally:
            database.close()


def subscribe(client, browser: Browser):
    return client.post("/account/alerts/browsers", json=browser.subscription())


def test_the_alert_arrives_encrypted_for_the_browser_and_signed(
        app, client, signed_in_owner, push_service, room, arrive):
    browser = Browser(push_service.origin + "/push/abc")
    assert subscribe(client, browser).status_code == 201
    page = client.get("/account/alerts").get_data(as_text=True)
    [server_key] = [part.split('"')[1] for part in page.split("data-vapid-key=")[1:]]

    arrive("Ada", "ada@example.com")
    assert check(app, AFTER + 1) == 1
    [(path, headers, body)] = push_service.received
    assert path == "/push/abc"
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["Content-Type"] == "application/octet-stream"
    assert int(headers["TTL"]) > 0 and headers["Urgency"] == "high"

    # Only the browser's own keys open it.
    alert = browser.decrypt(body)
    assert alert == {"title": "Ada is waiting", "body": "Ada — in “Round-table”",
                     "url": f"http://guestgate.test/rooms/{room.id}#waiting-room",
                     "tag": f"guestgate-room-{room.id}"}
    with pytest.raises(Exception):  # noqa: B017 (any failure: a stranger can't read it)
        Browser(browser.endpoint).decrypt(body)

    # VAPID (RFC 8292): "vapid t=<JWT>, k=<the key browsers subscribed with>"
    scheme, params = headers["Authorization"].split(" ", 1)
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    assert scheme == "vapid" and fields["k"] == server_key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
    claims = jwt.decode(fields["t"], public, algorithms=["ES256"], audience=push_service.origin)
    assert claims["sub"] == "mailto:gate@example.com"
    assert 0 < claims["exp"] - timeutil.utcnow().timestamp() <= 24 * 3600 + 60
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(fields["t"], ec.generate_private_key(ec.SECP256R1()).public_key(),
                   algorithms=["ES256"], audience=push_service.origin)

    row = PushSubscription.get()
    assert row.last_sent_at is not None and row.last_error == ""


def test_a_gone_subscription_is_removed_and_the_others_still_get_it(
        app, client, signed_in_owner, push_service, room, arrive):
    gone, kept, vanished = (Browser(push_service.origin + p) for p in ("/gone", "/kept", "/404"))
    push_service.answers = {"/gone": 410, "/404": 404}
    for browser in (gone, kept, vanished):
        assert subscribe(client, browser).status_code == 201
    arrive()
    assert check(app, AFTER + 1) == 1
    assert sorted(p for p, _h, _b in push_service.received) == ["/404", "/gone", "/kept"]
    assert [s.endpoint for s in PushSubscription.select()] == [kept.endpoint]
    text = text_of(client.get("/account/alerts"))
    assert "No browser is notified yet" not in text


def test_a_push_service_failing_keeps_the_subscription_saying_why(
        app, client, signed_in_owner, push_service, room, arrive):
    browser = Browser(push_service.origin + "/busy")
    push_service.answers = {"/busy": 503}
    assert subscribe(client, browser).status_code == 201
    arrive()
    check(app, AFTER + 1)
    row = PushSubscription.get()
    assert row.last_error.startswith("503")
    assert "Last try failed: 503" in text_of(client.get("/account/alerts"))


def test_a_private_address_is_refused_unless_allowed(app, client, signed_in_owner,
                                                     push_service, room, arrive):
    app.config["PUSH_ALLOW_PRIVATE_ADDRESSES"] = False
    assert subscribe(client, Browser(push_service.origin + "/inside")).status_code == 201
    arrive()
    check(app, AFTER + 1)
    assert push_service.received == []
    assert PushSubscription.get().last_error.startswith("Refused")


def test_push_off_sends_none_and_the_same_throttle_as_email(
        app, client, signed_in_owner, push_service, room, arrive, link):
    assert subscribe(client, Browser(push_service.origin + "/p")).status_code == 201
    assert client.post("/account/alerts", data={"email": "y"}).status_code == 303
    assert AlertPreference.get().push is False
    arrive()
    check(app, AFTER + 1)
    assert push_service.received == []
    client.post("/account/alerts", data={"email": "y", "push": "y"})
    arrive("Bea", "bea@example.com")
    assert check(app, AFTER + 60) == 0  # throttled: the first alert went by email
    assert check(app, AFTER + 302) == 1
    [(_p, _h, _b)] = push_service.received


def test_the_vapid_key_is_made_once_and_kept_private(app, config):
    path = config["VAPID_PRIVATE_KEY_FILE"]
    with app.app_context():
        key = webpush.public_key()
    assert os.stat(path).st_mode & 0o777 == 0o600
    from portal import create_app

    with create_app(config).app_context():
        assert webpush.public_key() == key


def test_the_alerts_screen(app, client, signed_in_owner, push_service):
    page = client.get("/account/alerts")
    text = text_of(page)
    assert page.status_code == 200
    assert "Notify this browser when someone waits" in text
    assert "No browser is notified yet" in text
    assert 'href="/account/alerts"' in client.get("/rooms/").get_data(as_text=True)  # the nav

    browser = Browser(push_service.origin + "/mine")
    assert subscribe(client, browser).status_code == 201
    row = PushSubscription.get()
    assert row.user_id == signed_in_owner.id and row.label  # the browser's own description
    assert f'id="remove-browser-{row.id}"' in client.get("/account/alerts").get_data(as_text=True)

    # Not a subscription: refused, saying why.
    bad = client.post("/account/alerts/browsers", json={"endpoint": "https://x.example/1",
                                                        "keys": {"p256dh": "abc", "auth": "x"}})
    assert bad.status_code == 422 and "keys" in bad.get_json()["error"]

    # Another account can't remove it.
    other = app.test_client()
    make_user("other@example.com")
    other.post("/sign-in", data={"email": "other@example.com",
                                 "password": "correct horse battery"})
    other.post(f"/account/alerts/browsers/{row.id}/remove")
    assert PushSubscription.select().count() == 1

    removed = client.post(f"/account/alerts/browsers/{row.id}/remove", follow_redirects=True)
    assert "That browser is no longer notified." in text_of(removed)
    assert PushSubscription.select().count() == 0


def test_preferences_are_kept_and_checked(app, client, signed_in_owner):
    assert client.post("/account/alerts", data={
        "email": "y", "moderated_rooms": "y", "quiet_from": "22:00",
        "quiet_until": "07:00"}).status_code == 303
    prefs = AlertPreference.get()
    assert (prefs.email, prefs.push, prefs.moderated_rooms, prefs.quiet_from,
            prefs.quiet_until) == (True, False, True, "22:00", "07:00")
    page = client.get("/account/alerts").get_data(as_text=True)
    assert 'value="22:00"' in page and 'value="07:00"' in page
    half = client.post("/account/alerts", data={"email": "y", "quiet_from": "22:00"})
    assert half.status_code == 422
    assert "Enter both times of the quiet hours, or neither." in text_of(half)


def test_a_guest_account_has_the_screen_too(app, client, auth):
    make_user("mod@example.com", access="guest")
    auth.sign_in("mod@example.com")
    assert client.get("/account/alerts").status_code == 200
    assert app.test_client().get("/account/alerts").status_code == 302  # signed out: sign in


def test_the_service_worker_is_served_from_the_site_root(client):
    response = client.get("/push-worker.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert "showNotification" in response.get_data(as_text=True)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_a_test_notification_and_forgetting_this_browser(app, client, signed_in_owner,
                                                         push_service):
    browser = Browser(push_service.origin + "/mine")
    assert subscribe(client, browser).status_code == 201
    sent = client.post("/account/alerts/test", follow_redirects=True)
    assert "Test notification sent; 1 of your browsers' push services took it." in text_of(sent)
    [(_path, _headers, body)] = push_service.received
    assert browser.decrypt(body)["title"] == "Guestgate test notification"

    # What the page's "Stop notifying this browser" sends after the browser unsubscribed.
    forgot = client.post("/account/alerts/browsers/forget", json={"endpoint": browser.endpoint})
    assert forgot.get_json() == {"removed": 1}
    assert PushSubscription.select().count() == 0


def test_at_most_twenty_browsers(app, client, signed_in_owner, push_service):
    for n in range(20):
        assert subscribe(client, Browser(f"{push_service.origin}/b{n}")).status_code == 201
    refused = subscribe(client, Browser(push_service.origin + "/b20"))
    assert refused.status_code == 422 and "At most 20 browsers" in refused.get_json()["error"]
    # The same browser again replaces its own row.
    assert client.post("/account/alerts/browsers", json=Browser(
        push_service.origin + "/b3").subscription()).status_code == 201
    assert PushSubscription.select().count() == 20
