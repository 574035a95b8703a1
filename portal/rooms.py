"""Rooms, as every door makes and changes them (the owner's screens, the command line): saved
with a meeting name that Guestgate gives and that one room alone holds on its platform.

The meeting name is what the platform knows the meeting by and what credentials are minted
for, so owners can't choose it: a name another room holds would make its owner a moderator of
that room's meeting. The rule is portal.meetings.derive_name; the database's unique index
(portal.models) is what holds it when two saves meet."""

from peewee import IntegrityError, fn

from . import audit, meetings
from .db import database
from .models import Room

ATTEMPTS = 5  # a clash of two random names is already a one in 2**80 event


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
