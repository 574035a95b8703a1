"""Attendance of a room (issue 28, item 4): for each person, by email — who registered, who got
a place (approved), who entered the room page, when they first entered and last left it, when
they first joined the live session, how long they were inside, and how many visits.

Read from what Guestgate records anyway: Registration rows, and Participant rows (one a
visit: entered when admitted — `decided_at`, or `created_at` for those let straight in — left
at Leave's `updated_at` or a host's Remove's `removed_at`, still inside until the session's end;
`joined_live_at` set on the first Join)."""

from dataclasses import dataclass, field
from datetime import datetime

from peewee import Case, fn

from .. import timeutil
from ..models import Participant, Registration, Room

REGISTRATION_WORDS = {"unconfirmed": "not confirmed", "pending": "waiting for approval",
                      "registered": "registered", "waitlisted": "on the waitlist",
                      "declined": "declined", "cancelled": "cancelled"}
APPROVED_WORDS = {"registered": "yes", "declined": "no", "pending": "not yet",
                  "waitlisted": "not yet"}


@dataclass
class Attendee:
    email: str
    name: str = ""
    registration: str = ""  # REGISTRATION_WORDS, or "" for someone who never registered
    registered_at: datetime | None = None
    approved: str = ""  # APPROVED_WORDS
    approved_at: datetime | None = None
    entered_at: datetime | None = None  # first
    left_at: datetime | None = None  # last, when not inside now
    inside_now: bool = False
    joined_live_at: datetime | None = None  # first
    seconds_inside: int = 0
    visits: int = 0
    _visits: list = field(default_factory=list, repr=False)

    @property
    def entered(self) -> bool:
        return self.entered_at is not None

    @property
    def minutes_inside(self) -> int:
        return round(self.seconds_inside / 60)


def _visit(p: Participant) -> tuple[datetime, datetime | None, bool] | None:
    """(entered, left or None while inside, inside now) of one presence, or None when it never
    got in (waited and left, or was denied)."""
    if p.status == "admitted":
        return (p.decided_at or p.created_at), None, True
    if p.status == "rejected" and p.removed_at is not None:  # a host's Remove
        return (p.decided_at or p.created_at), p.removed_at, False
    if p.status == "left" and p.decided_at is not None:
        return p.decided_at, p.updated_at, False
    return None


def attendance(room: Room, now: datetime | None = None,
               emails: list[str] | None = None) -> list[Attendee]:
    """Everyone who registered or came, in the order they first appeared (`emails`: only
    these people, as `first_emails` chose them)."""
    now = now or timeutil.utcnow()
    until = min(now, room.ends_at)
    people: dict[str, Attendee] = {}
    registrations = Registration.select().where(Registration.room == room.id)
    presences = Participant.select().where(Participant.room == room.id)
    if emails is not None:
        registrations = registrations.where(Registration.email.in_(emails or [""]))
        presences = presences.where(Participant.email.in_(emails or [""]))
    for reg in registrations.order_by(Registration.created_at, Registration.id):
        a = people.setdefault(reg.email, Attendee(reg.email))
        a.name = reg.name
        a.registration = REGISTRATION_WORDS.get(reg.status, reg.status)
        a.registered_at = reg.confirmed_at or reg.created_at
        a.approved = APPROVED_WORDS.get(reg.status, "")
        if reg.status == "registered":
            a.approved_at = reg.decided_at or reg.confirmed_at
    for p in presences.order_by(Participant.created_at, Participant.id):
        a = people.setdefault(p.email, Attendee(p.email))
        a.name = a.name or p.name
        if p.joined_live_at and (a.joined_live_at is None or p.joined_live_at < a.joined_live_at):
            a.joined_live_at = p.joined_live_at
        visit = _visit(p)
        if visit is None:
            continue
        entered, left, inside = visit
        a.visits += 1
        a.entered_at = min(a.entered_at, entered) if a.entered_at else entered
        a.inside_now = a.inside_now or inside
        if left is not None and (a.left_at is None or left > a.left_at):
            a.left_at = left
        end = until if left is None else min(left, until)
        a.seconds_inside += max(int((end - entered).total_seconds()), 0)
    for a in people.values():
        if a.inside_now:
            a.left_at = None
    return list(people.values())


def _first_seen(room: Room):
    """Each person (email) of the room with when they first appeared: registered or came."""
    everyone = (Registration.select(Registration.email.alias("email"),
                                    Registration.created_at.alias("at"))
                .where(Registration.room == room.id)
                .union_all(Participant.select(Participant.email.alias("email"),
                                              Participant.created_at.alias("at"))
                           .where(Participant.room == room.id))).alias("everyone")
    return everyone


def first_emails(room: Room, limit: int) -> list[str]:
    """The first `limit` people to appear (the screen's list; the CSV has everyone): one
    query, whatever the crowd."""
    everyone = _first_seen(room)
    first = fn.MIN(everyone.c.at)
    query = (Registration.select(everyone.c.email).from_(everyone)
             .group_by(everyone.c.email).order_by(first, everyone.c.email).limit(limit))
    return [email for (email,) in query.tuples()]


def people_count(room: Room) -> int:
    """How many people registered or came (each email once)."""
    everyone = _first_seen(room)
    return Registration.select(fn.COUNT(fn.DISTINCT(everyone.c.email))).from_(
        everyone).scalar() or 0


def counts(room: Room) -> dict[str, int]:
    """How many registered, got a place, entered the room and joined the live session —
    counted by the database, nobody loaded."""
    registered = Registration.select(
        fn.COUNT(Registration.id),
        fn.SUM(Case(None, [(Registration.status == "registered", 1)], 0))).where(
        Registration.room == room.id).tuples().first()
    # A presence that got in (`_visit`): admitted, removed by a host, or left after admission.
    visited = ((Participant.status == "admitted")
               | ((Participant.status == "rejected") & Participant.removed_at.is_null(False))
               | ((Participant.status == "left") & Participant.decided_at.is_null(False)))
    came = Participant.select(
        fn.COUNT(fn.DISTINCT(Case(None, [(visited, Participant.email)], None))),
        fn.COUNT(fn.DISTINCT(Case(None, [(Participant.joined_live_at.is_null(False),
                                          Participant.email)], None)))).where(
        Participant.room == room.id).tuples().first()
    return {"registered": registered[0] or 0,
            "approved": registered[1] or 0, "entered": came[0] or 0,
            "joined_live": came[1] or 0}


HEADER = ["name", "email", "registration", "registered_at", "approved", "approved_at",
          "entered", "entered_at", "left_at", "joined_live_at", "minutes_in_room", "visits"]


def export_rows(room: Room, now: datetime | None = None) -> tuple[list[str], list[list]]:
    """The attendance as CSV rows (portal/csvfiles.py writes them): times in UTC, ISO 8601."""
    rows = [[a.name, a.email, a.registration, timeutil.iso_utc(a.registered_at), a.approved,
             timeutil.iso_utc(a.approved_at), "yes" if a.entered else "no",
             timeutil.iso_utc(a.entered_at), timeutil.iso_utc(a.left_at),
             timeutil.iso_utc(a.joined_live_at), a.minutes_inside if a.entered else "",
             a.visits] for a in attendance(room, now)]
    return HEADER, rows
