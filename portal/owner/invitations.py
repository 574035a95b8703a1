"""Personal invitations (the room page's "Guests" section): Invite a guest (one or many emails,
a role, how long the link is valid, send now or later), and per guest: change the role, Email
guest link, Copy guest link, Reset guest link, Delete; Email links to all guests.

Every control answers by web.answer's rule: htmx gets the section alone, a plain form
post/redirect/get; a refusal shows in the section (htmx: 422) or the room page (plain: 4xx)."""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from flask import abort, current_app, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import IntegrityError
from wtforms import (
    BooleanField,
    RadioField,
    SelectChoice,
    SelectField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .. import audit, calendar_updates, emails, mail, passwords, timeutil, tokens
from ..access import domain_rules
from ..auth import owner_required
from ..db import database
from ..forms import WholeNumberField, strip
from ..models import ROLES, Invitation, Participant, Room, User
from ..web import is_htmx, public_url
from . import answer_section, bp, owned_room

ROLE_CHOICES = [SelectChoice(r, r.capitalize()) for r in ROLES]
MAX_ADDRESSES_AT_ONCE = 100
MAX_DAYS = 365

# Why an address was not added, as the owner reads it.
INVALID = "invalid email address"
BLOCKED = "blocked domain"
ALREADY = "already invited"
OVER_LIMIT = "over the limit"


class InviteForm(FlaskForm):
    emails = TextAreaField("Email addresses", filters=[strip],
                           validators=[DataRequired("Enter at least one email address."),
                                       Length(max=20000, message="That's too much text.")])
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    validity = RadioField("The link is valid", choices=[SelectChoice("unlimited", "No limit"),
                                   SelectChoice("once", "Valid once (one device)"),
                                   SelectChoice("days", "For a number of days")],
                          default="unlimited")
    days = WholeNumberField("Number of days",
                        validators=[Optional(),
                                    NumberRange(1, MAX_DAYS, f"Enter 1 to {MAX_DAYS} days.")])
    send_now = BooleanField("Send each guest a secure link now")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.validity.data == "days" and not self.days.data and not self.days.errors:
            self.days.errors = [f"Enter the number of days (1 to {MAX_DAYS})."]
            return False
        return valid


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=ROLE_CHOICES)


# --- the invitation link ------------------------------------------------------------------------

def invitation_token(invitation: Invitation) -> str:
    return tokens.make_token(current_app.config["SECRET_KEYS"], tokens.INVITE, invitation.id,
                             invitation.version)


def invitation_url(invitation: Invitation) -> str:
    """The personal link: a signed token with the invitation's version (reset bumps it)."""
    return public_url("guest.invite_lobby", token=invitation_token(invitation))


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


def invite(room: Room, raw_addresses: list[str], role: str, valid_once: bool = False,
           days: int | None = None, actor: User | None = None) -> InviteResult:
    """Add invitations for the good addresses and say why each other one was refused. One
    transaction; the room's row is locked first so two owners can't overshoot the limit."""
    result = InviteResult()
    now = timeutil.utcnow()
    expires_at = now + timedelta(days=days) if days else None
    rules = domain_rules()
    limit = current_app.config["MAX_INVITATIONS_PER_ROOM"]
    with database.atomic():
        room.lock()  # before the live invitations are counted
        existing = {inv.email: inv for inv in Invitation.select().where(Invitation.room == room)}
        live = sum(1 for inv in existing.values() if inv.removed_at is None)
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
            elif live >= limit:
                result.refused.append((email, f"{OVER_LIMIT} of {limit} per room"))
            else:
                invitation = _add(room, email, previous, role, valid_once, expires_at, actor, now)
                live += 1
                result.added.append(email)
                result.invitations.append(invitation)
                audit.record("invited", room, email, detail=role)
    return result


def _add(room, email, previous, role, valid_once, expires_at, actor, now) -> Invitation:
    user = _account_for(email)
    if previous is None:
        return Invitation.create(room=room, user=user, email=email, role=role,
                                 valid_once=valid_once, expires_at=expires_at, created_by=actor,
                                 created_at=now)
    # A previously removed guest: the unique (room, email) row comes back with a new version,
    # so the old link stays dead.
    previous.user = user
    previous.role = role
    previous.valid_once = valid_once
    previous.expires_at = expires_at
    previous.version += 1
    previous.bound_device = None
    previous.email_status, previous.emailed_at, previous.email_error = "not_sent", None, ""
    previous.created_by = actor
    previous.created_at = now
    previous.removed_at = None
    # The same UID comes back: a sequence above its cancellation's makes calendars take it.
    previous.ics_sequence += 1
    previous.save()
    return previous


# --- emailing -----------------------------------------------------------------------------------

def email_invitations(invitations: list[Invitation]) -> dict[int, str | None]:
    """Send each its personal link over one SMTP connection, then record each outcome. The
    invitations stay whatever happens; a failure is shown with its error and can be retried."""
    invitations = [_with_room_and_user(inv) for inv in invitations]
    messages = [mail.invitation_message(inv, invitation_url(inv)) for inv in invitations]
    results = mail.send_all(messages)
    now = timeutil.utcnow()
    with database.atomic():
        for inv, error in zip(invitations, results, strict=True):
            if error is None:
                Invitation.update(email_status="sent", emailed_at=now, email_error="").where(
                    Invitation.id == inv.id).execute()
                audit.record("invitation_emailed", inv.room, inv.email)
            else:
                Invitation.update(email_status="failed", email_error=error[:500]).where(
                    Invitation.id == inv.id).execute()
                audit.record("invitation_emailed", inv.room, inv.email, detail=f"failed: {error}")
    return {inv.id: error for inv, error in zip(invitations, results, strict=True)}


def _with_room_and_user(invitation: Invitation) -> Invitation:
    return (Invitation.select(Invitation, Room, User).join(Room).switch(Invitation).join(User)
            .where(Invitation.id == invitation.id).get())


def _sending_notices(results: dict[int, str | None], by_id: dict[int, Invitation]) -> list:
    sent = [by_id[i].email for i, err in results.items() if err is None]
    failed = [f"{by_id[i].email}: {err}" for i, err in results.items() if err is not None]
    notices = []
    if sent:
        where = " (saved to the outbox folder: no email server is configured)" \
            if mail.outbox_mode() else ""
        notices.append(Notice("success", f"Emailed {_count(len(sent), 'guest')}{where}.", sent))
    if failed:
        notices.append(Notice("error", "Couldn't send the email to "
                              f"{_count(len(failed), 'guest')}. The invitations are kept: "
                              "use Email guest link to try again.", failed))
    return notices


# --- the room page's section ----------------------------------------------------------------------

@dataclass
class Notice:
    category: str
    text: str
    items: list[str] = field(default_factory=list)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def agreements(room: Room) -> dict[int, Participant]:
    """When each invited guest last agreed to the room's text, and to which version, by
    invitation id (invited guests never wait, so this list is where the owner sees it)."""
    rows = (Participant.select(Participant.invitation, Participant.consented_at,
                               Participant.consent_version)
            .where((Participant.room == room) & Participant.invitation.is_null(False)
                   & Participant.consented_at.is_null(False))
            .order_by(Participant.consented_at))
    return {row.invitation_id: row for row in rows}  # the latest agreement wins


def invitations_section(room: Room, **overrides) -> dict:
    invitations = list(room.live_invitations())
    context = {
        "now": timeutil.utcnow(),
        "invitations": [(inv, invitation_url(inv)) for inv in invitations],
        "invitation_agreements": agreements(room) if room.consent_version else {},
        "invite_form": InviteForm(formdata=None),
        "role_form": RoleForm(formdata=None),
        "invitation_limit": current_app.config["MAX_INVITATIONS_PER_ROOM"],
        "mail_outbox_mode": mail.outbox_mode(),
        "invitation_notices": [],
    }
    context.update(overrides)
    return context



def _answer(room: Room, notices: list[Notice], form: InviteForm | None = None,
            status: int = 200):
    """web.answer's rule; a form with errors is a refusal (422)."""
    if form is not None and form.errors:
        status = 422
    overrides = {"invitation_notices": notices}
    if form is not None:
        overrides["invite_form"] = form
    flashes = [(n.category, n.text + (" " + "; ".join(n.items) if n.items else ""))
               for n in notices]
    return answer_section(room, "owner/_invitations.html", invitations_section, "invitations",
                          status=status, flashes=flashes, **overrides)


def _invitation(room: Room, invitation_id: int) -> Invitation:
    invitation = (Invitation.select(Invitation, User).join(User)
                  .where((Invitation.id == invitation_id) & (Invitation.room == room)
                         & Invitation.removed_at.is_null()).first())
    if invitation is None:
        abort(404)
    invitation.room = room
    return invitation


@bp.get("/<int:room_id>/invitations")
@owner_required
def invitations(room_id: int):
    room = owned_room(room_id)
    if is_htmx():
        return render_template("owner/_invitations.html", room=room, **invitations_section(room))
    return redirect(url_for("owner.room", room_id=room.id, _anchor="invitations"), 303)


@bp.post("/<int:room_id>/invitations")
@owner_required
def add_invitations(room_id: int):
    room = owned_room(room_id)
    form = InviteForm()
    if room.kind == "channel":
        return _answer(room, [Notice("error", "Guest access isn't supported for channel "
                                     "rooms, so guests can't be invited here.")], status=403)
    if not form.validate_on_submit():
        return _answer(room, [], form)
    addresses = split_addresses(form.emails.data)
    if len(addresses) > MAX_ADDRESSES_AT_ONCE:
        form.emails.errors = [f"Enter at most {MAX_ADDRESSES_AT_ONCE} addresses at once."]
        return _answer(room, [], form)
    result = invite(room, addresses, form.role.data, valid_once=form.validity.data == "once",
                    days=form.days.data if form.validity.data == "days" else None,
                    actor=current_user._get_current_object())
    notices = []
    if result.added:
        notices.append(Notice("success", f"Added {_count(len(result.added), 'guest')} as "
                              f"{form.role.data}.", result.added))
    if result.refused:
        notices.append(Notice("error", f"Not added: {_count(len(result.refused), 'address')}.",
                              [f"{email} — {why}" for email, why in result.refused]))
    if result.added and form.send_now.data:
        by_id = {inv.id: inv for inv in result.invitations}
        notices += _sending_notices(email_invitations(result.invitations), by_id)
    # Keep the refused addresses in the box so the owner can correct them.
    form = InviteForm(formdata=None, role=form.role.data, validity=form.validity.data,
                      days=form.days.data if form.validity.data == "days" else None,
                      send_now=form.send_now.data,
                      emails="\n".join(email for email, why in result.refused
                                       if why == INVALID))
    return _answer(room, notices, form)


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/role")
@owner_required
def change_role(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _answer(room, [Notice("error", "Choose viewer, moderator or speaker.")],
                       status=422)
    old, new = invitation.role, form.role.data
    if old != new:
        with database.atomic():
            Invitation.update(role=new).where(Invitation.id == invitation.id).execute()
            # Guests already inside through this invitation get the new role at once.
            Participant.update(role=new, updated_at=timeutil.utcnow()).where(
                (Participant.invitation == invitation.id)
                & Participant.status.in_(("waiting", "admitted"))).execute()
            audit.record("role_changed", room, invitation.email, detail=f"{old} → {new}")
    return _answer(room, [Notice("success", f"{invitation.email} is now {_article(new)} {new}.")])


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/email")
@owner_required
def email_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    results = email_invitations([invitation])
    return _answer(room, _sending_notices(results, {invitation.id: invitation}))


@bp.post("/<int:room_id>/invitations/email-all")
@owner_required
def email_all(room_id: int):
    room = owned_room(room_id)
    invitations = list(room.live_invitations())
    if not invitations:
        return _answer(room, [Notice("info", "There are no guests to email yet.")])
    results = email_invitations(invitations)
    return _answer(room, _sending_notices(results, {inv.id: inv for inv in invitations}))


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/reset")
@owner_required
def reset_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    with database.atomic():
        # A new version kills the old link at once; the new one is unsent and unused.
        Invitation.update(version=Invitation.version + 1, bound_device=None,
                          email_status="not_sent", emailed_at=None, email_error="").where(
            Invitation.id == invitation.id).execute()
        audit.record("invitation_reset", room, invitation.email)
    return _answer(room, [Notice("success", f"The guest link of {invitation.email} was reset: "
                                 "the old link no longer works. Email or copy the new one.")])


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/delete")
@owner_required
def delete_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    with database.atomic():
        cancelled = calendar_updates.prepare_invitation(invitation)
        Invitation.update(removed_at=timeutil.utcnow()).where(
            Invitation.id == invitation.id).execute()
        audit.record("invitation_removed", room, invitation.email)
    if cancelled:  # their calendar drops the event
        calendar_updates.send_later(cancelled, calendar_updates.CANCEL)
    return _answer(room, [Notice("success", f"{invitation.email} was removed from the guest "
                                 "list; their link no longer works.")])


# --- seed-demo ------------------------------------------------------------------------------------

DEMO_GUEST = "demo-guest@guestgate.example"


def seed_invitations(owner: User, rooms: list[Room]) -> dict:
    """One invited viewer in each demo room that allows guests (not the channel room)."""
    details = {}
    for room in rooms:
        if room.kind == "channel":
            details[room.id] = {"invitations": []}
            continue
        result = invite(room, [DEMO_GUEST], "viewer", actor=owner)
        details[room.id] = {"invitations": [
            {"email": inv.email, "role": inv.role, "url": invitation_url(inv)}
            for inv in result.invitations]}
    return details

