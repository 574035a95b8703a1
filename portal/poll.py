"""The guest's status poll, decided once: what a countdown, waiting or room page is told when it
asks whether anything changed, and how often it should ask. Both doors that answer the poll call
`answer` — the Flask view (portal/guest/room.py, `status`) and the quick poll before Flask
(portal/quickpoll.py) — so they can't disagree.

How often: a countdown far from its start asks seldom; a waiting page every
POLL_WAITING_SECONDS while its guest is on the hosts' list, as the crowd allows behind it; a
crowd's pages together ask at most ROOM_POLLS_PER_SECOND (10,000 waiting at 5 s would be 2,000
requests a second, all a small server can answer). A change still reaches each page within the
interval it was told."""

import threading
import time
import zlib
from dataclasses import dataclass

from . import access, decision
from .access import PresenceFacts

# The waiting page names a place in line up to this one; behind it, "At least 100 … ahead".
QUEUE_COUNTED = 100

# A countdown far from its start asks every 1/20 of the time left, at most every
# POLL_COUNTDOWN_LONGEST_SECONDS, never more often than POLL_COUNTDOWN_SECONDS.
COUNTDOWN_POLL_FRACTION = 20

# How long a room's count of waiting or inside guests is taken as it was (per process): the
# intervals are hints, and polls ask them thousands of times a second.
CROWD_COUNTED_FOR = 2.0  # seconds
_CROWDS = "guestgate_crowds"  # app.extensions key: per app, so a new app counts afresh


def countdown_poll(starts_in: float, shortest: float, longest: float) -> float:
    return max(shortest, min(longest, round(starts_in / COUNTDOWN_POLL_FRACTION)))


def _crowd(app, room_id: int, status: str) -> int:
    crowds, lock = app.extensions.setdefault(_CROWDS, ({}, threading.Lock()))
    now = time.monotonic()
    seen = crowds.get((room_id, status))
    if seen is None or now - seen[0] > CROWD_COUNTED_FOR:
        seen = (now, access.crowd(room_id, status))
        with lock:
            if len(crowds) > 10_000:
                crowds.clear()
            crowds[room_id, status] = seen
    return seen[1]


def crowd_poll(app, room_id: int, status: str) -> float:
    """How often a page of a guest with this status asks, so that the room's crowd with it asks
    at most ROOM_POLLS_PER_SECOND together."""
    config = app.config
    return max(config["POLL_WAITING_SECONDS"],
               round(_crowd(app, room_id, status) / config["ROOM_POLLS_PER_SECOND"]))


def waiting_poll(app, room_id: int, position: int) -> float:
    """A waiting page: every POLL_WAITING_SECONDS for those on the hosts' list (the first
    HOST_LIST_ROWS, whom a host may admit one by one); behind them, as the crowd allows."""
    if position <= app.config["HOST_LIST_ROWS"]:
        return app.config["POLL_WAITING_SECONDS"]
    return crowd_poll(app, room_id, "waiting")


def poll_to_swap(app, room_id: int, position: int, place: str | None,
                 every: str | None) -> float | None:
    """The interval of a new poll for a waiting page, or None while the page's poll is right:
    swapped when its place in line moved, or the crowd grew or shrank so much that the interval
    it was told is off by half or more (pages that came early, when few waited, would otherwise
    ask every 5 s however many join them)."""
    due = waiting_poll(app, room_id, position)
    if str(position) != place:
        return due
    try:
        told = float(every)
    except (TypeError, ValueError):
        return due
    return None if due / 1.5 < told < due * 1.5 else due


def page_state(result: decision.Decision, host_message: str, role: str | None = None) -> str:
    """What a guest page shows, in one short word: the outcome (or reason); a role other than
    viewer inside; and a checksum of the host's message, so a new message or role also makes
    the page reload. (The place in line is not part of it: see `answer`.)"""
    state = result.reason or result.outcome
    if result.outcome == decision.ENTER and role and role != "viewer":
        state += f".{role}"
    if host_message and result.outcome in (decision.COUNTDOWN, decision.WAITING):
        state += f".{zlib.crc32(host_message.encode()):08x}"
    return state


@dataclass(frozen=True)
class Answer:
    """What a poll is told: `changed` (the page loads again, and that load decides: `state` is
    the new one); else, for a waiting page whose place in line moved or whose interval is off,
    the new `position` and `poll` to swap in; else nothing changed."""
    state: str
    changed: bool
    position: int | None = None
    poll: float | None = None


def answer(app, room_id: int, presence: PresenceFacts | None, state: str | None,
           place: str | None, every: str | None, device: str | None = None) -> Answer:
    """The poll of a page that showed `state` (and, waiting, `place` in line, asking `every`
    seconds), for this browser's presence in the room (None: it has none). A guest seated in
    the room is left there whatever becomes of their door, until they load the page themselves
    (PresenceFacts.decide_polled). `device`: this browser's, where the caller read it itself."""
    if presence is None:
        return Answer("gone", changed=state != "gone")
    result = presence.decide_polled(device)
    now = page_state(result, presence.host_message, presence.role)
    if now != state:
        return Answer(now, changed=True)
    if result.outcome == decision.WAITING:
        position = access.queue_position(room_id, presence.participant_id,
                                         presence.created_at, QUEUE_COUNTED)
        poll = poll_to_swap(app, room_id, position, place, every)
        if poll is not None:
            return Answer(now, changed=False, position=position, poll=poll)
    return Answer(now, changed=False)
