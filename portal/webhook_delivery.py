"""The webhook delivery worker: claims due deliveries, sends them signed, and reschedules what
failed. One loop per process that runs it; any number of them (every gunicorn worker on every
host, `flask deliver-webhooks`) share the work without sending anything twice at once:

- a claim is one statement: due rows of active endpoints get this worker's claim token and
  their next try moved a lease ahead (WEBHOOK_LEASE_SECONDS). On PostgreSQL the rows are picked
  `FOR UPDATE SKIP LOCKED` (workers claim different rows, none waits); on SQLite the UPDATE runs
  in an IMMEDIATE transaction, alone. A worker killed mid-send leaves its rows claimed until the
  lease ends; then they are due again and another worker (or it, restarted) sends them.
- the result is written only if the claim is still this worker's.
- at least once, not exactly once: the same event keeps its webhook-id on every try, for the
  receiver to skip what it has seen.

Retries: exponential backoff with jitter, from WEBHOOK_RETRY_FIRST_SECONDS doubling up to six
hours a wait, until WEBHOOK_RETRY_HOURS after the event (a day and more by default); then the
delivery has failed. A 410 answer marks the endpoint gone (no more deliveries). After
WEBHOOK_PAUSE_AFTER_FAILURES failed tries in a row the endpoint is paused and its owner emailed;
its pending deliveries wait for the owner to enable it again.

Time-based events (room.started, link.expired) are noticed here too: each tick looks at the
rooms and links whose time came since the last look, and emits each once (WebhookEvent.once_key
makes a second worker's emit of the same event write nothing)."""

import random
import secrets
from datetime import UTC, timedelta

from flask import current_app
from peewee import fn

from . import mail, outbox, timeutil
from .db import database, is_sqlite
from .models import GuestLink, Room, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from .webhook_http import Refused, post

LONGEST_WAIT = timedelta(hours=6)
BATCH = 20


# --- claiming ----------------------------------------------------------------------

def _claim_sql() -> str:
    d, e, p = WebhookDelivery._meta.table_name, WebhookEndpoint._meta.table_name, database.param
    lock = "" if is_sqlite() else "FOR UPDATE OF d SKIP LOCKED"
    return (f'UPDATE "{d}" SET "claim" = {p}, "next_attempt_at" = {p}, '
            f'"attempts" = "attempts" + 1 '
            f'WHERE "id" IN (SELECT d."id" FROM "{d}" AS d JOIN "{e}" AS e '
            f'ON e."id" = d."endpoint_id" WHERE d."status" = \'pending\' '
            f'AND d."next_attempt_at" <= {p} AND e."status" = \'active\' '
            f'ORDER BY d."next_attempt_at", d."id" LIMIT {p} {lock}) '
            f'AND "status" = \'pending\' AND "next_attempt_at" <= {p} RETURNING "id"')


def _anything_due(now) -> bool:
    return WebhookDelivery.select(WebhookDelivery.id).where(
        (WebhookDelivery.status == "pending")
        & (WebhookDelivery.next_attempt_at <= now)).limit(1).exists()


def claim(limit: int = BATCH, due_by=None) -> tuple[str, list[int]]:
    """Claim up to `limit` deliveries due by `due_by` (now): (this claim's token, their ids)."""
    token = secrets.token_hex(16)
    now = due_by or timeutil.utcnow()
    if not _anything_due(now):  # a read: no write lock taken every tick for nothing
        return token, []
    lease = timeutil.utcnow() + timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    with database.atomic():
        rows = database.execute_sql(_claim_sql(), (token, lease, now, limit, now)).fetchall()
    return token, [r[0] for r in rows]


# --- sending ----------------------------------------------------------------------

def signature(endpoint: WebhookEndpoint, event_id: str, at, body: bytes) -> str:
    """webhook-signature: v1,<base64> by the secret, and by the previous one during its grace
    period after a rotation (space-separated, as the specification has it)."""
    from standardwebhooks.webhooks import Webhook

    signatures = [Webhook(endpoint.secret).sign(event_id, at, body)]
    if endpoint.previous_secret and endpoint.previous_secret_until \
            and endpoint.previous_secret_until > timeutil.utcnow():
        signatures.append(Webhook(endpoint.previous_secret).sign(event_id, at, body))
    return " ".join(signatures)


def headers_for(endpoint: WebhookEndpoint, event: WebhookEvent, body: bytes) -> dict:
    at = timeutil.utcnow()  # this attempt's time: receivers refuse old timestamps
    return {"webhook-id": event.event_id,
            "webhook-timestamp": str(int(at.replace(tzinfo=UTC).timestamp())),
            "webhook-signature": signature(endpoint, event.event_id, at, body),
            "User-Agent": "Guestgate-Webhooks/1"}


def next_wait(attempts: int, first: float) -> timedelta:
    """Exponential backoff with jitter: first, 2x, 4x ... capped at six hours, each wait a
    random half to whole of that (so many failing deliveries don't retry in step)."""
    base = min(first * 2 ** max(attempts - 1, 0), LONGEST_WAIT.total_seconds())
    return timedelta(seconds=base * random.uniform(0.5, 1.0))


def send_one(delivery_id: int, token: str) -> None:
    delivery = (WebhookDelivery.select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
                .join(WebhookEvent).switch(WebhookDelivery).join(WebhookEndpoint)
                .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.claim == token))
                .first())
    if delivery is None:
        return  # deleted meanwhile, or the lease ran out and another worker has it
    endpoint, event = delivery.endpoint, delivery.event
    config = current_app.config
    body = event.payload.encode()
    status, error = None, ""
    try:
        answer = post(endpoint.url, body, headers_for(endpoint, event, body),
                      timeout=config["WEBHOOK_TIMEOUT_SECONDS"],
                      allow_private=config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"],
                      max_answer=config["WEBHOOK_MAX_ANSWER_BYTES"])
        status = answer.status
        if not 200 <= status < 300:
            error = mail.header_safe(answer.body.decode(errors="replace"), 500)
    except Refused as exc:
        error = f"Refused: {exc}"
    except Exception as exc:  # network trouble of every kind: try again later
        error = mail.header_safe(f"{type(exc).__name__}: {exc}", 500)
    _record(delivery, token, status, error)


def _record(delivery: WebhookDelivery, token: str, status: int | None, error: str) -> None:
    now = timeutil.utcnow()
    config = current_app.config
    mine = (WebhookDelivery.id == delivery.id) & (WebhookDelivery.claim == token)
    endpoint = delivery.endpoint
    ok = status is not None and 200 <= status < 300
    gone = status == 410
    pause_owner = None
    with database.atomic():
        if ok:
            WebhookDelivery.update(status="delivered", delivered_at=now, last_status=status,
                                   last_error="", last_attempt_at=now, claim=None).where(
                mine).execute()
            WebhookEndpoint.update(failures_in_a_row=0).where(
                (WebhookEndpoint.id == endpoint.id)
                & (WebhookEndpoint.failures_in_a_row != 0)).execute()
            return
        # counted from the delivery's own start (a Send again of an old event retries too)
        give_up = gone or delivery.created_at + timedelta(
            hours=config["WEBHOOK_RETRY_HOURS"]) <= now
        # At least a second on: a tick never takes the same delivery twice (deliver_due).
        retry_at = now + max(timedelta(seconds=1),
                             next_wait(delivery.attempts, config["WEBHOOK_RETRY_FIRST_SECONDS"]))
        done = WebhookDelivery.update(
            status="failed" if give_up else "pending", last_status=status,
            last_error=error[:500], last_attempt_at=now, claim=None,
            next_attempt_at=now if give_up else retry_at).where(mine).execute()
        if not done:
            return
        if gone:
            WebhookEndpoint.update(status="gone", status_detail="The receiver answered 410 Gone",
                                   updated_at=now).where(
                (WebhookEndpoint.id == endpoint.id)
                & (WebhookEndpoint.status == "active")).execute()
            return
        failures = list(WebhookEndpoint.update(
            failures_in_a_row=WebhookEndpoint.failures_in_a_row + 1).where(
            WebhookEndpoint.id == endpoint.id).returning(
            WebhookEndpoint.failures_in_a_row).execute())
        limit = config["WEBHOOK_PAUSE_AFTER_FAILURES"]
        if failures and failures[0].failures_in_a_row >= limit:
            paused = WebhookEndpoint.update(
                status="paused", updated_at=now,
                status_detail=f"Paused after {limit} failed tries in a row; last: "
                              f"{status or ''} {error}".strip()[:500]).where(
                (WebhookEndpoint.id == endpoint.id)
                & (WebhookEndpoint.status == "active")).execute()
            if paused:
                pause_owner = endpoint.owner_id
    if pause_owner is not None:
        _email_paused(User.get_by_id(pause_owner), endpoint, status, error)


def _email_paused(owner: User, endpoint: WebhookEndpoint, status, error: str) -> None:
    from flask_mail import Message

    from .web import public_url

    url = public_url("webhooks.endpoint", endpoint_id=endpoint.id)
    body = (f"Guestgate paused your webhook endpoint\n\n  {endpoint.url}\n\n"
            f"after {current_app.config['WEBHOOK_PAUSE_AFTER_FAILURES']} failed deliveries in a "
            f"row. The last answer: {status or 'no answer'} {error}\n\n"
            f"Its events wait for you: once the receiver works again, enable the endpoint at\n"
            f"{url}\nand they are delivered.\n")
    why = mail.send_all([Message(subject="Your Guestgate webhook endpoint was paused",
                                 recipients=[owner.email], body=body,
                                 sender=current_app.config.get("MAIL_DEFAULT_SENDER"))])[0]
    if why:
        current_app.logger.warning("webhook pause email to %s failed: %s", owner.email, why)


# --- time-based events ----------------------------------------------------------------------

_LAST_LOOK = "guestgate_webhook_time_events"  # app.extensions: when this process last looked


def emit_time_events(now=None) -> int:
    """room.started and link.expired for the rooms and links whose time came since this
    process last looked (at its start: within WEBHOOK_TIME_EVENTS_LOOKBACK_HOURS), each once
    across every worker. Returns how many were written."""
    now = now or timeutil.utcnow()
    app = current_app._get_current_object()
    since = app.extensions.get(_LAST_LOOK) or now - timedelta(
        hours=app.config["WEBHOOK_TIME_EVENTS_LOOKBACK_HOURS"])
    since -= timedelta(seconds=5)  # a row committed with a time just before the last look
    written = 0
    if outbox.wanting_any("room.started"):
        for room in Room.live().where((Room.starts_at > since) & (Room.starts_at <= now)):
            with database.atomic():
                written += bool(outbox.emit(
                    "room.started", room, {},
                    once_key=f"room.started:{room.id}:{timeutil.iso_utc(room.starts_at)}"))
    if outbox.wanting_any("link.expired"):
        links = (GuestLink.select(GuestLink, Room).join(Room)
                 .where(GuestLink.deleted_at.is_null() & Room.deleted_at.is_null()
                        & (GuestLink.expires_at > since) & (GuestLink.expires_at <= now)))
        for link in links:
            with database.atomic():
                written += bool(outbox.emit(
                    "link.expired", link.room, {"link": outbox.link_data(link)},
                    once_key=f"link.expired:{link.id}:{timeutil.iso_utc(link.expires_at)}"))
    app.extensions[_LAST_LOOK] = now
    return written


# --- the loop ----------------------------------------------------------------------

def deliver_due() -> int:
    """One tick: time events, then every due delivery, batch after batch. Returns how many
    were sent (whatever came of them)."""
    emit_time_events()
    started = timeutil.utcnow()  # what falls due later (a retry) waits for the next tick
    sent = 0
    while True:
        token, ids = claim(due_by=started)
        if not ids:
            return sent
        for delivery_id in ids:
            send_one(delivery_id, token)
        sent += len(ids)


def pending_count() -> int:
    return WebhookDelivery.select(fn.COUNT(WebhookDelivery.id)).where(
        WebhookDelivery.status == "pending").scalar()
