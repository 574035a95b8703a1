"""Recording why guests were turned away, in bounded storage: an exact counter per room, reason
and day, plus only the most recent events of each room. Denials that can't be tied to a room
(garbled tokens) are only counted, under room_key 0.

A flood of denials (a link posted publicly after it expired) must not slow the guest pages or
grow the database, so recording is a couple of short statements on indexed rows, written once
here rather than rebuilt by the query builder on every call (which cost more than the
statements themselves):

- bump the day's counter (an upsert: exact under any concurrency) and add the event;
- prune: drop the room's events older than its newest DENIAL_EVENTS_PER_ROOM. Pruning walks
  the room's part of the (room, id) index, so it runs only at the first denial of each reason
  and day, and at every PRUNE_EVERY-th. Between two prunes a room gains at most
  PRUNE_EVERY - 1 events per reason, so it never holds more than
  DENIAL_EVENTS_PER_ROOM + max_events_slack() events (300 + 108 with the defaults).

Garbled tokens cost nothing to make, and every one would be a write: their denials are recorded
at most GARBLED_DENIALS_PER_MINUTE times a minute per client address; the page answers the same.
"""

from functools import cache

from flask import current_app, has_request_context, request
from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.strategies import FixedWindowRateLimiter

from . import outbox
from .db import database, is_sqlite
from .decision import REASONS
from .extensions import limiter
from .models import DenialCount, DenialEvent
from .prepared import prepared
from .ratelimit import DatabaseStorage, LocalStorage
from .timeutil import utcnow

NO_ROOM = 0
PRUNE_EVERY = 10


def max_events_slack() -> int:
    """How far above DENIAL_EVENTS_PER_ROOM a room's events may briefly go (see above): each
    reason's counter of the day triggers a prune at its first denial and every PRUNE_EVERY-th,
    and a new day starts every counter again at one."""
    return len(REASONS) * (PRUNE_EVERY - 1)


@cache
def _statements(param: str) -> tuple[str, str, str]:
    """The statements, in the database's placeholder style ("?" or "%s"). ON CONFLICT and
    RETURNING work the same on SQLite (3.35+) and PostgreSQL."""
    counts, events, p = DenialCount._meta.table_name, DenialEvent._meta.table_name, param
    bump = (f'INSERT INTO "{counts}" ("room_key", "reason", "day", "count") '
            f"VALUES ({p}, {p}, {p}, 1) "
            f'ON CONFLICT ("room_key", "reason", "day") '
            f'DO UPDATE SET "count" = "{counts}"."count" + 1 RETURNING "count"')
    add = (f'INSERT INTO "{events}" ("room_id", "reason", "link_id", "invitation_id", "email", '
           f'"created_at") VALUES ({p}, {p}, {p}, {p}, {p}, {p})')
    # Everything up to the (keep + 1)-th newest; NULL (fewer events) deletes nothing.
    prune = (f'DELETE FROM "{events}" WHERE "room_id" = {p} AND "id" <= '
             f'(SELECT "id" FROM "{events}" WHERE "room_id" = {p} '
             f'ORDER BY "id" DESC LIMIT 1 OFFSET {p})')
    return bump, add, prune


@cache
def _bump_and_add() -> str:
    """PostgreSQL: the counter and the event in one statement (one round trip, atomic alone)."""
    bump, add, _prune = _statements("%s")
    return f"WITH added AS ({add}) {bump}"


def record(reason: str, room=None, link=None, invitation=None, email: str = "",
           announce: bool = False) -> None:
    """`announce`: and as the webhook guest.denied, in the same transaction (only when an
    endpoint wants it: otherwise no transaction more than before)."""
    now = utcnow()
    room_id = room.id if room is not None else None
    bump, add, prune = _statements(database.param)
    if room_id is None:
        if _within_garbled_bound():
            database.execute_sql(bump, (NO_ROOM, reason, now.date())).fetchall()
        return
    event = (room_id, reason, _id_of(link), _id_of(invitation), (email or "")[:254], now)
    hooks = _webhooks_wanting(room) if announce else []
    if is_sqlite() or hooks:
        with database.atomic():
            count = database.execute_sql(bump, (room_id, reason, now.date())).fetchall()[0][0]
            database.execute_sql(add, event)
            if hooks:
                _announce(reason, room, link, invitation, email, hooks)
    else:
        count = database.execute_sql(_bump_and_add(),
                                     (*event, room_id, reason, now.date())).fetchall()[0][0]
    if count == 1 or count % PRUNE_EVERY == 0:
        keep = current_app.config["DENIAL_EVENTS_PER_ROOM"]
        database.execute_sql(prune, (room_id, room_id, keep))


def _webhooks_wanting(room) -> list[int]:

    return outbox.wanting("guest.denied", room)


def _announce(reason, room, link, invitation, email, endpoint_ids) -> None:

    outbox.emit("guest.denied", room, {
        "reason": reason, "host_words": REASONS[reason].host_words, "email": email or "",
        "link": {"id": link.id, "name": link.name} if link is not None else None,
        "invitation_id": _id_of(invitation), "message": None, "by": None},
        endpoint_ids=endpoint_ids)


_GARBLED_COUNTER = "guestgate_garbled_denials"  # app.extensions key


def _within_garbled_bound() -> bool:
    """Whether this client address may have one more denial without a room recorded this
    minute. Counted in Redis when the rate limiter keeps its counters there (shared by every
    worker); otherwise in this process's memory — never in the database, which this bound
    protects: a counter there would be a write for every garbled link. If Redis is down, the
    denial isn't recorded; the page still answers."""
    app = current_app._get_current_object()
    counter = app.extensions.get(_GARBLED_COUNTER)
    if counter is None:
        shared = limiter.enabled and not isinstance(limiter.storage, DatabaseStorage)
        storage = limiter.storage if shared else LocalStorage()
        counter = app.extensions.setdefault(_GARBLED_COUNTER, FixedWindowRateLimiter(storage))
    per_minute = RateLimitItemPerMinute(app.config["GARBLED_DENIALS_PER_MINUTE"])
    address = (request.remote_addr if has_request_context() else None) or "-"
    try:
        return counter.hit(per_minute, "guestgate-garbled-denials", address)
    except (StorageError, *_as_tuple(counter.storage.base_exceptions)):
        return False


def _as_tuple(exceptions) -> tuple:
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)


def _id_of(obj) -> int | None:
    return None if obj is None else getattr(obj, "id", obj)


def prune_room(room_id: int, keep: int | None = None) -> int:
    """Keep only the newest `keep` events of the room (DENIAL_EVENTS_PER_ROOM by default);
    returns how many were dropped."""
    if keep is None:
        keep = current_app.config["DENIAL_EVENTS_PER_ROOM"]
    _bump, _add, prune = _statements(database.param)
    return database.execute_sql(prune, (room_id, room_id, keep)).rowcount


# --- reading: the counters only (bounded), never a scan of the events -------------------------

def window_start(hours: int):
    """The first day counted for "the last `hours` hours": counters are per day (UTC), so a
    window starts at midnight UTC of the day the exact window starts in (up to a day more)."""
    from datetime import timedelta

    return (utcnow() - timedelta(hours=hours)).date()


def room_denied_since(room_id: int, day) -> int:
    """Denials in one room since `day` (the room page's nav asks at every poll: prepared)."""
    return int(_room_denied_since.first(room_key=room_id, day=day)[0])


@prepared
def _room_denied_since(room_key, day):
    from peewee import fn

    return (DenialCount.select(fn.COALESCE(fn.SUM(DenialCount.count), 0))
            .where((DenialCount.room_key == room_key) & (DenialCount.day >= day)).tuples())


def rooms_denied_since(room_ids, day) -> dict[int, int]:
    """Denials per room since `day`, for many rooms in one grouped query."""
    from peewee import fn

    ids = list(room_ids)
    if not ids:
        return {}
    query = (DenialCount.select(DenialCount.room_key, fn.SUM(DenialCount.count))
             .where(DenialCount.room_key.in_(ids) & (DenialCount.day >= day))
             .group_by(DenialCount.room_key).tuples())
    return {room_key: int(total) for room_key, total in query if total}
