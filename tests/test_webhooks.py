"""Webhooks, through real HTTP: a receiver on 127.0.0.1 (tests/webhook_receiver.py) that checks
every signature with svix's verifier and by the specification's words, and the delivery worker
as deployments run it — in the test's process (`deliver()`, what `flask deliver-webhooks --once`
does) and as `flask deliver-webhooks` subprocesses (killed mid-send, two at once).

No test waits on a real interval: retries are made due by moving their time (`make_due`);
where a lease must really run out (a killed worker), it is two seconds."""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from helpers import PASSWORD, ROOT, link_path, make_room, make_user
from webhook_receiver import Receiver, spec_check

from portal import outbox, webhook_delivery
from portal.audit import Actor
from portal.db import database
from portal.models import (
    GuestLink,
    Participant,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from portal.services import hosting, links, webhooks
from portal.timeutil import utcnow
from portal.webhook_http import Refused, refused_address, resolve

VECTOR = {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
          "timestamp": 1614265330, "body": b'{"test": 2432232314}',
          "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}


@pytest.fixture
def config(config):
    return {**config, "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": True, "WEBHOOK_TIMEOUT_SECONDS": 5,
            "WEBHOOK_PAUSE_AFTER_FAILURES": 50}


@pytest.fixture
def app_context(app):
    """Services read settings (current_app) as they do under every door."""
    with app.app_context():
        yield


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


@pytest.fixture
def owner(app):
    return make_user()


@pytest.fixture
def room(owner):
    return make_room(owner, title="Round-table", require_approval=True,
                     guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Guests")


def subscribe(owner, receiver, events=None, room_ids=()):
    """An endpoint of `owner` at the receiver, the receiver told its secret."""
    endpoint, secret = webhooks.create_endpoint(owner, receiver.url,
                                                events or list(outbox.EVENTS), room_ids)
    receiver.secrets.append(secret)
    return endpoint


def deliver(app) -> int:
    with app.app_context():
        try:
            return webhook_delivery.deliver_due()
        finally:
            database.close()


def make_due() -> None:
    """The retries' time has come (instead of waiting for it)."""
    WebhookDelivery.update(next_attempt_at=utcnow() - timedelta(seconds=1)).where(
        WebhookDelivery.status == "pending").execute()


def enter(app, link, name="Ada Guest", email="ada@example.com"):
    client = app.test_client()
    response = client.post(link_path(app, link), data={"name": name, "email": email})
    assert response.status_code == 303
    return client


# --- signatures ----------------------------------------------------------------------------------

def test_our_signature_is_the_specifications_published_test_vector(app):
    from datetime import UTC, datetime

    endpoint = WebhookEndpoint(secret=VECTOR["secret"], previous_secret="")
    at = datetime.fromtimestamp(VECTOR["timestamp"], UTC).replace(tzinfo=None)
    with app.app_context():
        assert webhook_delivery.signature(endpoint, VECTOR["id"], at, VECTOR["body"]) \
            == VECTOR["signature"]
    # and the receiver's hand check of the specification agrees with the vector too
    assert spec_check(VECTOR["secret"], VECTOR["id"], str(VECTOR["timestamp"]),
                      VECTOR["signature"], VECTOR["body"])
    assert not spec_check(VECTOR["secret"], VECTOR["id"], str(VECTOR["timestamp"] + 1),
                          VECTOR["signature"], VECTOR["body"])


# --- events written with the change, delivered after it ------------------------------------------

def test_a_guest_waiting_then_admitted_is_delivered_signed_with_the_hosts_view(
        app_context, app, db, owner, room, link, receiver):
    endpoint = subscribe(owner, receiver, ["guest.waiting", "guest.admitted"])
    enter(app, link, "Ada Guest", "Ada@Example.com")
    assert receiver.got == []  # nothing is sent during the guest's request
    deliver(app)
    [waiting] = receiver.wait_for(1)
    assert waiting.verified
    assert waiting.type == "guest.waiting"
    body = waiting.payload
    assert set(body) == {"type", "timestamp", "data"}
    assert body["timestamp"].endswith("Z")
    data = body["data"]
    assert data["room"]["id"] == room.id and data["room"]["title"] == "Round-table"
    guest = Participant.get()
    assert data["guest"] == {"id": guest.id, "name": "Ada Guest", "email": "ada@example.com",
                             "role": "viewer", "status": "waiting",
                             "email_source": "unverified",
                             "link": {"id": link.id, "name": "Guests"}, "invitation_id": None}
    assert waiting.webhook_id == data["id"] and waiting.webhook_id.startswith("msg_")

    hosting.admit(room, [guest.id], Actor.of_account(owner))
    deliver(app)
    admitted = receiver.wait_for(2)[1]
    assert admitted.verified and admitted.type == "guest.admitted"
    assert admitted.payload["data"]["guest"]["email"] == "ada@example.com"
    assert admitted.payload["data"]["by"]["email"] == owner.email
    assert WebhookDelivery.get(WebhookDelivery.endpoint == endpoint).status == "delivered"


def test_a_hosts_deny_says_the_reason_and_the_words_the_host_reads(
        app_context, app, db, owner, room, link, receiver):
    from portal.decision import REASONS

    subscribe(owner, receiver, ["guest.denied"])
    enter(app, link)
    hosting.deny(room, [Participant.get().id], Actor.of_account(owner))
    deliver(app)
    [denied] = receiver.wait_for(1)
    assert denied.payload["data"]["reason"] == "not_admitted"
    assert denied.payload["data"]["host_words"] == REASONS["not_admitted"].host_words
    assert denied.payload["data"]["message"] is None
    enter(app, link, "Bob", "bob@example.com")
    bob = Participant.get(Participant.email == "bob@example.com")
    hosting.deny(room, [bob.id], Actor.of_account(owner), "Staff only today.")
    deliver(app)
    second = receiver.wait_for(2)[1]
    assert second.payload["data"]["guest"]["email"] == "bob@example.com"
    assert second.payload["data"]["message"] == "Staff only today."


def test_a_refused_lobby_submission_is_guest_denied_and_a_get_of_a_dead_link_is_not(
        app_context, app, db, owner, room, receiver):
    subscribe(owner, receiver, ["guest.denied"])
    dead = GuestLink.create(room=room, name="Old", expires_at=utcnow() - timedelta(days=1))
    client = app.test_client()
    assert client.get(link_path(app, dead)).status_code == 410  # a link preview: no event
    assert client.post(link_path(app, dead), data={"name": "Eve",
                                                   "email": "eve@example.com"}).status_code == 410
    deliver(app)
    [denied] = receiver.wait_for(1)
    assert denied.payload["data"]["reason"] == "link_expired"
    assert denied.payload["data"]["email"] == "eve@example.com"
    assert WebhookEvent.select().count() == 1


def test_a_change_rolled_back_announces_nothing(
        app_context, app, db, owner, room, receiver):
    subscribe(owner, receiver, ["link.created"])
    with database.atomic() as transaction:
        links.create_link(room, "Never", actor=Actor.of_account(owner))
        assert WebhookEvent.select().count() == 1  # written with the change ...
        transaction.rollback()  # ... and gone with it
    assert WebhookEvent.select().count() == 0
    assert GuestLink.select().where(GuestLink.name == "Never").count() == 0
    deliver(app)
    assert receiver.got == []


def test_no_endpoint_no_outbox_row(
        app_context, app, db, room, link):
    enter(app, link)
    assert WebhookEvent.select().count() == 0 and WebhookDelivery.select().count() == 0


def test_only_wanted_events_of_visible_chosen_rooms(
        app_context, app, db, owner, room, link, receiver):
    other_owner = make_user("other@example.com")
    other_room = make_room(other_owner, title="Not yours", guest_access_enabled=True)
    other_link = GuestLink.create(room=other_room, name="Theirs")
    second = make_room(owner, title="Second", guest_access_enabled=True)
    second_link = GuestLink.create(room=second, name="Second guests")
    subscribe(owner, receiver, ["guest.entered"], room_ids=[second.id])
    enter(app, link, email="a@example.com")  # waiting, and not a chosen room
    enter(app, other_link, email="b@example.com")  # another owner's room
    enter(app, second_link, email="c@example.com")  # entered, chosen room
    deliver(app)
    got = receiver.wait_for(1)
    assert [(r.type, r.payload["data"]["guest"]["email"]) for r in got] == \
        [("guest.entered", "c@example.com")]
    with pytest.raises(webhooks.Invalid):  # nobody chooses a room they can't see
        webhooks.create_endpoint(owner, receiver.url, ["guest.entered"], [other_room.id])


def test_link_and_invitation_events(
        app_context, app, db, owner, room, receiver):
    subscribe(owner, receiver, ["link.created", "link.exhausted", "invitation.created",
                                "invitation.accepted", "guest.joined_live", "guest.left"])
    from portal.services import invitations

    link = links.create_link(room, "Two clicks", max_uses=1, actor=Actor.of_account(owner))
    result = invitations.invite(room, ["vip@example.com"], "speaker",
                                actor=Actor.of_account(owner))
    room.require_approval = False
    room.save()
    guest = enter(app, link, email="one@example.com")
    from helpers import invitation_path

    invited = app.test_client()
    path = invitation_path(app, result.invitations[0])
    assert invited.post(path, data={"name": "Vip", "email": "vip@example.com"}).status_code == 303
    assert invited.get(path).status_code in (200, 303)  # again: accepted only once
    assert guest.post(f"/s/{room.id}/leave").status_code == 303
    deliver(app)
    got = receiver.wait_for(5)
    assert Counter(r.type for r in got) == Counter({
        "link.created": 1, "invitation.created": 1, "link.exhausted": 1,
        "invitation.accepted": 1, "guest.left": 1})
    assert all(r.verified for r in got)


def test_room_started_and_link_expired_are_emitted_once_when_their_time_comes(
        app_context, app, db, owner, receiver):
    subscribe(owner, receiver, ["room.started", "link.expired"])
    soon = make_room(owner, starts_in=timedelta(minutes=5))
    link = GuestLink.create(room=soon, name="Short", expires_at=utcnow() + timedelta(minutes=3))
    later = utcnow() + timedelta(minutes=6)
    with app.app_context():
        assert webhook_delivery.emit_time_events(utcnow()) == 0  # not yet
        assert webhook_delivery.emit_time_events(later) == 2
        assert webhook_delivery.emit_time_events(later) == 0
        # another worker, which has never looked: the same events, not again
        app.extensions.pop("guestgate_webhook_time_events")
        assert webhook_delivery.emit_time_events(later) == 0
    deliver(app)
    got = receiver.wait_for(2)
    assert sorted(r.type for r in got) == ["link.expired", "room.started"]
    assert {r.payload["data"]["room"]["id"] for r in got} == {soon.id}
    assert [r.payload["data"]["link"]["id"] for r in got if r.type == "link.expired"] == [link.id]


def test_room_updated_and_deleted_from_the_owners_screens(
        app_context, app, db, owner, room, receiver, client):
    subscribe(owner, receiver, ["room.updated", "room.deleted"])
    client.post("/sign-in", data={"email": owner.email, "password": PASSWORD})
    assert client.post(f"/rooms/{room.id}/delete").status_code == 303
    links.set_guest_access(make_room(owner, title="Other"), True, Actor.of_account(owner))
    deliver(app)
    assert sorted(r.type for r in receiver.wait_for(2)) == ["room.deleted", "room.updated"]


# --- nothing lost --------------------------------------------------------------------------------

def test_a_failing_receiver_gets_it_once_it_recovers_with_the_same_webhook_id(
        app_context, app, db, owner, room, link, receiver):
    subscribe(owner, receiver, ["guest.waiting"])
    receiver.answers = [500, 503, 500]
    enter(app, link)
    for _ in range(3):
        deliver(app)
        delivery = WebhookDelivery.get()
        assert delivery.status == "pending" and delivery.next_attempt_at > utcnow()
        make_due()
    deliver(app)
    got = receiver.wait_for(1)
    assert [r.status for r in receiver.got] == [500, 503, 500, 200]
    assert len({r.webhook_id for r in receiver.got}) == 1  # one event, one id, every try
    assert all(r.verified for r in receiver.got)  # each try signed afresh
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("delivered", 4, 200)
    assert len(got) == 1


def test_backoff_doubles_with_jitter_up_to_six_hours_a_wait(app, db):
    waits = [webhook_delivery.next_wait(n, 30).total_seconds() for n in range(1, 16)]
    assert 15 <= waits[0] <= 30 and 30 <= waits[1] <= 60 and 60 <= waits[2] <= 120
    assert 3 * 3600 <= waits[-1] <= 6 * 3600 and max(waits) <= 6 * 3600
    assert len({webhook_delivery.next_wait(5, 30) for _ in range(20)}) > 1  # jittered


def test_a_delivery_older_than_the_retry_period_fails_for_good(
        app_context, app, db, owner, room, link,
                                                                receiver):
    subscribe(owner, receiver, ["guest.waiting"])
    receiver.answers = [500]
    enter(app, link)
    WebhookDelivery.update(created_at=utcnow() - timedelta(hours=27)).execute()
    deliver(app)
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.last_status) == ("failed", 500)


def test_410_disables_the_endpoint(
        app_context, app, db, owner, room, link, receiver):
    endpoint = subscribe(owner, receiver, ["guest.waiting", "guest.left"])
    receiver.answers = [410]
    enter(app, link)
    deliver(app)
    assert WebhookEndpoint.get_by_id(endpoint.id).status == "gone"
    assert WebhookDelivery.get().status == "failed"
    enter(app, link, email="second@example.com")  # a gone endpoint gets nothing more
    assert WebhookDelivery.select().count() == 1


def test_repeated_failure_pauses_the_endpoint_and_emails_its_owner(
        app_context, app, db, owner, room, link, receiver, tmp_path):
    import email as email_module
    from email import policy

    app.config["WEBHOOK_PAUSE_AFTER_FAILURES"] = 3
    endpoint = subscribe(owner, receiver, ["guest.waiting"])
    receiver.answers = [500] * 10
    enter(app, link)
    for _ in range(3):
        deliver(app)
        make_due()
    endpoint = WebhookEndpoint.get_by_id(endpoint.id)
    assert endpoint.status == "paused" and "3 failed tries" in endpoint.status_detail
    deliver(app)
    assert len(receiver.wait_got(3)) == 3  # paused: nothing more is tried
    # the owner's email (the outbox folder: no SMTP server configured in this test)
    [eml] = sorted((tmp_path / "outbox").glob("*.eml"))
    message = email_module.message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == owner.email and "paused" in message["Subject"]
    assert receiver.url in message.get_body().get_content()
    # enabled again: the waiting delivery goes out, nothing lost
    receiver.answers = []
    webhooks.set_enabled(endpoint, True)
    deliver(app)
    assert receiver.wait_for(1)[0].type == "guest.waiting"
    assert WebhookDelivery.get().status == "delivered"


# --- safety --------------------------------------------------------------------------------------

@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1", "::1", "fe80::1", "fc00::1", "::",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2001:db8::1"])
def test_inside_addresses_are_refused(address):
    assert refused_address(address, allow_private=False)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert refused_address(address, allow_private=False) is None


def test_the_setting_allows_loopback_and_private_but_never_multicast():
    assert refused_address("127.0.0.1", allow_private=True) is None
    assert refused_address("10.0.0.1", allow_private=True) is None
    assert refused_address("224.0.0.1", allow_private=True)


def test_a_name_is_resolved_and_every_address_checked():
    with pytest.raises(Refused, match="loopback"):
        resolve("localhost", 80, allow_private=False)
    assert "127.0.0.1" in resolve("localhost", 80, allow_private=True)


def test_a_receiver_at_a_private_address_is_refused_by_default(
        app_context, app, db, owner, room, link,
                                                              receiver):
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    subscribe(owner, receiver, ["guest.waiting"])
    enter(app, link)
    deliver(app)
    delivery = WebhookDelivery.get()
    assert receiver.got == []
    assert delivery.status == "pending" and delivery.last_status is None
    assert delivery.last_error.startswith("Refused: 127.0.0.1 is a private, loopback")
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True  # as WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true
    make_due()
    deliver(app)
    assert receiver.wait_for(1)[0].verified


def test_redirects_are_not_followed(
        app_context, app, db, owner, room, link, receiver):
    subscribe(owner, receiver, ["guest.waiting"])
    receiver.answers = [302]
    enter(app, link)
    deliver(app)
    assert [r.status for r in receiver.wait_got(1)] == [302]
    assert WebhookDelivery.get().last_status == 302 and WebhookDelivery.get().status == "pending"


def test_a_slow_receiver_never_slows_the_lobby_nothing_is_sent_in_the_request(
        app_context, app, db, owner, room, link, receiver):
    """Delivery happens only in the delivery worker: the guest's request writes a row and
    answers, whatever the receiver does (it holds every request here)."""
    subscribe(owner, receiver, ["guest.waiting"])
    receiver.hold.set()
    enter(app, link)
    assert not receiver.held.is_set() and receiver.got == []
    assert WebhookDelivery.get().status == "pending"


def test_rotation_signs_with_both_secrets_during_the_grace_period(
        app_context, app, db, owner, room, link, receiver):
    endpoint = subscribe(owner, receiver, ["guest.waiting"])
    old = receiver.secrets.pop()
    with app.app_context():
        new = webhooks.rotate_secret(endpoint)
    enter(app, link)
    deliver(app)
    [got] = receiver.wait_for(1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        assert spec_check(secret, got.webhook_id, got.headers["webhook-timestamp"],
                          got.headers["webhook-signature"], got.body)
    # after the grace period, the new secret alone
    WebhookEndpoint.update(previous_secret_until=utcnow() - timedelta(seconds=1)).execute()
    enter(app, link, email="later@example.com")
    deliver(app)
    latest = receiver.wait_for(2)[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    assert not spec_check(old, latest.webhook_id, latest.headers["webhook-timestamp"],
                          latest.headers["webhook-signature"], latest.body)


# --- workers: killed mid-send, and two at once ---------------------------------------------------

def worker_env(app, **settings) -> dict:
    env = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"],
           "SECRET_KEY": app.config["SECRET_KEY"], "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
           "WEBHOOK_POLL_SECONDS": "0.2", "MAIL_OUTBOX": app.config["MAIL_OUTBOX"]}
    env.pop("MAIL_SERVER", None)
    env.update({k: str(v) for k, v in settings.items()})
    return env


def start_worker(app, *args, **settings) -> subprocess.Popen:
    """`flask --app app deliver-webhooks` in a process of its own; its output in a log file
    beside the test's outbox (`worker_log`)."""
    log = open(worker_log(app), "ab")  # noqa: SIM115 (the process writes it; closed by stop)
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "deliver-webhooks",
                             *args], cwd=ROOT, env=worker_env(app, **settings),
                            stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def worker_log(app):
    from pathlib import Path

    return Path(app.config["MAIL_OUTBOX"]).parent / "workers.log"


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    proc.log.close()


def test_a_worker_killed_mid_send_delivers_after_restart(
        app_context, app, db, owner, room, link, receiver):
    subscribe(owner, receiver, ["guest.waiting"])
    enter(app, link)
    database.close()
    receiver.hold.set()  # the receiver takes the request and holds it
    settings = {"WEBHOOK_LEASE_SECONDS": 2, "WEBHOOK_TIMEOUT_SECONDS": 1.5}
    first = start_worker(app, **settings)
    try:
        assert receiver.held.wait(30), worker_log(app).read_text()
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        stop(first)
    delivery = WebhookDelivery.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)  # claimed, never finished
    database.close()
    receiver.hold.clear()
    receiver.release.set()  # the dead worker's connection ends (its answer goes nowhere)
    second = start_worker(app, **settings)  # the lease runs out, and the restart takes it
    try:
        delivered = receiver.wait_for(1, timeout=60)
    finally:
        stop(second)
    assert [r.status for r in receiver.got] == [0, 200]  # the first answer reached nobody
    assert len({r.webhook_id for r in receiver.got}) == 1 and delivered[0].verified
    delivery = WebhookDelivery.get()
    assert delivery.status == "delivered" and delivery.attempts == 2


def test_two_workers_never_send_one_delivery_twice(
        app_context, app, db, owner, room, receiver):
    subscribe(owner, receiver, ["link.created"])
    endpoint_b = subscribe(owner, receiver, ["link.created"])  # each event goes to two endpoints
    room.lock()
    for n in range(30):
        with database.atomic():
            outbox.emit("link.created", room, {"n": n})
    database.close()
    workers = [start_worker(app) for _ in range(2)]
    try:
        receiver.wait_for(60, timeout=90)
    finally:
        for worker in workers:
            stop(worker)
    per_endpoint = Counter((r.webhook_id, r.headers["webhook-signature"]) for r in receiver.got)
    assert len(receiver.got) == 60 and set(per_endpoint.values()) == {1}
    assert Counter(r.webhook_id for r in receiver.got) == {
        e.event_id: 2 for e in WebhookEvent.select()}
    assert WebhookDelivery.select().where(WebhookDelivery.status == "delivered").count() == 60
    assert set(d.attempts for d in WebhookDelivery.select()) == {1}
    assert endpoint_b.id


def test_deliver_webhooks_once_sends_what_is_due_and_exits(
        app_context, app, db, owner, room, link, receiver,
                                                          runner):
    subscribe(owner, receiver, ["guest.waiting"])
    enter(app, link)
    result = runner.invoke(args=["deliver-webhooks", "--once"])
    assert result.exit_code == 0, result.output
    assert receiver.wait_for(1)[0].type == "guest.waiting"


# --- the owner's screen --------------------------------------------------------------------------

@pytest.fixture
def signed_in(client, owner):
    assert client.post("/sign-in", data={"email": owner.email,
                                         "password": PASSWORD}).status_code == 303
    return client


def create_on_screen(client, url, events=("guest.waiting",), rooms=()):
    return client.post("/webhooks/", data={"url": url, "events": list(events),
                                           "rooms": [str(r) for r in rooms]})


def test_the_rooms_list_links_to_webhooks(signed_in):
    assert 'href="/webhooks/"' in signed_in.get("/rooms/").get_data(as_text=True)


def test_create_shows_the_secret_once(signed_in, owner, receiver, db):
    response = create_on_screen(signed_in, receiver.url)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.get()
    assert f"<code data-secret>{endpoint.secret}</code>" in page
    listing = signed_in.get("/webhooks/").get_data(as_text=True)
    assert receiver.url in listing and endpoint.secret not in listing
    assert endpoint.secret not in signed_in.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)


def test_invalid_input_is_said_next_to_its_field(signed_in, db):
    response = create_on_screen(signed_in, "ftp://example.org/x")
    assert response.status_code == 422 and "must start with http" in response.get_data(
        as_text=True)
    response = create_on_screen(signed_in, "https://example.org/x", events=())
    assert response.status_code == 422 and "Choose at least one event" in response.get_data(
        as_text=True)
    assert WebhookEndpoint.select().count() == 0


def test_delivery_log_send_again_and_send_test_event(app, signed_in, owner, room, link, receiver,
                                                     db):
    create_on_screen(signed_in, receiver.url)
    endpoint = WebhookEndpoint.get()
    receiver.secrets.append(endpoint.secret)
    enter(app, link)
    receiver.answers = [500]
    deliver(app)
    page = signed_in.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    first = WebhookDelivery.get()
    assert 'data-status="pending"' in page and "guest.waiting" in page and ">500<" in page.replace(
        "\n", "").replace(" ", "") or "500" in page
    assert signed_in.post(f"/webhooks/{endpoint.id}/deliveries/{first.id}/resend"
                          ).status_code == 303
    assert signed_in.post(f"/webhooks/{endpoint.id}/test").status_code == 303
    make_due()
    deliver(app)
    got = receiver.wait_for(3)
    types = Counter(r.type for r in got)
    assert types == {"guest.waiting": 2, "webhook.test": 1}
    assert len({r.webhook_id for r in got if r.type == "guest.waiting"}) == 1  # the same id
    log = signed_in.get(f"/webhooks/{endpoint.id}/deliveries").get_data(as_text=True)
    assert log.count('data-status="delivered"') == 3


def test_disable_enable_rotate_and_delete_on_screen(signed_in, owner, receiver, db):
    create_on_screen(signed_in, receiver.url)
    endpoint = WebhookEndpoint.get()
    assert signed_in.post(f"/webhooks/{endpoint.id}/disable").status_code == 303
    assert WebhookEndpoint.get().status == "disabled"
    assert signed_in.post(f"/webhooks/{endpoint.id}/enable").status_code == 303
    assert WebhookEndpoint.get().status == "active"
    page = signed_in.post(f"/webhooks/{endpoint.id}/rotate").get_data(as_text=True)
    rotated = WebhookEndpoint.get()
    assert rotated.secret != endpoint.secret and rotated.previous_secret == endpoint.secret
    assert rotated.secret in page
    assert signed_in.post(f"/webhooks/{endpoint.id}/delete").status_code == 303
    assert WebhookEndpoint.select().count() == 0


def test_another_owner_can_neither_see_nor_touch_an_endpoint(app, owner, receiver, db):
    endpoint, _ = webhooks.create_endpoint(owner, receiver.url, ["guest.waiting"])
    make_user("other@example.com")
    other = app.test_client()
    other.post("/sign-in", data={"email": "other@example.com", "password": PASSWORD})
    assert receiver.url not in other.get("/webhooks/").get_data(as_text=True)
    for method, path in [("get", ""), ("get", "/deliveries"), ("post", "/edit"),
                         ("post", "/disable"), ("post", "/enable"), ("post", "/rotate"),
                         ("post", "/test"), ("post", "/delete"),
                         ("post", "/deliveries/1/resend")]:
        assert getattr(other, method)(f"/webhooks/{endpoint.id}{path}").status_code == 404
    assert WebhookEndpoint.get().status == "active" and WebhookDelivery.select().count() == 0
    assert app.test_client().get("/webhooks/").status_code in (302, 303, 401)


def test_posts_need_the_csrf_token(app, owner, receiver, db):
    import re

    app.config["WTF_CSRF_ENABLED"] = True
    endpoint, _ = webhooks.create_endpoint(owner, receiver.url, ["guest.waiting"])
    client = app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/sign-in", data={"email": owner.email, "password": PASSWORD,
                                         "csrf_token": token}).status_code == 303
    assert client.post("/webhooks/", data={"url": receiver.url,
                                           "events": ["guest.waiting"]}).status_code == 400
    for path in ("/disable", "/delete", "/rotate", "/test"):
        assert client.post(f"/webhooks/{endpoint.id}{path}").status_code == 400
    assert WebhookEndpoint.select().count() == 1
    assert WebhookEndpoint.get().status == "active" and WebhookDelivery.select().count() == 0
    # with the page's token, the same button works
    page = client.get(f"/webhooks/{endpoint.id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post(f"/webhooks/{endpoint.id}/disable",
                       data={"csrf_token": token}).status_code == 303
    assert WebhookEndpoint.get().status == "disabled"


def test_removed_and_moved_say_the_status_they_leave_the_guest_in(
        app_context, app, db, owner, room, link, receiver):
    subscribe(owner, receiver, ["guest.removed", "guest.moved_to_waiting"])
    enter(app, link)
    guest = Participant.get()
    hosting.admit(room, [guest.id], Actor.of_account(owner))
    assert hosting.move_to_waiting(room, Participant.get(), Actor.of_account(owner))
    hosting.admit(room, [guest.id], Actor.of_account(owner))
    assert hosting.remove(room, Participant.get(), Actor.of_account(owner))
    deliver(app)
    got = receiver.wait_for(2)
    # Two deliveries in flight at once may arrive in either order (receivers go by the time)
    assert {(r.type, r.payload["data"]["guest"]["status"]) for r in got} == {
        ("guest.moved_to_waiting", "waiting"), ("guest.removed", "rejected")}
    assert {r.payload["data"]["by"]["email"] for r in got} == {owner.email}


def test_an_owner_made_a_guest_hears_nothing_more(app_context, app, db, owner, room, link,
                                                  receiver):
    subscribe(owner, receiver, ["guest.waiting"])
    owner.access = "guest"
    owner.save()
    enter(app, link)
    assert WebhookEvent.select().count() == 0
