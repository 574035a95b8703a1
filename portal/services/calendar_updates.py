"""Calendar invites that stay right: when a room's time or title changes, every guest whose
invitation email went out gets an update (METHOD:REQUEST, same UID, SEQUENCE + 1); when the
room or the invitation is deleted, a cancellation (METHOD:CANCEL).

The sequence is bumped in the owner's transaction, with the change itself, so the numbers only
ever grow and every update sent carries the newest; the emails go in the background
(`mail.in_background`), as password resets do, so the owner's answer never waits for the mail
server. A failure is recorded in the room's audit log, never raised."""

from flask import current_app

from .. import audit, mail
from ..models import Invitation, Room, User
from .urls import invitation_url

UPDATE, CANCEL = mail.UPDATE, mail.CANCEL


def event_facts(room: Room) -> tuple:
    """What a calendar shows of the session: a change to any of it is worth an update."""
    return room.title, room.starts_at, room.ends_at


def _emailed(query):
    # Only guests whose invitation email went out have the event in their calendar.
    return query.where(Invitation.removed_at.is_null() & (Invitation.email_status == "sent"))


def prepare(room: Room) -> list[int]:
    """In the caller's transaction: one more SEQUENCE for each emailed invitation of the room;
    their ids, for `send_later`."""
    ids = [i.id for i in _emailed(Invitation.select(Invitation.id)
                                  .where(Invitation.room == room.id))]
    return _bump(ids)


def prepare_invitation(invitation: Invitation) -> list[int]:
    """As `prepare`, for one invitation about to be removed (call it before removing it)."""
    ids = [i.id for i in _emailed(Invitation.select(Invitation.id)
                                  .where(Invitation.id == invitation.id))]
    return _bump(ids)


def _bump(ids: list[int]) -> list[int]:
    if ids:
        Invitation.update(ics_sequence=Invitation.ics_sequence + 1).where(
            Invitation.id.in_(ids)).execute()
    return ids


def send_later(ids: list[int], kind: str, actor_id: int | None = None) -> None:
    """After the transaction: the emails, in a thread of their own; `actor_id`: the account
    whose change they announce, for the audit log."""
    mail.in_background(lambda: send(ids, kind, actor_id), f"calendar {kind}")


def send(ids: list[int], kind: str, actor_id: int | None = None) -> dict[int, str | None]:
    """Each invitation's update or cancellation, over one connection; each outcome recorded in
    the audit log. Returns, per invitation id, None (sent) or why it failed."""
    invitations = list(Invitation.select(Invitation, Room, User).join(Room)
                       .switch(Invitation).join(User).where(Invitation.id.in_(ids)))
    if not invitations:
        return {}
    messages = [mail.invitation_message(inv, invitation_url(inv), kind) for inv in invitations]
    results = mail.send_all(messages)
    actor = User.get_or_none(User.id == actor_id) if actor_id else None
    action = "calendar_updated" if kind == UPDATE else "calendar_cancelled"
    for inv, error in zip(invitations, results, strict=True):
        if error is not None:
            current_app.logger.warning("calendar %s to %s not sent: %s", kind, inv.email, error)
        audit.record(action, inv.room, inv.email,
                     actor=actor or audit.Actor(email="guestgate"),
                     detail=f"sequence {inv.ics_sequence}"
                     + (f"; failed: {error}" if error else ""))
    return {inv.id: error for inv, error in zip(invitations, results, strict=True)}
