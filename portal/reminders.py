"""Registrants' reminders and follow-ups, sent by the background loop (portal/background.py).

Before the start: a reminder at each of the room's `reminder_hours` (default 24 and 1) to
everyone registered, with their personal link. After the end (when the room turns it on): a
follow-up in the owner's words, one text for those who entered and one for those who didn't.

Each (room, kind, email) is claimed by inserting its ReminderClaim row: the unique index lets
one loop of any number — threads, workers, hosts — have it, and the row outlives restarts, so
each is sent once. A send that fails gives its claim back, to be tried at the next turn. A
reminder more than REMINDER_LATE_MINUTES past its time (or past the start) is skipped, as is a
follow-up more than FOLLOW_UP_LATE_HOURS after the end: loops that were down don't send stale
news."""

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import force_locale, gettext
from peewee import IntegrityError

from . import mail, timeutil
from .db import database
from .models import Invitation, Participant, Registration, RegistrationSettings, ReminderClaim, Room
from .services.urls import invitation_url
from .web import public_url

MAX_HOURS = 24 * 14  # a reminder at most two weeks before


def parse_hours(text: str) -> list[int]:
    """ "24, 1" → [24, 1]; ValueError with words for the owner."""
    hours = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= MAX_HOURS:
            raise ValueError(f"Give whole hours from 1 to {MAX_HOURS}, separated by commas.")
        hours.append(int(part))
    return sorted(set(hours), reverse=True)


def _claim(room_id: int, kind: str, email: str) -> bool:
    """This loop's, if nobody claimed it before (the unique index decides, on any database)."""
    try:
        with database.atomic():
            ReminderClaim.insert(room=room_id, kind=kind, email=email,
                                 claimed_at=timeutil.utcnow()).execute()
        return True
    except IntegrityError:
        return False


def due(now: datetime) -> list[tuple[Room, RegistrationSettings, str]]:
    """(room, its settings, kind) of every reminder and follow-up whose time is now."""
    late = timedelta(minutes=current_app.config["REMINDER_LATE_MINUTES"])
    follow_late = timedelta(hours=current_app.config["FOLLOW_UP_LATE_HOURS"])
    rows = (RegistrationSettings.select(RegistrationSettings, Room).join(Room)
            .where(RegistrationSettings.enabled & Room.deleted_at.is_null()
                   & (Room.starts_at <= now + timedelta(hours=MAX_HOURS))
                   & (Room.ends_at >= now - follow_late)))
    found = []
    for settings in rows:
        room = settings.room
        try:
            hours = parse_hours(settings.reminder_hours)
        except ValueError:
            hours = []
        for h in hours:
            at = room.starts_at - timedelta(hours=h)
            if at <= now < min(at + late, room.starts_at):
                found.append((room, settings, f"reminder-{h}"))
        if settings.follow_up and room.ends_at <= now < room.ends_at + follow_late:
            found.append((room, settings, "follow-up"))
    return found


def send_due(now: datetime | None = None) -> int:
    """Send what is due and not claimed yet; how many were sent."""
    now = now or timeutil.utcnow()
    sent = 0
    for room, settings, kind in due(now):
        people = list(Registration.select().where((Registration.room == room.id)
                                                  & (Registration.status == "registered")))
        came = set()
        if kind == "follow-up":
            came = {email for (email,) in Participant.select(Participant.email).where(
                (Participant.room == room.id) & Participant.decided_at.is_null(False)
                & Participant.status.in_(("admitted", "left"))).tuples()}
        for reg in people:
            text = ""
            if kind == "follow-up":
                text = settings.follow_up_came if reg.email in came else settings.follow_up_missed
                if not text.strip():
                    continue  # the owner wrote nothing for this group
            if not _claim(room.id, kind, reg.email):
                continue
            error = mail.send_all([_message(room, reg, kind, text)])[0]
            if error is None:
                ReminderClaim.update(sent_at=timeutil.utcnow()).where(
                    (ReminderClaim.room == room.id) & (ReminderClaim.kind == kind)
                    & (ReminderClaim.email == reg.email)).execute()
                sent += 1
            else:  # given back: the next turn tries again (while it is still due)
                current_app.logger.warning("%s to %s not sent: %s", kind, reg.email, error)
                ReminderClaim.delete().where(
                    (ReminderClaim.room == room.id) & (ReminderClaim.kind == kind)
                    & (ReminderClaim.email == reg.email)).execute()
    return sent


def _message(room: Room, reg: Registration, kind: str, text: str):
    from .services import registration as registration_service

    invitation = Invitation.get_or_none(Invitation.id == reg.invitation_id) \
        if reg.invitation_id else None
    with force_locale(reg.language or "en"):
        title = mail.header_safe(room.title)
        context = {"reg": reg, "room": room, "kind": "reminder" if kind != "follow-up" else kind,
                   "text": text, "starts": mail.zone_text(room.starts_at, room.timezone),
                   "url": invitation_url(invitation) if invitation else None,
                   "cancel_url": public_url("guest.cancel_registration",
                                            token=registration_service.cancel_token(reg))}
        subject = gettext("Reminder: %(title)s") if kind != "follow-up" \
            else gettext("Thank you: %(title)s")
        return mail.new_message(subject % {"title": title}, reg.email,
                                mail.render_email("email/reminder.txt", **context),
                                mail.render_email("email/reminder.html", **context))
