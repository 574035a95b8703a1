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
import json
import secrets
import uuid
from contextlib import nullcontext
from datetime import timedelta

from flask import current_app

from .. import audit, timeutil
from ..db import database
from ..models import Room, User, WebhookDelivery, WebhookEndpoint, WebhookEvent

# Every event, as receivers see it named, and what it means (the screen and docs/webhooks.md).
EVENTS = {
    "guest.waiting": "A guest entered the lobby and waits to be admitted",
    "guest.admitted": "A host admitted a waiting guest",
    "guest.denied": "A guest was turned away: a host's Deny, or a lobby submission refused",
    "guest.entered": "A guest entered the room straight from the lobby",
    "guest.left": "A guest left (the room, the countdown or the waiting room)",
    "guest.removed": "A host removed a guest from the room",
    "guest.moved_to_waiting": "A host moved a guest back to the waiting room",
    "guest.joined_live": "A guest joined the live session (their credential was made)",
    "link.created": "A shared guest link was created",
    "link.exhausted": "A shared guest link's last click was used",
    "link.expired": "A shared guest link's time ran out",
    "invitation.created": "A personal invitation was created",
    "invitation.accepted": "An invited guest entered for the first time",
    "room.started": "A room's start time came",
    "room.updated": "A room's details or guest access changed",
    "room.deleted": "A room was deleted",
}
TEST_EVENT = "webhook.test"  # Send test event: to one endpoint, whatever it wants

MAX_ENDPOINTS_PER_OWNER = 20


class Invalid(Exception):
    """A field's value was refused: `field` names it, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


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

_WANTING_SQL = {}


def _active_endpoints() -> list[tuple]:
    """(id, owner id, owner's access, events, room ids) of every active endpoint: one query on
    the status index, its SQL written once (the guest's lobby asks it on every entry)."""
    sql = _WANTING_SQL.get(database.param)
    if sql is None:
        e, u = WebhookEndpoint._meta.table_name, User._meta.table_name
        sql = _WANTING_SQL[database.param] = (
            f'SELECT e."id", e."owner_id", u."access", e."events", e."room_ids" '
            f'FROM "{e}" AS e JOIN "{u}" AS u ON u."id" = e."owner_id" '
            f'WHERE e."status" = {database.param}')
    return database.execute_sql(sql, ("active",)).fetchall()


def wanting(event_type: str, room: Room | None) -> list[int]:
    """The ids of the endpoints that want this event of this room."""
    wanted = []
    for endpoint_id, owner_id, access, events, room_ids in _active_endpoints():
        if event_type not in events.split() or access not in ("admin", "broadcaster"):
            continue  # an account no longer an owner hears nothing more
        if room is not None:
            if access != "admin" and room.owner_id != owner_id:
                continue
            if room_ids and str(room.id) not in room_ids.split():
                continue
        elif access != "admin":
            continue
        wanted.append(endpoint_id)
    return wanted


def wanting_any(event_type: str) -> bool:
    """Whether any active endpoint wants this event of some room (time-based events ask
    before looking for rooms or links)."""
    return any(event_type in events.split() for *_, events, _rooms in _active_endpoints())


def room_data(room: Room) -> dict:
    return {"id": room.id, "title": room.title, "starts_at": timeutil.iso_utc(room.starts_at),
            "ends_at": timeutil.iso_utc(room.ends_at), "timezone": room.timezone,
            "owner_id": room.owner_id}


def guest_data(participant) -> dict:
    """A guest as the host sees them: name, email (as typed or invited), role, status, door."""
    link = getattr(participant, "link", None) if participant.link_id else None
    return {"id": participant.id, "name": participant.name, "email": participant.email,
            "role": participant.role, "status": participant.status,
            "email_source": getattr(participant, "email_source", None),
            "link": {"id": participant.link_id, "name": link.name if link else None}
            if participant.link_id else None,
            "invitation_id": participant.invitation_id}


def actor_data(actor) -> dict | None:
    if actor is None:
        return None
    return {"email": actor.email, "name": actor.name, "account_id": actor.account_id,
            "guest_moderator": bool(actor.source)}


def _bounded(payload: dict) -> str:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    limit = current_app.config["WEBHOOK_MAX_PAYLOAD_BYTES"]
    if len(body.encode()) > limit:  # only ids then: receivers can ask the API for the rest
        data = payload["data"]
        slim = {k: ({"id": v.get("id")} if isinstance(v, dict) else v)
                for k, v in data.items() if not isinstance(v, str) or len(v) < 200}
        body = json.dumps({**payload, "data": {**slim, "truncated": True}},
                          ensure_ascii=False, separators=(",", ":"), default=str)
    return body


def _write_event(event_type: str, room: Room | None, data: dict,
                 once_key: str | None = None) -> WebhookEvent | None:
    now = timeutil.utcnow()
    event_id = new_event_id()
    payload = _bounded({"type": event_type, "timestamp": timeutil.iso_utc(now),
                        "data": {"id": event_id, **({"room": room_data(room)} if room else {}),
                                 **data}})
    fields = dict(event_id=event_id, type=event_type, room_id=room.id if room else None,
                  payload=payload, once_key=once_key, created_at=now)
    if once_key is None:
        return WebhookEvent.create(**fields)
    # Happens once: a second writer of the same key (another worker, a concurrent entry)
    # writes nothing.
    rows = list(WebhookEvent.insert(**fields).on_conflict_ignore()
                .returning(WebhookEvent.id).execute())
    return WebhookEvent(id=rows[0].id, **fields) if rows else None


def emit(event_type: str, room: Room | None, data: dict, once_key: str | None = None,
         endpoint_ids: list[int] | None = None) -> WebhookEvent | None:
    """Announce `event_type` of `room` with `data` to every endpoint that wants it, in the
    caller's transaction (a savepoint of it). `once_key`: the event happens at most once.
    `endpoint_ids`: those wanting() found already (to skip the query)."""
    assert event_type in EVENTS, event_type
    wanted = wanting(event_type, room) if endpoint_ids is None else endpoint_ids
    if not wanted:
        return None
    # In the caller's transaction as it is (no savepoint: two statements less on the lobby's
    # path); alone, in a transaction of its own.
    with nullcontext() if database.in_transaction() else database.atomic():
        event = _write_event(event_type, room, data, once_key)
        if event is not None:
            now = event.created_at
            WebhookDelivery.insert_many([
                {"endpoint": i, "event": event.id, "next_attempt_at": now, "created_at": now}
                for i in wanted]).execute()
    return event


# --- the events of each service, in one line each where they happen ----------------------------

def guest_event(event_type: str, room: Room, participant, actor=None, status: str | None = None,
                **extra) -> None:
    """`status`: the guest's status after the change, when `participant` was read before it."""
    guest = guest_data(participant)
    if status is not None:
        guest["status"] = status
    emit(event_type, room, {"guest": guest, "by": actor_data(actor), **extra})


def guests_event(event_type: str, room: Room, rows, actor, **extra) -> None:
    """One event per guest of a host's Admit, Deny or Admit all (rows: id, name, email)."""
    wanted = wanting(event_type, room)
    if not wanted:
        return
    for row in rows:
        emit(event_type, room, {"guest": {"id": row.id, "name": row.name, "email": row.email},
                                "by": actor_data(actor), **extra}, endpoint_ids=wanted)


def link_data(link) -> dict:
    return {"id": link.id, "name": link.name, "max_uses": link.max_uses, "uses": link.uses,
            "expires_at": timeutil.iso_utc(link.expires_at)}


def invitation_data(invitation) -> dict:
    return {"id": invitation.id, "email": invitation.email, "role": invitation.role,
            "valid_once": invitation.valid_once,
            "expires_at": timeutil.iso_utc(invitation.expires_at)}
