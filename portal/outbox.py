"""The outbox: what happened, as webhook events, written in the same transaction as the change
that caused it (an audit event beside it), so nothing is lost and nothing is announced that
didn't happen — and only when some active endpoint wants it (one indexed query: the guest's
lobby asks on every entry). portal/webhook_delivery.py sends what is written here; the endpoints
themselves are portal/services/webhooks.py's."""

import json
import uuid
from contextlib import nullcontext

from flask import current_app

from . import timeutil
from .db import database
from .models import Room, User, WebhookDelivery, WebhookEndpoint, WebhookEvent

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
    "registration.confirmed": "Someone confirmed their registration (registered, waitlisted "
                              "or waiting for approval)",
    "registration.cancelled": "A registrant cancelled their registration",
    "room.started": "A room's start time came",
    "room.updated": "A room's details or guest access changed",
    "room.deleted": "A room was deleted",
}
TEST_EVENT = "webhook.test"  # Send test event: to one endpoint, whatever it wants


def new_event_id() -> str:
    return "msg_" + uuid.uuid4().hex


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
