"""Webhooks, the service: owners' endpoints (create, list, update, enable or disable, rotate the
secret, delete, send a test event, send a delivery again) and `emit`, which every other service
calls inside the transaction of its change. The owner's screen (portal/owner/webhooks.py) and
the REST API call these; the delivery worker (portal/webhook_delivery.py) sends what `emit`
wrote.

`emit(type, room, data)` writes the event to the outbox (WebhookEvent) and one pending
WebhookDelivery per endpoint that wants it — only when one does: with no endpoint, it costs one
indexed query on an empty table. Written in the caller's transaction: a change rolled back
announces nothing, and a change committed is never lost.

Which endpoints want an event: active ones, listing its type, whose owner may see the room (an
admin every room, a broadcaster their own) and, if they named rooms, naming this one."""

import base64
import secrets
from datetime import timedelta

from flask import current_app

from .. import audit, timeutil
from ..db import database
from ..models import Room, User, WebhookDelivery, WebhookEndpoint, WebhookEvent
from ..outbox import EVENTS, TEST_EVENT, _write_event

MAX_ENDPOINTS_PER_OWNER = 20


class Invalid(Exception):
    """A field's value was refused: `field` names it, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


# --- who may see which room ----------------------------------------------------------------------

def visible_rooms(owner: User):
    """The live rooms `owner` may choose from (an admin: every room)."""
    query = Room.live().order_by(Room.starts_at.desc(), Room.id.desc())
    return query if owner.access == "admin" else query.where(Room.owner == owner)


def _clean(owner: User, url: str, events, room_ids) -> tuple[str, str, str]:
    from ..webhook_http import Refused, check_url

    url = (url or "").strip()
    if len(url) > 500:
        raise Invalid("url", "The URL is too long (at most 500 characters).")
    try:
        check_url(url)
    except Refused as exc:
        raise Invalid("url", f"Not a URL webhooks can go to: {exc}.")
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise Invalid("events", f"Unknown events: {', '.join(unknown)}.")
    if not chosen:
        raise Invalid("events", "Choose at least one event.")
    ids = []
    for raw in room_ids or []:
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            raise Invalid("room_ids", f"Not a room id: {raw!r}.")
    ids = list(dict.fromkeys(ids))
    if ids:
        seen = {r.id for r in visible_rooms(owner).where(Room.id.in_(ids))}
        if set(ids) - seen:
            raise Invalid("room_ids", "Choose only rooms you can see.")
    return url, " ".join(chosen), " ".join(map(str, ids))


# --- endpoints ----------------------------------------------------------------------

def create_endpoint(owner: User, url: str, events, room_ids=(), description: str = ""):
    """A new active endpoint: gives (endpoint, secret); the secret is shown this once."""
    url, events_text, rooms_text = _clean(owner, url, events, room_ids)
    if WebhookEndpoint.select().where(WebhookEndpoint.owner == owner).count() \
            >= MAX_ENDPOINTS_PER_OWNER:
        raise Invalid("url", f"At most {MAX_ENDPOINTS_PER_OWNER} endpoints an account.")
    secret = new_secret()
    with database.atomic():
        endpoint = WebhookEndpoint.create(owner=owner, url=url, events=events_text,
                                          room_ids=rooms_text, secret=secret,
                                          description=(description or "").strip()[:100])
        audit.record("webhook_created", None, url[:255], detail=events_text,
                     actor=audit.Actor.of_account(owner))
    return endpoint, secret


def endpoints_of(owner: User) -> list[WebhookEndpoint]:
    """The owner's own endpoints (an admin's too: endpoints are personal)."""
    return list(WebhookEndpoint.select().where(WebhookEndpoint.owner == owner)
                .order_by(WebhookEndpoint.id))


def endpoint_of(owner: User, endpoint_id: int) -> WebhookEndpoint | None:
    """The endpoint if `owner` made it; None otherwise (the doors answer 404)."""
    return WebhookEndpoint.get_or_none((WebhookEndpoint.id == endpoint_id)
                                       & (WebhookEndpoint.owner == owner))


def update_endpoint(endpoint: WebhookEndpoint, url: str | None = None, events=None,
                    room_ids=None, description: str | None = None) -> WebhookEndpoint:
    owner = User.get_by_id(endpoint.owner_id)
    url, events_text, rooms_text = _clean(
        owner, endpoint.url if url is None else url,
        endpoint.event_list if events is None else events,
        endpoint.room_id_list if room_ids is None else room_ids)
    with database.atomic():
        endpoint.url, endpoint.events, endpoint.room_ids = url, events_text, rooms_text
        if description is not None:
            endpoint.description = description.strip()[:100]
        endpoint.updated_at = timeutil.utcnow()
        endpoint.save()
        audit.record("webhook_updated", None, url[:255], detail=events_text,
                     actor=audit.Actor.of_account(owner))
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool) -> None:
    """Enable (also a paused or gone one: its pending deliveries go out again) or disable."""
    with database.atomic():
        WebhookEndpoint.update(status="active" if enabled else "disabled", status_detail="",
                               failures_in_a_row=0, updated_at=timeutil.utcnow()).where(
            WebhookEndpoint.id == endpoint.id).execute()
        if enabled:  # what waited while it was paused is due now
            WebhookDelivery.update(next_attempt_at=timeutil.utcnow(), claim=None).where(
                (WebhookDelivery.endpoint == endpoint.id)
                & (WebhookDelivery.status == "pending")).execute()
        audit.record("webhook_enabled" if enabled else "webhook_disabled", None,
                     endpoint.url[:255], actor=audit.Actor.of_account(endpoint.owner))
    endpoint.status = "active" if enabled else "disabled"


def rotate_secret(endpoint: WebhookEndpoint, grace_hours: float | None = None) -> str:
    """A new secret, shown once. The previous one keeps signing too (a second signature in
    webhook-signature) for `grace_hours` (WEBHOOK_SECRET_GRACE_HOURS), so receivers can switch
    without losing a delivery."""
    if grace_hours is None:
        grace_hours = current_app.config["WEBHOOK_SECRET_GRACE_HOURS"]
    secret = new_secret()
    with database.atomic():
        WebhookEndpoint.update(secret=secret, previous_secret=endpoint.secret,
                               previous_secret_until=timeutil.utcnow()
                               + timedelta(hours=grace_hours),
                               updated_at=timeutil.utcnow()).where(
            WebhookEndpoint.id == endpoint.id).execute()
        audit.record("webhook_secret_rotated", None, endpoint.url[:255],
                     detail=f"the previous secret signs too for {grace_hours:g} hours",
                     actor=audit.Actor.of_account(endpoint.owner))
    return secret


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    """Gone with its deliveries (the events other endpoints share stay)."""
    with database.atomic():
        WebhookEndpoint.delete().where(WebhookEndpoint.id == endpoint.id).execute()
        audit.record("webhook_deleted", None, endpoint.url[:255],
                     actor=audit.Actor.of_account(endpoint.owner))


def deliveries(endpoint: WebhookEndpoint, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's latest deliveries, newest first, with their events."""
    return list(WebhookDelivery.select(WebhookDelivery, WebhookEvent).join(WebhookEvent)
                .where(WebhookDelivery.endpoint == endpoint)
                .order_by(WebhookDelivery.id.desc()).limit(limit))


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint alone, due now (also when it is disabled:
    pending until it is enabled)."""
    with database.atomic():
        event = _write_event(TEST_EVENT, None, {"endpoint": {"id": endpoint.id},
                                                "message": "A test event from Guestgate"})
        return WebhookDelivery.create(endpoint=endpoint, event=event)


def resend(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    """Send again: a new delivery of the same event (the same webhook-id, so a receiver that
    got it before knows it), due now. None if the delivery isn't this endpoint's."""
    old = WebhookDelivery.get_or_none((WebhookDelivery.id == delivery_id)
                                      & (WebhookDelivery.endpoint == endpoint))
    if old is None:
        return None
    return WebhookDelivery.create(endpoint=endpoint, event=old.event_id)


# --- emitting events ----------------------------------------------------------------------
