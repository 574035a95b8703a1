"""Registration for a room: a public page where people register (name, email, the owner's
questions), confirm from the email, and get a place — at once (open), or when a host approves
(approval) — or a place on the waitlist when the room is full. Everyone with a place has their
own personal link: an Invitation (viewer), made through services.invitations, emailed with its
calendar file and a link to cancel. A cancellation or a host's Decline frees the place, and the
first on the waitlist moves up and is emailed.

Capacity is exact under any burst, on SQLite and PostgreSQL: every change starts by locking the
room's settings row (`_lock`), and a place is claimed by one conditional UPDATE of
`RegistrationSettings.taken` (`taken < capacity`), as GuestLink.claim claims a use.

The guest's pages, the owner's screen and the CLI call these; each change writes its audit
event in its transaction; the emails go after the commit (`_send`)."""

import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from flask_babel import force_locale, gettext
from peewee import Case, IntegrityError, fn

from .. import audit, emails, mail, outbox, timeutil, tokens
from ..access import domain_rules
from ..audit import Actor
from ..db import database
from ..models import Invitation, Registration, RegistrationSettings, Room, User
from ..web import public_url
from . import calendar_updates
from . import invitations as invitation_service
from .urls import invitation_url

MODES = {"open": "Open: everyone who registers and confirms has a place",
         "approval": "Approval: a host approves or declines each registration"}
QUESTION_KINDS = {"short": "Short text", "long": "Long text", "choice": "One choice",
                  "choices": "Several choices", "checkbox": "A checkbox"}
MAX_QUESTIONS = 10
MAX_CAPACITY = 100_000
MAX_CHOICES = 20
HOLDS_PLACE = ("registered",)
ACTIVE = ("pending", "registered", "waitlisted")  # confirmed and not declined or cancelled
STATUS_WORDS = {"unconfirmed": "Not confirmed", "pending": "Waiting for approval",
                "registered": "Registered", "waitlisted": "On the waitlist",
                "declined": "Declined", "cancelled": "Cancelled (by the registrant)"}


# --- settings -----------------------------------------------------------------------------------

def settings_of(room: Room) -> RegistrationSettings:
    """The room's settings; unsaved defaults (off) when the owner never touched them."""
    found = RegistrationSettings.get_or_none(RegistrationSettings.room == room.id)
    if found is not None:
        return found
    default = RegistrationSettings(room=room, enabled=False, mode="open", taken=0,
                                   questions="[]", version=1)
    default.unsaved = True  # no row: no public page yet
    return default


def questions_of(settings: RegistrationSettings) -> list[dict]:
    try:
        value = json.loads(settings.questions or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _ensure_settings(room: Room) -> None:
    try:
        with database.atomic():
            RegistrationSettings.insert(room=room.id).on_conflict_ignore().execute()
    except IntegrityError:
        pass


def _write_settings(room: Room, **values) -> None:
    RegistrationSettings.update(**values, updated_at=timeutil.utcnow()).where(
        RegistrationSettings.room == room.id).execute()


def _lock(room_id: int) -> None:
    """First in every transaction that changes registrations: the settings row's lock on
    PostgreSQL (SQLite's IMMEDIATE transactions hold the write lock already)."""
    RegistrationSettings.update(taken=RegistrationSettings.taken).where(
        RegistrationSettings.room == room_id).execute()


@dataclass
class Outcome:
    """What a change did, and the emails to send once it is committed: (kind, registration id)."""
    status: str = ""
    registration: Registration | None = None
    notices: list[tuple[str, int]] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # emails, for the owner's notice
    done: list[int] = field(default_factory=list)  # the registrations a host's decision changed
    skipped: list[str] = field(default_factory=list)


class Invalid(Exception):
    """Settings refused: the messages by field name, as the forms and the API show them."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


def settings_problems(room: Room, *, enabled: bool, mode: str, capacity: int | None,
                      opens_at: datetime | None, closes_at: datetime | None
                      ) -> dict[str, list[str]]:
    """What is wrong with these options for this room, by field (empty: nothing)."""
    errors = {}
    if enabled and room.kind != "regular":
        errors["enabled"] = ["Registration is for regular rooms (not channels)."]
    if mode not in MODES:
        errors["mode"] = [f"Choose one of: {', '.join(MODES)}."]
    if capacity is not None and not 1 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = ["Enter 1 to 100,000 places, or leave it empty."]
    if opens_at and closes_at and closes_at <= opens_at:
        errors["closes_at"] = ["Registration must close after it opens."]
    return errors


def save_settings(room: Room, *, enabled: bool, mode: str, capacity: int | None,
                  opens_at: datetime | None, closes_at: datetime | None,
                  actor: Actor | None = None) -> Outcome:
    """Change the room's registration options (Invalid: nothing changed). A larger capacity
    (or none) moves people up from the waitlist at once; a smaller one takes nobody's place
    away."""
    errors = settings_problems(room, enabled=enabled, mode=mode, capacity=capacity,
                               opens_at=opens_at, closes_at=closes_at)
    if errors:
        raise Invalid(errors)
    _ensure_settings(room)
    outcome = Outcome()
    with database.atomic():
        _lock(room.id)
        _write_settings(room, enabled=enabled, mode=mode, capacity=capacity,
                        opens_at=opens_at, closes_at=closes_at)
        detail = f"{'on' if enabled else 'off'}, {mode}, capacity " \
                 f"{capacity if capacity else 'unlimited'}"
        audit.record("registration_settings_changed", room, "registration", detail=detail,
                     actor=actor)
        while _promote_one(room, actor, outcome, claim=True):
            pass
    _send(outcome.notices)
    return outcome


def save_reminders(room: Room, hours: list[int], follow_up: bool, came: str, missed: str,
                   actor: Actor | None = None) -> None:
    """When registrants are reminded (hours before the start) and what the follow-up after
    the session says to those who came and those who didn't (portal/reminders.py sends)."""
    _ensure_settings(room)
    with database.atomic():
        _write_settings(room, reminder_hours=",".join(str(h) for h in hours),
                        follow_up=follow_up, follow_up_came=came, follow_up_missed=missed)
        detail = f"reminders {', '.join(f'{h} h' for h in hours) or 'off'}; follow-up " \
                 f"{'on' if follow_up else 'off'}"
        audit.record("registration_reminders_changed", room, "registration", detail=detail,
                     actor=actor)


def save_questions(room: Room, questions: list[dict], actor: Actor | None = None) -> None:
    _ensure_settings(room)
    with database.atomic():
        _write_settings(room, questions=json.dumps(questions, ensure_ascii=False))
        audit.record("registration_questions_changed", room, "registration",
                     detail=", ".join(q["label"] for q in questions)[:500], actor=actor)


def add_question(room: Room, label: str, kind: str, required: bool, choices: list[str],
                 actor: Actor | None = None) -> str | None:
    """Add one question; why not, or None."""
    questions = questions_of(settings_of(room))
    if len(questions) >= MAX_QUESTIONS:
        return f"A room has at most {MAX_QUESTIONS} questions."
    if kind in ("choice", "choices") and len(choices) < 2:
        return "Give at least two choices, one a line."
    if len(choices) > MAX_CHOICES:
        return f"Give at most {MAX_CHOICES} choices."
    next_id = 1 + max((int(q["id"][1:]) for q in questions), default=0)
    questions.append({"id": f"q{next_id}", "label": label, "kind": kind,
                      "required": bool(required),
                      "choices": choices if kind in ("choice", "choices") else []})
    save_questions(room, questions, actor)
    return None


def remove_question(room: Room, question_id: str, actor: Actor | None = None) -> None:
    questions = [q for q in questions_of(settings_of(room)) if q["id"] != question_id]
    save_questions(room, questions, actor)


# --- the public page's link ---------------------------------------------------------------------

def page_token(settings: RegistrationSettings) -> str:
    return tokens.make_token(current_app.config["SECRET_KEYS"], tokens.REGISTER,
                             settings.room_id, settings.version)


def page_url(room: Room, settings: RegistrationSettings | None = None) -> str | None:
    """The public page's address; None while the room has no saved settings. `settings`:
    the room's, when the caller has them already (no second lookup)."""
    settings = settings or settings_of(room)
    if getattr(settings, "unsaved", False):
        return None
    return public_url("guest.register", token=page_token(settings))


def reset_page_link(room: Room, actor: Actor | None = None) -> None:
    with database.atomic():
        RegistrationSettings.update(version=RegistrationSettings.version + 1).where(
            RegistrationSettings.room == room.id).execute()
        audit.record("registration_link_reset", room, "registration", actor=actor)


def open_page(token: str) -> tuple[Room, RegistrationSettings] | None:
    """The room and its settings a page token names; None when garbled, reset or deleted."""
    parsed = tokens.read_token(current_app.config["SECRET_KEYS"], tokens.REGISTER, token)
    if parsed is None:
        return None
    room_id, version = parsed
    settings = RegistrationSettings.get_or_none(RegistrationSettings.room == room_id)
    if settings is None or settings.version != version:
        return None
    room = Room.get_or_none(Room.id == room_id)
    return (room, settings) if room is not None else None


def closed_reason(room: Room, settings: RegistrationSettings, now: datetime) -> str | None:
    """Why registering isn't possible now, or None: off, not_yet, closed, ended, unavailable."""
    if room.is_deleted or room.kind != "regular":
        return "unavailable"
    if not settings.enabled:
        return "off"
    if now >= room.ends_at:
        return "ended"
    if settings.opens_at and now < settings.opens_at:
        return "not_yet"
    if settings.closes_at and now >= settings.closes_at:
        return "closed"
    return None


def places_left(settings: RegistrationSettings) -> int | None:
    return None if settings.capacity is None else max(settings.capacity - settings.taken, 0)


# --- registering, confirming, cancelling ---------------------------------------------------------

def register(room: Room, name: str, email: str, answers: dict, language: str = "en") -> Outcome:
    """A registration waiting for its confirmation (the email's link proves the address). The
    page answers the same whatever was there before, so it tells nobody who registered; the
    email says what the person needs: the link to confirm, or that they are registered already.
    Outcomes: confirm, already, blocked (domain rules), nothing (declined before)."""
    email = emails.normalize(email)
    if not emails.domain_allowed(email, domain_rules()):
        return Outcome("blocked")
    now = timeutil.utcnow()
    outcome = Outcome()
    _ensure_settings(room)
    with database.atomic():
        _lock(room.id)
        reg = Registration.get_or_none((Registration.room == room.id)
                                       & (Registration.email == email))
        values = {"name": name, "answers": json.dumps(answers, ensure_ascii=False),
                  "status": "unconfirmed", "language": language, "created_at": now,
                  "updated_at": now, "confirmed_at": None, "decided_at": None,
                  "cancelled_at": None, "waitlisted_at": None}
        if reg is None:
            reg = Registration.create(room=room.id, email=email, **values)
        elif reg.status in ACTIVE:
            outcome.status = "already"
            outcome.notices.append(("already", reg.id))
        elif reg.status == "declined":
            outcome.status = "nothing"
        else:  # unconfirmed (again), or cancelled before: a new version, old links dead
            Registration.update(version=Registration.version + 1, **values).where(
                Registration.id == reg.id).execute()
            reg = Registration.get_by_id(reg.id)
        if not outcome.status:
            outcome.status = "confirm"
            outcome.notices.append(("confirm", reg.id))
            audit.record("registered", room, email, detail="waiting for confirmation",
                         actor=Actor(email=email, name=name, source="unverified"))
        outcome.registration = reg
    _send(outcome.notices)
    return outcome


def confirm_token(reg: Registration) -> str:
    return tokens.timed_dumps(current_app.config["SECRET_KEYS"], tokens.CONFIRM_SALT,
                              [reg.id, reg.version])


def cancel_token(reg: Registration) -> str:
    return tokens.make_token(current_app.config["SECRET_KEYS"], tokens.REGISTRATION, reg.id,
                             reg.version)


def confirm(token: str) -> Outcome:
    """Confirm from the email's link. Outcomes: invalid, expired, registered, waitlisted,
    pending, or (confirmed before) the registration's status as it is."""
    hours = current_app.config["REGISTRATION_CONFIRM_HOURS"]
    payload, why = tokens.timed_loads(current_app.config["SECRET_KEYS"],
                                      tokens.CONFIRM_SALT, token, max_age=hours * 3600)
    if payload is None:
        return Outcome("expired" if why == "expired" else "invalid")
    if not (isinstance(payload, list) and len(payload) == 2
            and all(type(v) is int for v in payload)):
        return Outcome("invalid")
    found = Registration.get_or_none(Registration.id == payload[0])
    if found is None or found.version != payload[1]:
        return Outcome("invalid")
    room = Room.get_by_id(found.room_id)
    outcome = Outcome()
    with database.atomic():
        _lock(room.id)
        reg = Registration.get_by_id(found.id)  # as it is now, under the lock
        outcome.registration = reg
        if reg.version != payload[1]:
            outcome.status = "invalid"
            return outcome
        if reg.status != "unconfirmed":
            outcome.status = reg.status
            return outcome
        now = timeutil.utcnow()
        settings = RegistrationSettings.get(RegistrationSettings.room == room.id)
        who = Actor(email=reg.email, name=reg.name, source="confirmed")
        if settings.mode == "approval":
            _set(reg, "pending", confirmed_at=now)
            audit.record("registration_confirmed", room, reg.email,
                         detail="waiting for approval", actor=who)
        else:
            reg.confirmed_at = now
            Registration.update(confirmed_at=now).where(Registration.id == reg.id).execute()
            _place(room, reg, who, outcome, now, "registered")
            audit.record("registration_confirmed", room, reg.email, detail=reg.status,
                         actor=who)
        outcome.status = reg.status
        outbox.emit("registration.confirmed", room, {"registration": registration_data(reg)})
    _send(outcome.notices)
    return outcome


def read_cancel_token(token: str) -> Registration | None:
    parsed = tokens.read_token(current_app.config["SECRET_KEYS"], tokens.REGISTRATION, token)
    if parsed is None:
        return None
    reg = Registration.get_or_none(Registration.id == parsed[0])
    return reg if reg is not None and reg.version == parsed[1] else None


def cancel(token: str) -> Outcome:
    """The registrant's own cancellation (never a denial): their place goes to the first on
    the waitlist; they may register again. Outcomes: invalid, cancelled, or the status that
    can't be cancelled (declined, cancelled before)."""
    found = read_cancel_token(token)
    if found is None:
        return Outcome("invalid")
    room = Room.get_by_id(found.room_id)
    outcome = Outcome()
    with database.atomic():
        _lock(room.id)
        reg = Registration.get_by_id(found.id)
        outcome.registration = reg
        if reg.version != found.version:
            outcome.status = "invalid"
            return outcome
        if reg.status not in ("unconfirmed", *ACTIVE):
            outcome.status = reg.status
            return outcome
        who = Actor(email=reg.email, name=reg.name, source="confirmed")
        _leave(room, reg, "cancelled", who, outcome, cancelled_at=timeutil.utcnow())
        audit.record("registration_cancelled", room, reg.email, actor=who)
        outbox.emit("registration.cancelled", room, {"registration": registration_data(reg)})
        outcome.status = "cancelled"
    _send(outcome.notices)
    return outcome


# --- the hosts' decisions -----------------------------------------------------------------------

def approve(room: Room, ids: list[int], actor: Actor | None = None) -> Outcome:
    """Approve pending registrations (in bulk): each gets a place, or the waitlist when the
    room is full."""
    outcome = Outcome()
    with database.atomic():
        _lock(room.id)
        now = timeutil.utcnow()
        for reg in _of_room(room, ids):
            if reg.status != "pending":
                outcome.skipped.append(reg.email)
                continue
            Registration.update(decided_at=now).where(Registration.id == reg.id).execute()
            _place(room, reg, actor, outcome, now, "registered")
            outcome.changed.append(reg.email)
            outcome.done.append(reg.id)
            audit.record("registration_approved", room, reg.email, detail=reg.status,
                         actor=actor)
    _send(outcome.notices)
    return outcome


def decline(room: Room, ids: list[int], actor: Actor | None = None) -> Outcome:
    """Decline registrations (in bulk), pending, registered or waitlisted: a registered one's
    personal link stops working and their place goes to the first on the waitlist."""
    outcome = Outcome()
    with database.atomic():
        _lock(room.id)
        for reg in _of_room(room, ids):
            if reg.status not in ACTIVE:
                outcome.skipped.append(reg.email)
                continue
            _leave(room, reg, "declined", actor, outcome, decided_at=timeutil.utcnow())
            outcome.notices.append(("declined", reg.id))
            outcome.changed.append(reg.email)
            outcome.done.append(reg.id)
            audit.record("registration_declined", room, reg.email, actor=actor)
    _send(outcome.notices)
    return outcome


def _of_room(room: Room, ids: list[int]) -> list[Registration]:
    return list(Registration.select().where((Registration.room == room.id)
                                            & Registration.id.in_(ids or [0]))
                .order_by(Registration.confirmed_at, Registration.id))


# --- places ---------------------------------------------------------------------------------------

def _claim_place(room_id: int) -> bool:
    """One place, atomically: one conditional UPDATE, so a burst never overshoots."""
    return RegistrationSettings.update(taken=RegistrationSettings.taken + 1).where(
        (RegistrationSettings.room == room_id)
        & (RegistrationSettings.capacity.is_null()
           | (RegistrationSettings.taken < RegistrationSettings.capacity))).execute() == 1


def _set(reg: Registration, status: str, **values) -> None:
    values["updated_at"] = timeutil.utcnow()
    Registration.update(status=status, **values).where(Registration.id == reg.id).execute()
    reg.status = status
    for key, value in values.items():
        setattr(reg, key, value)


def _place(room: Room, reg: Registration, actor, outcome: Outcome, now, notice: str) -> None:
    """A place and a personal link, or the end of the waitlist."""
    if _claim_place(room.id):
        _give_link(room, reg, actor)
        _set(reg, "registered", waitlisted_at=None)
        outcome.notices.append((notice, reg.id))
    else:
        _set(reg, "waitlisted", waitlisted_at=now)
        outcome.notices.append(("waitlisted", reg.id))


def _give_link(room: Room, reg: Registration, actor) -> None:
    # The confirmation proved the address: the personal link's lobby doesn't ask for it.
    result = invitation_service.invite(room, [reg.email], "viewer", actor=actor,
                                       enforce_limit=False, email_confirmed=True)
    invitation = result.invitations[0] if result.invitations else Invitation.get_or_none(
        (Invitation.room == room.id) & (Invitation.email == reg.email)
        & Invitation.removed_at.is_null())
    if invitation is not None and not invitation.email_confirmed:
        # An invitation the owner made for this address before: the registrant gets it, and
        # the confirmation proved the address for it too, so its lobby doesn't ask either.
        Invitation.update(email_confirmed=True).where(Invitation.id == invitation.id).execute()
        invitation.email_confirmed = True
    if invitation is not None:
        Registration.update(invitation=invitation.id).where(
            Registration.id == reg.id).execute()
        reg.invitation = invitation.id


def _leave(room: Room, reg: Registration, status: str, actor, outcome: Outcome,
           **values) -> None:
    """Out (cancelled or declined): the personal link dies (a calendar cancellation goes to a
    calendar that had it), and a place held goes to the next on the waitlist."""
    held = reg.status in HOLDS_PLACE
    if reg.invitation_id:
        invitation = Invitation.get_or_none(Invitation.id == reg.invitation_id)
        if invitation is not None and invitation.removed_at is None:
            cancelled = calendar_updates.prepare_invitation(invitation)
            Invitation.update(removed_at=timeutil.utcnow()).where(
                Invitation.id == invitation.id).execute()
            audit.record("invitation_removed", room, invitation.email, actor=actor,
                         detail=f"registration {status}")
            outcome.notices.extend(("calendar_cancel", i) for i in cancelled)
    _set(reg, status, invitation=None, waitlisted_at=None, **values)
    if held:
        _promote_one(room, actor, outcome, claim=False)


def _promote_one(room: Room, actor, outcome: Outcome, claim: bool) -> bool:
    """The first on the waitlist moves up. `claim`: a new place must be claimed (capacity
    raised); else the place just freed passes on — or, nobody waiting, is given back."""
    first = (Registration.select().where((Registration.room == room.id)
                                         & (Registration.status == "waitlisted"))
             .order_by(Registration.waitlisted_at, Registration.id).first())
    if first is None:
        if not claim:
            RegistrationSettings.update(taken=RegistrationSettings.taken - 1).where(
                (RegistrationSettings.room == room.id)
                & (RegistrationSettings.taken > 0)).execute()
        return False
    if claim and not _claim_place(room.id):
        return False
    _give_link(room, first, actor)
    _set(first, "registered", waitlisted_at=None)
    outcome.notices.append(("moved_up", first.id))
    audit.record("registration_moved_up", room, first.email,
                 actor=actor or Actor(email="guestgate"))
    return True


# --- emails ---------------------------------------------------------------------------------------

def _send(notices: list[tuple[str, int]]) -> None:
    """After the commit: each email, in the registrant's language."""
    calendar_cancels = [i for kind, i in notices if kind == "calendar_cancel"]
    if calendar_cancels:
        calendar_updates.send(calendar_cancels, calendar_updates.CANCEL)
    people = [(kind, i) for kind, i in notices if kind != "calendar_cancel"]
    if not people:
        return
    regs = {r.id: r for r in Registration.select(Registration, Room, User).join(Room)
            .join(User).where(Registration.id.in_([i for _, i in people]))}
    messages, sent_links = [], []
    for kind, reg_id in people:
        reg = regs.get(reg_id)
        if reg is None:
            continue
        invitation = None
        if kind in ("registered", "moved_up") and reg.invitation_id:
            invitation = (Invitation.select(Invitation, Room, User).join(Room)
                          .switch(Invitation).join(User)
                          .where(Invitation.id == reg.invitation_id).first())
            if invitation is None:
                continue
            sent_links.append(invitation.id)
        messages.append(registration_message(reg, kind, invitation))
    results = mail.send_all(messages)
    now = timeutil.utcnow()
    for error in results:
        if error is not None:
            current_app.logger.warning("registration email not sent: %s", error)
    if sent_links:  # their calendars have the event: updates and cancellations follow
        Invitation.update(email_status="sent", emailed_at=now, email_error="").where(
            Invitation.id.in_(sent_links)).execute()


SUBJECTS = {
    "confirm": lambda: gettext("Confirm your registration: %(title)s"),
    "already": lambda: gettext("You're already registered: %(title)s"),
    "registered": lambda: gettext("You're registered: %(title)s"),
    "moved_up": lambda: gettext("A place became free — you're registered: %(title)s"),
    "waitlisted": lambda: gettext("You're on the waitlist: %(title)s"),
    "declined": lambda: gettext("Your registration wasn't approved: %(title)s"),
}


def registration_message(reg: Registration, kind: str, invitation: Invitation | None = None):
    room = reg.room
    language = reg.language or "en"
    with force_locale(language):
        title = mail.header_safe(room.title)
        context = {"reg": reg, "room": room, "kind": kind,
                   "starts": mail.zone_text(room.starts_at, room.timezone),
                   "confirm_url": public_url("guest.confirm_registration",
                                             token=confirm_token(reg))
                   if kind == "confirm" else None,
                   "cancel_url": public_url("guest.cancel_registration",
                                            token=cancel_token(reg))
                   if kind != "declined" else None,
                   "url": invitation_url(invitation) if invitation else None,
                   "hours": current_app.config["REGISTRATION_CONFIRM_HOURS"]}
        message = mail.new_message(SUBJECTS[kind]() % {"title": title}, reg.email,
                                   mail.render_email("email/registration.txt", **context),
                                   mail.render_email("email/registration.html", **context))
    if invitation is not None:  # the calendar event, with the invitation's UID and sequence
        mail.attach_invitation_event(message, invitation, context["url"])
    return message


# --- what hosts see ----------------------------------------------------------------------------

def registration_data(reg: Registration) -> dict:
    return {"id": reg.id, "email": reg.email, "name": reg.name, "status": reg.status,
            "answers": reg.answer_map, "confirmed_at": timeutil.iso_utc(reg.confirmed_at)}


def registrations(room: Room) -> list[Registration]:
    return list(Registration.select().where(Registration.room == room.id)
                .order_by(Registration.created_at, Registration.id))


def registrations_after(room: Room, limit: int, after_id: int | None = None,
                       status: str | None = None) -> list[Registration]:
    """Up to `limit` registrations after the one with id `after_id`, in the order they came,
    of one status or all (the API's pages)."""
    query = Registration.select().where(Registration.room == room.id)
    if status is not None:
        query = query.where(Registration.status == status)
    if after_id is not None:
        query = query.where(Registration.id > after_id)
    return list(query.order_by(Registration.id).limit(limit))


def waitlist_positions(room: Room, ids: list[int]) -> dict[int, int]:
    """Where each of these registrations stands on the waitlist (1 is next), by id."""
    waiting = [r.id for r in Registration.select(Registration.id).where(
        (Registration.room == room.id) & (Registration.status == "waitlisted"))
        .order_by(Registration.waitlisted_at, Registration.id)]
    wanted = set(ids)
    return {i: n for n, i in enumerate(waiting, start=1) if i in wanted}


# The registrants' list on the room page: those a host acts on first (approval), then the
# places, the waitlist in its order, and the rest; a page at a time, whatever the crowd.
LIST_ORDER = ("pending", "registered", "waitlisted", "unconfirmed", "declined", "cancelled")
PAGE_SIZE = 50


def status_counts(room: Room) -> dict[str, int]:
    """How many registrations of each status (every status present, 0 when none): one
    GROUP BY, nobody loaded."""
    counted = {status: 0 for status in LIST_ORDER}
    for status, n in (Registration.select(Registration.status, fn.COUNT(Registration.id))
                      .where(Registration.room == room.id).group_by(Registration.status)
                      .tuples()):
        counted[status] = n
    return counted


def registrations_page(room: Room, show: str | None, offset: int,
                       limit: int = PAGE_SIZE) -> list[Registration]:
    """One page of the list: all statuses in LIST_ORDER, or the status `show`; the waitlist
    in its order, the others in the order they registered."""
    query = Registration.select().where(Registration.room == room.id)
    if show in LIST_ORDER:
        query = query.where(Registration.status == show)
    group = Case(Registration.status, [(s, n) for n, s in enumerate(LIST_ORDER)], len(LIST_ORDER))
    return list(query.order_by(group, Registration.waitlisted_at, Registration.created_at,
                               Registration.id).offset(offset).limit(limit))


def waitlist_position(counts: dict[str, int], show: str | None, index: int) -> int:
    """The place in the waitlist of the list's `index`-th row (0-based, over all pages), a
    waitlisted one: the rows before the waitlist are the groups listed before it."""
    if show == "waitlisted":
        return index + 1
    before = sum(counts[s] for s in LIST_ORDER[:LIST_ORDER.index("waitlisted")])
    return index - before + 1


def waitlist(room: Room) -> list[Registration]:
    return list(Registration.select().where((Registration.room == room.id)
                                            & (Registration.status == "waitlisted"))
                .order_by(Registration.waitlisted_at, Registration.id))


def is_expired(reg: Registration, now: datetime) -> bool:
    hours = current_app.config["REGISTRATION_CONFIRM_HOURS"]
    return reg.status == "unconfirmed" and (now - reg.created_at).total_seconds() > hours * 3600


def export_rows(room: Room) -> tuple[list[str], list[list]]:
    """The registrations with their answers, for the CSV export (portal/csvfiles.py)."""
    questions = questions_of(settings_of(room))
    now = timeutil.utcnow()
    header = ["name", "email", "status", "registered_at", "confirmed_at", "waitlist_position",
              *[q["label"] for q in questions]]
    positions = {r.id: n for n, r in enumerate(waitlist(room), start=1)}
    rows = []
    for reg in registrations(room):
        answers = reg.answer_map
        rows.append([reg.name, reg.email,
                     "expired" if is_expired(reg, now) else reg.status,
                     timeutil.iso_utc(reg.created_at), timeutil.iso_utc(reg.confirmed_at),
                     positions.get(reg.id, ""),
                     *[answer_text(q, answers.get(q["id"])) for q in questions]])
    return header, rows


def answer_text(question: dict, value) -> str:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if question.get("kind") == "checkbox":
        return "yes" if value else "no"
    return "" if value is None else str(value)


# --- seed-demo ------------------------------------------------------------------------------------

def seed_registration(owner: User, rooms: list[Room]) -> dict:
    """Registration on the demo room that starts in an hour: open, 50 places, one question."""
    details = {}
    for room in rooms:
        if room.kind != "regular" or room.starts_at <= timeutil.utcnow():
            continue
        actor = Actor.of_account(owner)
        save_settings(room, enabled=True, mode="open", capacity=50, opens_at=None,
                      closes_at=None, actor=actor)
        add_question(room, "What would you like to ask the speakers?", "long", False, [],
                     actor=actor)
        details[room.id] = {"registration_url": page_url(room)}
        break
    return details
