"""Outgoing email: invitations (text, HTML and an .ics calendar file), password resets and the
warning about failed sign-ins (sent in the background, `in_background`).

Sending never raises to the caller: each message comes back with an error text or None, so an
SMTP failure or timeout is recorded on the invitation instead of turning into a 500. Bulk sends
share one SMTP connection. With no SMTP server configured, messages are written as .eml files to
MAIL_OUTBOX (the embedded default), so a fresh install works without any mail setup.
"""

import re
import smtplib
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from babel.dates import format_datetime, format_timedelta
from flask import current_app
from flask_babel import force_locale, gettext
from flask_mail import Connection, Message, email_dispatched
from icalendar import Calendar, Event, vCalAddress

from . import timeutil
from .config import private_folder

_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")

# Errors of one message that leave the connection usable for the next one.
_PER_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                       smtplib.SMTPDataError)


def header_safe(text: str, limit: int = 200) -> str:
    """Text that can go into an email header: no CR, LF or other control characters (which
    would let a room title or a name inject headers), collapsed and shortened."""
    cleaned = _HEADER_UNSAFE.sub(" ", text or "")
    return re.sub(r"\s{2,}", " ", cleaned).strip()[:limit]


_BACKGROUND = "guestgate_background_mail"


def in_background(work: Callable[[], None], name: str) -> threading.Thread:
    """Run `work` (which looks up and sends) in a thread of its own, so the request answers
    without waiting for the mail server: how long an answer takes then says nothing about
    whether there was anything to send. Errors are logged; the thread's database connection is
    closed when it ends. A worker stopped meanwhile loses the message (a daemon thread)."""
    app = current_app._get_current_object()
    pending = app.extensions.setdefault(_BACKGROUND, set())

    def run():
        try:
            # The app, and no request: emails are rendered from their own context alone
            # (`render_email`), and their addresses come from BASE_URL (`web.public_url`).
            with app.app_context():
                from .db import database

                try:
                    work()
                except Exception:
                    app.logger.exception("%s failed", name)
                finally:
                    if not database.is_closed():
                        database.close()
        finally:
            pending.discard(thread)

    thread = threading.Thread(target=run, name=name, daemon=True)
    pending.add(thread)
    thread.start()
    return thread


def wait_for_background(app, timeout: float = 30.0) -> None:
    """Until the mail sent in the background has gone (tests; a shutdown that wants it out)."""
    for thread in app.extensions.get(_BACKGROUND, set()).copy():  # one step: threads end
        thread.join(timeout)


def outbox_mode() -> bool:
    """No SMTP server configured: messages go to files in MAIL_OUTBOX."""
    return not current_app.config.get("MAIL_SERVER")


class _TimedConnection(Connection):
    """Flask-Mail's connection with a timeout on connect and on every SMTP reply; Flask-Mail
    sets none, and a hanging server would otherwise hold the request forever."""

    def __init__(self, state, timeout: float):
        super().__init__(state)
        self.timeout = timeout

    def configure_host(self):
        state = self.mail
        smtp_class = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = smtp_class(state.server, state.port, timeout=self.timeout)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host


class _Message(Message):
    """A Message whose calendar part says its charset and method (Flask-Mail's attachments
    take only "type/subtype"): calendar clients act on an invitation, an update or a
    cancellation by the part's method, which must match the file's METHOD."""

    calendar_method = "PUBLISH"

    def _message(self):
        msg = super()._message()
        for part in msg.walk():
            if part.get_content_type() == "text/calendar":
                part.set_param("charset", "UTF-8")
                part.set_param("method", self.calendar_method)
        return msg


def describe(exc: BaseException) -> str:
    """A short, human account of a sending failure (kept in Invitation.email_error)."""
    # smtplib turns a read timeout into SMTPServerDisconnected; the timeout is its context.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"The email server didn't answer within {current_app.config['MAIL_TIMEOUT']:g} s."
    if isinstance(exc, ConnectionRefusedError):
        return "The email server refused the connection (is it running?)."
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = "; ".join(f"{code} {_text(err)}" for code, err in exc.recipients.values())
        return header_safe(f"The email server refused the address: {codes}", 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        return header_safe(f"The email server answered {exc.smtp_code}: "
                           f"{_text(exc.smtp_error)}", 500)
    return header_safe(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, 500)


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def send_all(messages: list[Message]) -> list[str | None]:
    """Send messages over one connection. Returns, per message, None (sent) or why it failed.
    Never raises for SMTP or network trouble."""
    if not messages:
        return []
    if outbox_mode():
        return [_write_to_outbox(m) for m in messages]
    results: list[str | None] = []
    connection = _TimedConnection(current_app.extensions["mail"],
                                  float(current_app.config.get("MAIL_TIMEOUT") or 10))
    try:
        connection.host = None if connection.mail.suppress else connection.configure_host()
        for message in messages:
            try:
                connection.send(message)
                results.append(None)
            except _PER_MESSAGE_ERRORS as exc:
                results.append(describe(exc))
    except (OSError, smtplib.SMTPException) as exc:
        why = describe(exc)
        current_app.logger.warning("sending email failed: %s", why)
        results.extend([why] * (len(messages) - len(results)))
    finally:
        _close_quietly(connection)
    return results


def _close_quietly(connection: Connection) -> None:
    host, connection.host = connection.host, None
    if host is None:
        return
    try:
        host.quit()
    except (OSError, smtplib.SMTPException):
        host.close()


def _write_to_outbox(message: Message) -> str | None:
    try:
        folder = private_folder(current_app.config["MAIL_OUTBOX"])
        message.date = time.time()
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}.eml"
        path.touch(0o600, exist_ok=False)  # owner-only from the start: it holds a live link
        path.write_bytes(message.as_bytes())
    except OSError as exc:
        return describe(exc)
    email_dispatched.send(current_app._get_current_object(), message=message)
    return None


# --- messages ---------------------------------------------------------------------------------

def render_email(template: str, **context) -> str:
    """An email's template with its own context only: no request, session or language of the
    page that sends it (an email may be sent in the background, after that request)."""
    return current_app.jinja_env.get_template(template).render(**context)


def _utc_text(value: datetime) -> str:
    return value.strftime("%a %d %b %Y, %H:%M UTC")


def _zone_text(value: datetime, zone: str) -> str:
    """A stored (UTC) time as the room's owner gave it: in the room's zone, named."""
    if _zone_name(zone) == "UTC":
        return _utc_text(value)
    local = timeutil.to_local(value, zone)
    return f"{local:%a %d %b %Y, %H:%M} {local.tzname()} ({zone})"


def _zone_name(zone: str | None) -> str:
    return zone if zone and zone != "Etc/UTC" and timeutil.is_valid_zone(zone) else "UTC"


# What an invitation's email is: the invitation itself, an update of its time or title, or its
# cancellation (room or invitation deleted) — iTIP's REQUEST, REQUEST again, and CANCEL.
INVITE, UPDATE, CANCEL = "invite", "update", "cancel"
_SUBJECTS = {INVITE: "You're invited: {}", UPDATE: "Updated invitation: {}",
             CANCEL: "Cancelled: {}"}


def invitation_uid(invitation) -> str:
    """One UID per invitation, for good: the invitation, its updates and its cancellation are
    the same event to the guest's calendar."""
    return f"guestgate-room-{invitation.room_id}-invitation-{invitation.id}@{uid_host()}"


def invitation_message(invitation, url: str, kind: str = INVITE) -> Message:
    """The personal invitation (or its update, or its cancellation): plain text, HTML and the
    session as an .ics file that calendar clients add, move or remove."""
    room = invitation.room
    title = header_safe(room.title)
    zone = _zone_name(room.timezone)
    context = {"invitation": invitation, "room": room, "url": url, "kind": kind,
               "host": header_safe(room.owner.name or "", 120),
               "starts": _zone_text(room.starts_at, zone), "ends": _zone_text(room.ends_at, zone),
               "expires": _zone_text(invitation.expires_at, zone)
               if invitation.expires_at else None,
               "host_account": invitation.user.access in ("admin", "broadcaster")}
    template = "email/invitation_cancelled" if kind == CANCEL else "email/invitation"
    message = _Message(subject=_SUBJECTS[kind].format(title), recipients=[invitation.email],
                       sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
                       body=render_email(f"{template}.txt", **context),
                       html=render_email(f"{template}.html", **context))
    message.calendar_method = "CANCEL" if kind == CANCEL else "REQUEST"
    description = room.description if kind == CANCEL else \
        f"{room.description}\n\nYour personal link (don't share it): {url}".strip()
    calendar = icalendar_event(
        uid=invitation_uid(invitation), title=room.title, starts_at=room.starts_at,
        ends_at=room.ends_at, description=description, url=None if kind == CANCEL else url,
        zone=zone, method=message.calendar_method, sequence=invitation.ics_sequence,
        organizer=(room.owner.email, header_safe(room.owner.name or "", 120)),
        attendee=invitation.email)
    message.attach("invitation.ics", "text/calendar", calendar.encode("utf-8"))
    return message


def zone_text(value: datetime, zone: str | None) -> str:
    """A stored (UTC) time in the room's zone, named (registration emails)."""
    return _zone_text(value, _zone_name(zone))


def new_message(subject: str, recipient: str, body: str, html: str) -> Message:
    return _Message(subject=subject, recipients=[recipient],
                    sender=current_app.config.get("MAIL_DEFAULT_SENDER"), body=body, html=html)


def attach_invitation_event(message: Message, invitation, url: str) -> None:
    """The invitation's calendar event (its UID and sequence: later updates and the
    cancellation, services.calendar_updates, change this same event) on another message — a
    registrant's "you're registered"."""
    room = invitation.room
    message.calendar_method = "REQUEST"
    calendar = icalendar_event(
        uid=invitation_uid(invitation), title=room.title, starts_at=room.starts_at,
        ends_at=room.ends_at,
        description=f"{room.description}\n\nYour personal link (don't share it): {url}".strip(),
        url=url, zone=_zone_name(room.timezone), method="REQUEST",
        sequence=invitation.ics_sequence,
        organizer=(room.owner.email, header_safe(room.owner.name or "", 120)),
        attendee=invitation.email)
    message.attach("invitation.ics", "text/calendar", calendar.encode("utf-8"))


def password_reset_message(user, url: str, minutes: int) -> Message:
    context = {"user": user, "url": url, "minutes": minutes}
    return Message(subject="Reset your Guestgate password", recipients=[user.email],
                   sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
                   body=render_email("email/password_reset.txt", **context),
                   html=render_email("email/password_reset.html", **context))


def failed_sign_ins_message(user, failures: int, addresses: int, first: float, last: float,
                            period: int, url: str) -> Message:
    """The owner's warning about wrong passwords for their account: how many, from how many
    addresses, between which times (in the account's time zone), and what to do. In the site's
    language (BABEL_DEFAULT_LOCALE): an account has no language of its own, and the request that
    set it off is the attacker's."""
    language = current_app.config.get("BABEL_DEFAULT_LOCALE") or "en"
    zone = _zone_name(user.timezone)

    def moment(unix: float) -> str:
        written = format_datetime(datetime.fromtimestamp(unix, UTC), "medium",
                                  tzinfo=timeutil.zone(zone), locale=language)
        return f"{written} ({zone})"

    with force_locale(language):
        context = {"user": user, "failures": failures, "addresses": addresses, "url": url,
                   "first": moment(first), "last": moment(last), "language": language,
                   "period": format_timedelta(timedelta(seconds=period), locale=language)}
        return Message(subject=gettext("Failed sign-ins to your Guestgate account"),
                       recipients=[user.email],
                       sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
                       body=render_email("email/failed_sign_ins.txt", **context),
                       html=render_email("email/failed_sign_ins.html", **context))


def uid_host() -> str:
    return urlparse(current_app.config["BASE_URL"]).hostname or "guestgate.invalid"


# --- iCalendar (RFC 5545): the icalendar package escapes, folds and writes the times -----------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # not allowed in TEXT (tab and newline are)


def _ical_text(value: str) -> str:
    return _CONTROL.sub("", (value or "").replace("\r\n", "\n").replace("\r", "\n"))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)  # stored times are naive UTC; written as ...Z


def _in_zone(value: datetime, zone: str) -> datetime:
    """A stored time in `zone`: written with its TZID (and the zone's VTIMEZONE), or as ...Z."""
    return _utc(value) if zone == "UTC" else _utc(value).astimezone(timeutil.zone(zone))


def icalendar_event(uid: str, title: str, starts_at: datetime, ends_at: datetime,
                    description: str = "", url: str | None = None, zone: str = "UTC",
                    method: str = "PUBLISH", sequence: int = 0,
                    organizer: tuple[str, str] | None = None,
                    attendee: str | None = None) -> str:
    """One event as an iCalendar file (RFC 5545; RFC 5546's METHOD for invitations).
    `organizer` is (email, name). Times are in `zone` with its VTIMEZONE, or in UTC."""
    zone = _zone_name(zone)
    calendar = Calendar()
    calendar.add("prodid", "-//Guestgate//Invitations//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", _utc(timeutil.utcnow()))
    event.add("dtstart", _in_zone(starts_at, zone))
    event.add("dtend", _in_zone(ends_at, zone))
    event.add("summary", _ical_text(title))
    if method != "PUBLISH":
        event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if organizer:
        email, name = organizer
        event.add("organizer", vCalAddress(f"mailto:{email}"),
                  parameters={"CN": _ical_text(name)} if name else None)
    if attendee:
        # RSVP=FALSE: Guestgate reads no replies; the personal link is how the guest answers.
        event.add("attendee", vCalAddress(f"mailto:{attendee}"),
                  parameters={"ROLE": "REQ-PARTICIPANT", "PARTSTAT": "NEEDS-ACTION",
                              "RSVP": "FALSE"})
    if description:
        event.add("description", _ical_text(description))
    if url:
        event.add("url", url)
    calendar.add_component(event)
    if zone != "UTC":
        # The zone's rules written out, from a year before the session to a year after it:
        # enough for any calendar to place it right, across daylight-saving changes too.
        calendar.add_missing_timezones(first_date=(starts_at - timedelta(days=366)).date(),
                                       last_date=(ends_at + timedelta(days=366)).date())
    return calendar.to_ical().decode("utf-8")


def send_password_reset(user, url: str, minutes: int) -> str | None:
    return send_all([password_reset_message(user, url, minutes)])[0]


def send_failed_sign_ins(user, failures: int, addresses: int, first: float, last: float,
                         period: int, url: str) -> str | None:
    return send_all([failed_sign_ins_message(user, failures, addresses, first, last, period,
                                             url)])[0]
