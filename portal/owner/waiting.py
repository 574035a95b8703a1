"""The waiting room of a room whose guests wait to be admitted: the list of waiting guests
(polled by htmx every few seconds), Admit, Deny and Admit all.

The polled fragment carries the number waiting in `data-waiting-count`; static/app.js puts it in
the page title ("(2 waiting) Room"), so owners notice a new guest without watching the list."""

import hashlib

from flask import abort, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from peewee import JOIN

from .. import audit, timeutil
from ..auth import owner_required
from ..db import database
from ..models import GuestLink, Participant, Room
from ..web import fragment_or_page, is_htmx, unchanged_since_last_poll
from . import bp, owned_room
from .rooms import ROOM_SECTIONS, room_context

POLL_SECONDS = 5


def waiting_guests(room: Room) -> list[Participant]:
    """Those waiting, first come first: only what their row shows and the decision records (the
    list is read on every poll of every host, and can be hundreds long). Not for saving."""
    return list(Participant.select(Participant.id, Participant.link, Participant.invitation,
                                   Participant.name, Participant.email, Participant.created_at,
                                   GuestLink.id, GuestLink.name)
                .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
                .where((Participant.room == room) & (Participant.status == "waiting"))
                .order_by(Participant.created_at, Participant.id))


def fingerprint(guests: list[Participant]) -> str:
    """Short and stable while nobody arrives or leaves: the poll answers 204 (nothing to swap)
    while it is unchanged, so screen readers and focus aren't disturbed every few seconds."""
    ids = ",".join(str(g.id) for g in guests)
    return hashlib.sha256(ids.encode()).hexdigest()[:12]


# The same list serves the owner's room page and an invited moderator's room page.
OWNER_ENDPOINTS = {"poll": "owner.waiting", "admit": "owner.admit", "deny": "owner.deny",
                   "admit_all": "owner.admit_all"}


def waiting_context(room: Room, **overrides) -> dict:
    guests = waiting_guests(room)
    context = {"waiting_guests": guests, "waiting_fingerprint": fingerprint(guests),
               "waiting_poll": POLL_SECONDS, "waiting_notice": None,
               "waiting_endpoints": OWNER_ENDPOINTS, "waiting_by_owner": True}
    context.update(overrides)
    return context


ROOM_SECTIONS.append(waiting_context)


def _answer(room: Room, notice: str):
    if is_htmx():
        return render_template("owner/_waiting.html", room=room,
                               **waiting_context(room, waiting_notice=notice))
    flash(notice, "success")
    return redirect(url_for("owner.room", room_id=room.id, _anchor="waiting-room"), 303)


def _guest_of(room: Room, participant_id: int) -> Participant:
    participant = Participant.get_or_none((Participant.id == participant_id)
                                          & (Participant.room == room))
    if participant is None:
        abort(404)
    return participant


def decide_waiting(room: Room, participants: list[Participant], status: str,
                   moderator: Participant | None = None) -> list[Participant]:
    """Admit or deny those still waiting, each with its audit event, in one transaction. The
    signed-in owner decides, or an invited moderator from inside the room."""
    now = timeutil.utcnow()
    done = []
    if moderator is None:
        decided_by, actor = current_user.id, {}
    else:
        account = moderator.invitation.user if moderator.invitation_id else None
        decided_by = account.id if account else None
        actor = {"actor": account, "actor_email": moderator.email}
    with database.atomic():
        for participant in participants:
            changed = Participant.update(status=status, decided_at=now,
                                         decided_by=decided_by, updated_at=now).where(
                (Participant.id == participant.id) & (Participant.status == "waiting")
            ).execute()
            if changed:
                audit.record("guest_admitted" if status == "admitted" else "guest_denied",
                             room, f"{participant.name} <{participant.email}>", **actor)
                done.append(participant)
    return done


@bp.get("/<int:room_id>/waiting")
@owner_required
def waiting(room_id: int):
    room = owned_room(room_id)
    context = waiting_context(room)
    if unchanged_since_last_poll(context["waiting_fingerprint"]):
        return make_response("", 204)
    if is_htmx():
        return render_template("owner/_waiting.html", room=room, **context)
    return fragment_or_page("owner/_waiting.html", "owner/room.html", **room_context(room))


@bp.post("/<int:room_id>/waiting/<int:participant_id>/admit")
@owner_required
def admit(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    if decide_waiting(room, [guest], "admitted"):
        return _answer(room, f"{guest.name} was admitted.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.post("/<int:room_id>/waiting/<int:participant_id>/deny")
@owner_required
def deny(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    if decide_waiting(room, [guest], "rejected"):
        return _answer(room, f"{guest.name} was denied entry.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.post("/<int:room_id>/waiting/admit-all")
@owner_required
def admit_all(room_id: int):
    room = owned_room(room_id)
    done = decide_waiting(room, waiting_guests(room), "admitted")
    if not done:
        return _answer(room, "Nobody is waiting.")
    return _answer(room, f"Admitted {len(done)} {'guest' if len(done) == 1 else 'guests'}.")
