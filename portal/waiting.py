"""The waiting list of a room whose guests wait to be admitted: who is waiting, the poll's
fingerprint, and Admit / Deny. Shared by the owner's room page (portal/owner/waiting.py) and an
invited moderator's room page (portal/guest.py); both render templates/owner/_waiting.html."""

import hashlib

from flask import current_app
from flask_login import current_user
from peewee import JOIN

from . import access, audit, timeutil
from .db import database
from .models import GuestLink, Participant, Room


def waiting_guests(room: Room, limit: int | None = None) -> list[Participant]:
    """Those waiting, first come first (the first `limit`): only what their row shows and the
    decision records (the list is read on every poll of every host). Not for saving."""
    return list(Participant.select(Participant.id, Participant.link, Participant.invitation,
                                   Participant.name, Participant.email, Participant.created_at,
                                   Participant.consented_at, Participant.consent_version,
                                   Participant.moved_at, GuestLink.id, GuestLink.name)
                .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
                .where((Participant.room == room) & (Participant.status == "waiting"))
                .order_by(Participant.created_at, Participant.id).limit(limit))


def waiting_count(room: Room) -> int:
    """How many wait: one count over the (room, status, created_at) index."""
    return access.crowd(room.id, "waiting")


def fingerprint(guests: list[Participant], total: int) -> str:
    """Short and stable while nobody arrives or leaves: the poll answers 204 (nothing to swap)
    while it is unchanged, so screen readers and focus aren't disturbed every few seconds."""
    ids = ",".join(str(g.id) for g in guests)
    return hashlib.sha256(f"{total}:{ids}".encode()).hexdigest()[:12]


def waiting_context(room: Room, endpoints: dict, by_owner: bool, **overrides) -> dict:
    """What _waiting.html shows; `endpoints` names the poll, admit, deny and admit_all views of
    the audience (owner or moderator)."""
    shown = current_app.config["HOST_LIST_ROWS"]
    guests = waiting_guests(room, shown)
    # Counted only when the list is full: below it, the list is the count.
    total = waiting_count(room) if len(guests) >= shown else len(guests)
    context = {"waiting_guests": guests, "waiting_total": total,
               "waiting_fingerprint": fingerprint(guests, total),
               "waiting_notice": None,
               "waiting_endpoints": endpoints, "waiting_by_owner": by_owner}
    context.update(overrides)
    return context


def decide_waiting(room: Room, participants: list[Participant] | None, status: str,
                   moderator: Participant | None = None) -> list[Participant]:
    """Admit or deny those of `participants` still waiting (None: everyone waiting now, as
    Admit all), each with its audit event, in one transaction of two statements however many
    there are: Admit all for thousands is one UPDATE, not a loop. The signed-in owner decides,
    or an invited moderator from inside the room. Gives those decided (id, name, email)."""
    now = timeutil.utcnow()
    if moderator is None:
        decided_by, actor = current_user.id, {}
    else:
        actor = audit.by_guest(moderator)
        decided_by = actor["actor"].id if actor["actor"] else None
    still_waiting = (Participant.room == room) & (Participant.status == "waiting")
    if participants is not None:
        still_waiting &= Participant.id.in_([p.id for p in participants])
    with database.atomic():
        # Admit ends a host's Move to waiting room (moved_at): the door decides again.
        done = sorted(Participant.update(status=status, decided_at=now, moved_at=None,
                                         decided_by=decided_by, updated_at=now)
                      .where(still_waiting)
                      .returning(Participant.id, Participant.name, Participant.email)
                      .execute(), key=lambda p: p.id)
        audit.record_many("guest_admitted" if status == "admitted" else "guest_denied", room,
                          [f"{p.name} <{p.email}>" for p in done], **actor)
    return done
