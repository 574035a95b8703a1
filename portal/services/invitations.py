"""Personal invitations: invite one or many addresses, email each its personal link, change the
role, reset the link, remove the guest. The owner's Guests section, the denial panel's fixes, the
command line and seed-demo call these; each change writes its audit event in its transaction.

`actor` (an audit.Actor) is who acts; None: the signed-in user, as audit.record reads it."""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from peewee import IntegrityError

from .. import audit, emails, mail, outbox, passwords, push, timeutil
from ..access import domain_rules
from ..audit import Actor
from ..db import database
from ..models import Invitation, Participant, Registration, Room, User
from . import calendar_updates
from .urls import invitation_url

# Why an address was not added, as the owner reads it.
INVALID = "invalid email address"
BLOCKED = "blocked domain"
ALREADY = "already invited"
OVER_LIMIT = "over the limit"

MAX_ADDRESSES_AT_ONCE = 100
TOO_MANY_AT_ONCE = f"Enter at most {MAX_ADDRESSES_AT_ONCE} addresses at once."
MAX_DAYS = 365  # an invitation valid for a number of days: at most this many


# --- inviting -----------------------------------------------------------------------------------

@dataclass
class InviteResult:
    added: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (address as typed, why)
    invitations: list[Invitation] = field(default_factory=list)


def split_addresses(text: str) -> list[str]:
    """Addresses separated by commas, semicolons, new lines or spaces; "Name <a@b>" is read as
    a@b (as pasted from a mail program)."""
    found = []
    for chunk in re.split(r"[,;\r\n]+", text or ""):
        chunk = chunk.strip()
        if not chunk:
            continue
        bracketed = re.fullmatch(r"[^<>]*<([^<>]+)>", chunk)
        if bracketed:
            found.append(bracketed.group(1).strip())
        else:
            found.extend(chunk.split())
    return found


def _account_for(email: str) -> User:
    """The existing account, or a guest-only profile without a password ("Forgot password" lets
    the guest choose one). Never a hash here: this runs inside invite()'s transaction."""
    user = User.get_or_none(User.email == email)
    if user is not None:
        return user
    try:
        with database.atomic():  # a savepoint: a concurrent insert of the same email is fine
            return User.create(email=email, access="guest", password_hash=passwords.UNUSABLE)
    except IntegrityError:
        return User.get(User.email == email)


def counted_against_limit(room: Room) -> int:
    """The room's live invitations that count against MAX_INVITATIONS_PER_ROOM: all but the
    registrants' personal links (the registration's places bound those)."""
    registrants = Registration.select(Registration.invitation).where(
        (Registration.room == room.id) & Registration.invitation.is_null(False))
    return Invitation.select().where((Invitation.room == room.id)
                                     & Invitation.removed_at.is_null()
                                     & Invitation.id.not_in(registrants)).count()


def invite(room: Room, raw_addresses: list[str], role: str, valid_once: bool = False,
           days: int | None = None, actor: Actor | None = None,
           enforce_limit: bool = True, email_confirmed: bool = False) -> InviteResult:
    """Add invitations for the good addresses and say why each other one was refused. One
    transaction; the room's row is locked first so two owners can't overshoot the limit.
    `enforce_limit` False: a registrant's personal link (services.registration), which the
    registration's capacity bounds instead, whose address the confirmation proved
    (`email_confirmed`: its lobby doesn't ask for it)."""
    result = InviteResult()
    now = timeutil.utcnow()
    expires_at = now + timedelta(days=days) if days else None
    rules = domain_rules()
    limit = current_app.config["MAX_INVITATIONS_PER_ROOM"]
    with database.atomic():
        room.lock()  # before the live invitations are counted
        existing = {inv.email: inv for inv in Invitation.select().where(Invitation.room == room)}
        # Registrants' personal links (services.registration) are bounded by the registration's
        # places, not by the invitation limit: they don't fill it.
        registrants = {r.invitation_id for r in Registration.select(Registration.invitation)
                       .where((Registration.room == room.id)
                              & Registration.invitation.is_null(False))}
        live = sum(1 for inv in existing.values()
                   if inv.removed_at is None and inv.id not in registrants)
        seen = set()
        for raw in raw_addresses:
            try:
                email = emails.normalize(raw)
            except emails.InvalidEmail:
                if raw not in seen:
                    seen.add(raw)
                    result.refused.append((raw, INVALID))
                continue
            if email in seen:
                continue  # duplicates are merged
            seen.add(email)
            previous = existing.get(email)
            if not emails.domain_allowed(email, rules):
                result.refused.append((email, BLOCKED))
            elif previous is not None and previous.removed_at is None:
                change = "" if previous.role == role else ": change the role in the list below"
                result.refused.append((email, f"{ALREADY} as {previous.role}{change}"))
            elif enforce_limit and live >= limit:
                result.refused.append((email, f"{OVER_LIMIT} of {limit} per room"))
            else:
                invitation = _add(room, email, previous, role, valid_once, expires_at, actor, now,
                                  email_confirmed)
                live += 1
                result.added.append(email)
                result.invitations.append(invitation)
                audit.record("invited", room, email, detail=role, actor=actor)
                outbox.emit("invitation.created", room, {
                    "invitation": outbox.invitation_data(invitation),
                    "by": outbox.actor_data(actor)})
    return result


def _add(room, email, previous, role, valid_once, expires_at, actor, now,
         email_confirmed=False) -> Invitation:
    user = _account_for(email)
    by = actor.account if actor else None
    if previous is None:
        return Invitation.create(room=room, user=user, email=email, role=role,
                                 valid_once=valid_once, expires_at=expires_at, created_by=by,
                                 created_at=now, email_confirmed=email_confirmed)
    # A previously removed guest: the unique (room, email) row comes back with a new version,
    # so the old link stays dead.
    previous.user = user
    previous.role = role
    previous.valid_once = valid_once
    previous.expires_at = expires_at
    previous.email_confirmed = email_confirmed
    previous.version += 1
    previous.bound_device = None
    previous.email_status, previous.emailed_at, previous.email_error = "not_sent", None, ""
    previous.created_by = by
    previous.created_at = now
    previous.removed_at = None
    # The same UID comes back: a sequence above its cancellation's makes calendars take it.
    previous.ics_sequence += 1
    previous.save()
    return previous


def invite_again(room: Room, invitation: Invitation, actor: Actor | None = None) -> InviteResult:
    """A removed guest, invited again as before (role, valid once): `invite`'s limit and domain
    rules apply; the old link stays dead."""
    return invite(room, [invitation.email], invitation.role, valid_once=invitation.valid_once,
                  actor=actor)


# --- emailing -----------------------------------------------------------------------------------

def email_invitations(invitations: list[Invitation],
                      actor: Actor | None = None) -> dict[int, str | None]:
    """Send each its personal link over one SMTP connection, then record each outcome: per
    invitation id, None (sent) or why it failed. The invitations stay whatever happens; a
    failure is shown with its error and can be retried."""
    invitations = [_with_room_and_user(inv) for inv in invitations]
    messages = [mail.invitation_message(inv, invitation_url(inv)) for inv in invitations]
    results = mail.send_all(messages)
    now = timeutil.utcnow()
    with database.atomic():
        for inv, error in zip(invitations, results, strict=True):
            if error is None:
                Invitation.update(email_status="sent", emailed_at=now, email_error="").where(
                    Invitation.id == inv.id).execute()
                audit.record("invitation_emailed", inv.room, inv.email, actor=actor)
            else:
                Invitation.update(email_status="failed", email_error=error[:500]).where(
                    Invitation.id == inv.id).execute()
                audit.record("invitation_emailed", inv.room, inv.email,
                             detail=f"failed: {error}", actor=actor)
    return {inv.id: error for inv, error in zip(invitations, results, strict=True)}


def _with_room_and_user(invitation: Invitation) -> Invitation:
    return (Invitation.select(Invitation, Room, User).join(Room).switch(Invitation).join(User)
            .where(Invitation.id == invitation.id).get())


# --- one guest's invitation -----------------------------------------------------------------------

def change_role(room: Room, invitation_id: int, old: str, new: str, target: str,
                actor: Actor | None = None) -> bool:
    """The invitation's role, and so the role of everyone inside or waiting through it, at once
    (an invited guest always has the invitation's role now). `target` names the guest in the
    audit log. False when the role was already `new`."""
    if old == new:
        return False
    with database.atomic():
        Invitation.update(role=new).where(Invitation.id == invitation_id).execute()
        Participant.update(role=new, updated_at=timeutil.utcnow()).where(
            (Participant.invitation == invitation_id)
            & Participant.status.in_(("waiting", "admitted"))).execute()
        audit.record("role_changed", room, target, detail=f"{old} → {new}", actor=actor)
        push.room_news(room.id)  # whoever came by it: rare enough to tell the room
    return True


def reset(room: Room, invitation: Invitation, actor: Actor | None = None) -> None:
    """A new version kills the old link at once; the new one is unsent and unused."""
    with database.atomic():
        Invitation.update(version=Invitation.version + 1, bound_device=None,
                          email_status="not_sent", emailed_at=None, email_error="").where(
            Invitation.id == invitation.id).execute()
        audit.record("invitation_reset", room, invitation.email, actor=actor)
        push.room_news(room.id)


def remove(room: Room, invitation: Invitation, actor: Actor | None = None) -> None:
    """Off the guest list: the link no longer works; a guest whose email went out gets a
    calendar cancellation (in the background, after the commit)."""
    with database.atomic():
        cancelled = calendar_updates.prepare_invitation(invitation)
        Invitation.update(removed_at=timeutil.utcnow()).where(
            Invitation.id == invitation.id).execute()
        audit.record("invitation_removed", room, invitation.email, actor=actor)
        push.room_news(room.id)
    if cancelled:  # their calendar drops the event
        calendar_updates.send_later(cancelled, calendar_updates.CANCEL,
                                    actor.account_id if actor else None)


# --- what the Guests section shows --------------------------------------------------------------

def agreements(room: Room) -> dict[int, Participant]:
    """When each invited guest last agreed to the room's text, and to which version, by
    invitation id (invited guests never wait, so this list is where the owner sees it)."""
    rows = (Participant.select(Participant.invitation, Participant.consented_at,
                               Participant.consent_version)
            .where((Participant.room == room) & Participant.invitation.is_null(False)
                   & Participant.consented_at.is_null(False))
            .order_by(Participant.consented_at))
    return {row.invitation_id: row for row in rows}  # the latest agreement wins


# --- seed-demo ------------------------------------------------------------------------------------

DEMO_GUEST = "demo-guest@guestgate.example"


def seed_invitations(owner: User, rooms: list[Room]) -> dict:
    """One invited viewer in each demo room that allows guests (not the channel room)."""
    details = {}
    for room in rooms:
        if room.kind == "channel":
            details[room.id] = {"invitations": []}
            continue
        result = invite(room, [DEMO_GUEST], "viewer", actor=Actor.of_account(owner))
        details[room.id] = {"invitations": [
            {"email": inv.email, "role": inv.role, "url": invitation_url(inv)}
            for inv in result.invitations]}
    return details
