"""Rooms, as every door makes, changes and deletes them (the owner's screens, the REST API, the
command line): the rules of a room's fields, then the change, its audit events and the calendar
updates it owes, in one transaction.

Each field rule is here once: the room form (portal/forms.py RoomForm) shows its messages next
to its fields, the API's schema (portal/api/schemas.py) names the field, and `create`/`update`
check them all again, so no door can skip one.

The meeting name is what the platform knows the meeting by and what credentials are minted
for, so owners can't choose it: a name another room holds would make its owner a moderator of
that room's meeting. The rule is portal.meetings.derive_name; the database's unique index
(portal.models) is what holds it when two saves meet."""

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import current_app
from peewee import IntegrityError, fn

from .. import audit, meetings, outbox, push, timeutil
from ..audit import Actor
from ..db import database
from ..models import ROOM_KINDS, Room, User
from ..text import control_characters_problem
from . import calendar_updates

ATTEMPTS = 5  # a clash of two random names is already a one in 2**80 event

# --- the rules of a room's fields -----------------------------------------------------------------

MAX_LENGTH = {"title": 200, "description": 5000, "speakers": 2000, "consent_text": 2000,
              "join_url": 500}
MULTILINE = {"description", "speakers", "consent_text"}
NO_TITLE = "Give the room a title."
BAD_URL = "Enter a full web address starting with https:// or http://."
END_BEFORE_START = "The end must be after the start."
YEARS = (1900, 2999)
BAD_YEAR = "Enter a date between the years 1900 and 2999."
NO_CONSENT_TEXT = "Enter the text guests agree to, such as a recording notice or your terms."
BAD_CHOICE = "Not a valid choice."


def too_long(limit: int) -> str:
    return f"Field cannot be longer than {limit} characters."


def text_problem(name: str, value: str | None) -> str | None:
    """Length and control characters of a text field (`name` in MAX_LENGTH)."""
    if value is None:
        return None
    if len(value) > MAX_LENGTH[name]:
        return too_long(MAX_LENGTH[name])
    return control_characters_problem(value, multiline=name in MULTILINE)


def title_problem(value: str | None) -> str | None:
    if not (value or "").strip():
        return NO_TITLE
    return text_problem("title", value)


def join_url_problem(value: str | None) -> str | None:
    """Optional; a full http(s) address (the hand-off sends guests' browsers there)."""
    if not value:
        return None
    why = text_problem("join_url", value)
    if why:
        return why
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value:
        return BAD_URL
    return None


def zone_problem(value: str | None) -> str | None:
    return None if value in set(timeutil.zone_names()) else BAD_CHOICE


def kind_problem(value: str | None) -> str | None:
    return None if value in ROOM_KINDS else BAD_CHOICE


def platforms(config=None) -> list[str]:
    """What a room may choose: the configured platforms, then Other (join URL)."""
    return meetings.choices(config if config is not None else current_app.config)


def platform_problem(value: str | None, config=None) -> str | None:
    return None if value in platforms(config) else BAD_CHOICE


def in_utc(value: datetime, zone: str) -> datetime:
    """A wall-clock time in `zone` (naive), or an instant with its offset, as naive UTC."""
    if value.tzinfo is None:
        return timeutil.to_utc(value, zone)
    return value.astimezone(UTC).replace(tzinfo=None)


def year_problem(value: datetime | None) -> str | None:
    # also keeps the conversion to UTC from overflowing
    if value is not None and not YEARS[0] <= value.year <= YEARS[1]:
        return BAD_YEAR
    return None


def times_problem(starts_at: datetime, ends_at: datetime, zone: str) -> str | None:
    """The end's problem: compared in UTC, since across a daylight-saving change a later
    wall-clock time can be an earlier instant."""
    if in_utc(ends_at, zone) <= in_utc(starts_at, zone):
        return END_BEFORE_START
    return None


def consent_problem(required: bool, text: str | None) -> str | None:
    return NO_CONSENT_TEXT if required and not text else None


# Who host alerts reach when guests wait unseen (portal/host_alerts.py).
ALERT_HOSTS = {
    "hosts": "You, and the invited moderators who turned alerts on for rooms they moderate",
    "owner": "Only you",
    "nobody": "Nobody",
}


@dataclass
class RoomValues:
    """Every field the room form has. Times: a naive wall-clock time in `timezone` (as the form
    gives them), or an aware instant (as the API may). `platform` None: the first configured
    one for a new room, unchanged for an existing one."""
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = "UTC"
    description: str = ""
    speakers: str = ""
    kind: str = "regular"
    require_approval: bool = False
    require_email_match: bool = True
    consent_required: bool = False
    consent_text: str = ""
    platform: str | None = None
    join_url: str | None = None
    alert_hosts: str = "hosts"

    @classmethod
    def of(cls, room: Room) -> "RoomValues":
        """The room's values as they are (a partial change starts from these)."""
        zone = room.timezone if timeutil.is_valid_zone(room.timezone) else "UTC"
        values = {f.name: getattr(room, f.name) for f in fields(cls)}
        values["starts_at"] = timeutil.to_local(room.starts_at, zone)
        values["ends_at"] = timeutil.to_local(room.ends_at, zone)
        values["timezone"] = zone
        return cls(**values)


class Invalid(Exception):
    """Fields that break a rule: {field name: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def problems(values: RoomValues, config=None) -> dict[str, list[str]]:
    found: dict[str, str | None] = {
        "title": title_problem(values.title),
        "description": text_problem("description", values.description),
        "speakers": text_problem("speakers", values.speakers),
        "consent_text": text_problem("consent_text", values.consent_text)
        or consent_problem(values.consent_required, values.consent_text),
        "join_url": join_url_problem(values.join_url),
        "timezone": zone_problem(values.timezone),
        "kind": kind_problem(values.kind),
        "alert_hosts": None if values.alert_hosts in ALERT_HOSTS
        else "Choose who is alerted: " + ", ".join(ALERT_HOSTS) + ".",
        "platform": None if values.platform is None
        else platform_problem(values.platform, config),
        "starts_at": year_problem(values.starts_at),
        "ends_at": year_problem(values.ends_at),
    }
    if not any(found[k] for k in ("timezone", "starts_at", "ends_at")):
        found["ends_at"] = times_problem(values.starts_at, values.ends_at, values.timezone)
    return {name: [why] for name, why in found.items() if why}


def _apply(room: Room, values: RoomValues) -> None:
    room.title = values.title.strip()
    room.description = values.description or ""
    room.speakers = "\n".join(s.strip() for s in (values.speakers or "").splitlines()
                              if s.strip())
    room.starts_at = in_utc(values.starts_at, values.timezone)
    room.ends_at = in_utc(values.ends_at, values.timezone)
    room.timezone = values.timezone
    room.kind = values.kind
    room.require_approval = values.require_approval
    room.require_email_match = values.require_email_match
    room.consent_required = values.consent_required
    text = values.consent_text or ""
    if text != room.consent_text:
        # A new version for a new text: each agreement keeps the version its guest read, and
        # anyone who agreed to an older one is asked again when they next open their link.
        room.consent_text = text
        room.consent_version = (room.consent_version or 0) + 1 if text else room.consent_version
    room.join_url = values.join_url or None
    room.alert_hosts = values.alert_hosts
    if values.platform is not None:
        room.platform = values.platform  # the meeting's name is Guestgate's (save)
    elif room.id is None:
        room.platform = platforms()[0]
    if room.kind == "channel":
        room.guest_access_enabled = False  # not supported for channel rooms
    room.updated_at = timeutil.utcnow()


# --- which rooms an account sees ------------------------------------------------------------------

def visible_to(user: User):
    """The live rooms `user` sees in lists: an admin every room, a broadcaster their own (one
    room is reached through portal.owner.owned_room, which decides the same)."""
    query = Room.live()
    return query if user.is_admin else query.where(Room.owner == user.id)


# --- making, changing, deleting -------------------------------------------------------------------

def create(owner: User, values: RoomValues, actor: Actor | None = None) -> Room:
    """A new room of `owner`. Raises Invalid."""
    errors = problems(values)
    if errors:
        raise Invalid(errors)
    room = Room(owner=owner.id)
    _apply(room, values)
    with database.atomic():
        save(room)
        audit.record("room_created", room, room.title, actor=actor)
    return room


def update(room: Room, values: RoomValues, actor: Actor | None = None) -> Room:
    """The room with these values: a new consent text gets a new version, and guests whose
    invitation email went out get a calendar update when the time or title changed (sent after
    the commit). Raises Invalid."""
    errors = problems(values)
    if errors:
        raise Invalid(errors)
    before = calendar_updates.event_facts(room)
    consent_before = room.consent_version
    _apply(room, values)
    with database.atomic():
        save(room)
        audit.record("room_edited", room, room.title, actor=actor)
        outbox.emit("room.updated", room, {"changed": ["details"],
                                             "by": outbox.actor_data(actor)})
        push.room_news(room.id)  # new times, access, approval: every page decides again
        if room.consent_version != consent_before:
            audit.record("consent_text_changed", room, room.title,
                         detail=f"version {room.consent_version}", actor=actor)
        # Calendars that hold the invitation follow a new time or title.
        updated = calendar_updates.event_facts(room) != before \
            and calendar_updates.prepare(room)
    if updated:
        calendar_updates.send_later(updated, calendar_updates.UPDATE,
                                    actor.account_id if actor is not None else None)
    return room


def delete(room: Room, actor: Actor | None = None) -> bool:
    """Its links answer that the room is no longer available; invited guests whose email went
    out get a calendar cancellation (after the commit). False when it was already deleted."""
    with database.atomic():
        done = Room.update(deleted_at=timeutil.utcnow(), guest_access_enabled=False).where(
            (Room.id == room.id) & Room.deleted_at.is_null()).execute() == 1
        if not done:
            return False
        audit.record("room_deleted", room, room.title, actor=actor)
        outbox.emit("room.deleted", room, {"by": outbox.actor_data(actor)})
        push.room_news(room.id)
        cancelled = calendar_updates.prepare(room)
    if cancelled:
        calendar_updates.send_later(cancelled, calendar_updates.CANCEL,
                                    actor.account_id if actor is not None else None)
    return True


# --- the meeting name -----------------------------------------------------------------------------

def save(room: Room) -> None:
    """Insert or update `room` in the caller's transaction. A new room gets a name made from
    its title; a room keeps its name while its platform accepts it and no other room holds it
    there (a room moved to another platform may find it taken), and gets a new one otherwise,
    which the audit log records."""
    before = room.meeting_name if room.id is not None else None
    if before is None or not meetings.fits(room.platform, room.meeting_name or ""):
        room.meeting_name = meetings.derive_name(room.title)
    for attempt in range(ATTEMPTS):
        try:
            with database.atomic():  # a savepoint: a clash undoes this save alone
                room.save()
            break
        except IntegrityError:
            if attempt == ATTEMPTS - 1 or not _held_by_another(room):
                raise
            room.meeting_name = meetings.derive_name(room.title)
    if before is not None and room.meeting_name != before:
        audit.record("meeting_renamed", room, room.title, detail=renamed_detail(
            before, room.meeting_name, meetings.LABELS.get(room.platform, room.platform)))


def renamed_detail(old: str, new: str, platform: str) -> str:
    return f"{old or '(none)'} → {new} on {platform}"


def _held_by_another(room: Room) -> bool:
    return Room.select().where(
        (Room.platform == room.platform)
        & (fn.LOWER(Room.meeting_name) == room.meeting_name.lower())
        & (Room.id != (room.id or 0))).exists()
