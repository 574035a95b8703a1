"""Host alerts: nobody waits unseen. When guests have waited HOST_ALERT_AFTER_SECONDS in a room
whose guests wait to be admitted, and no host's page has asked for that room's waiting list
within HOST_WATCHING_SECONDS, the room's hosts (its owner, and the invited moderators who opted
in, as the room says) get an email and a Web Push notification naming who waits, with a link to
the waiting list.

Across workers and hosts, everything is in the database (RoomAlertState):
- "a host is watching": the owner's room page and waiting-list poll, and an invited moderator's,
  write `host_seen_at` (each process at most every third of HOST_WATCHING_SECONDS a room), so a
  poll answered by any worker on any host counts;
- "no alert twice": an alert is claimed by one conditional UPDATE of the room's row (the
  throttle and the last guest named move together), which one worker wins;
- the throttle: at most one alert a room every HOST_ALERT_EVERY_SECONDS; the guests who arrive
  meanwhile are named together in the next one (a digest);
- a guest who left (or was admitted or denied) before the alert goes is never named, and an
  alert naming nobody is not sent.

The check runs in each process's background loop (portal/background.py) every
HOST_ALERT_CHECK_SECONDS. Sending is at most once: a worker that dies mid-send loses that alert
rather than sending it twice."""

import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale, gettext, ngettext
from flask_mail import Message
from peewee import JOIN, fn

from . import mail, timeutil, webpush
from .db import database
from .models import (
    AlertPreference,
    Invitation,
    Participant,
    PushSubscription,
    Room,
    RoomAlertState,
    User,
)
from .web import public_url

NAMES_SHOWN = 10  # an alert names this many waiting guests, and counts the rest
_SEEN = "guestgate_host_seen"  # app.extensions: {room id: when this process last wrote}


# --- a host is watching ---------------------------------------------------------------------------

def host_seen(room_id: int) -> None:
    """A host's page asked for the room's waiting list now: written to the database (shared by
    every worker and host), at most every third of HOST_WATCHING_SECONDS by each process."""
    app = current_app._get_current_object()
    if not app.config["HOST_ALERTS"]:
        return
    written = app.extensions.setdefault(_SEEN, {})
    now_m = time.monotonic()
    if now_m - written.get(room_id, float("-inf")) < app.config["HOST_WATCHING_SECONDS"] / 3:
        return
    now = timeutil.utcnow()
    RoomAlertState.insert(room=room_id, host_seen_at=now).on_conflict(
        conflict_target=[RoomAlertState.room],
        update={RoomAlertState.host_seen_at: now}).execute()
    written[room_id] = now_m


# --- preferences ----------------------------------------------------------------------------------

def preferences(user_id: int) -> AlertPreference:
    """The account's choices, or the defaults (email and push on; rooms it moderates off)."""
    return AlertPreference.get_or_none(AlertPreference.user == user_id) or \
        AlertPreference(user=user_id)


def _minutes(hhmm: str) -> int | None:
    try:
        hours, minutes = hhmm.split(":")
        return int(hours) * 60 + int(minutes)
    except (ValueError, AttributeError):
        return None


def in_quiet_hours(quiet_from: str, quiet_until: str, zone: str, now) -> bool:
    """Whether `now` (naive UTC) falls in the quiet hours, written "HH:MM" in `zone`; they may
    span midnight (22:00–07:00). Either empty, or both the same: none."""
    start, end = _minutes(quiet_from), _minutes(quiet_until)
    if start is None or end is None or start == end:
        return False
    zone = zone if timeutil.is_valid_zone(zone) else "UTC"
    local = timeutil.to_local(now, zone)
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start < end else (minute >= start or minute < end)


@dataclass
class Recipient:
    user: User
    prefs: AlertPreference
    url: str  # where the waiting list is, for this host
    email: bool
    push: bool


def recipients(room: Room, now) -> list[Recipient]:
    """Who is told about this room's waiting guests now: the owner, and (the room's `hosts`
    setting) each invited moderator who opted in to rooms they moderate; each by the channels
    they turned on, and none in their quiet hours."""
    owner_url = public_url("owner.room", room_id=room.id) + "#waiting-room"
    people = [(room.owner, owner_url)]
    if room.alert_hosts == "hosts":
        moderator_url = public_url("guest.place", room_id=room.id) + "#waiting-room"
        moderators = (User.select().join(Invitation, on=(Invitation.user == User.id))
                      .where((Invitation.room == room.id) & (Invitation.role == "moderator")
                             & Invitation.removed_at.is_null()
                             & (Invitation.expires_at.is_null() | (Invitation.expires_at > now))
                             & (User.id != room.owner_id))
                      .distinct().order_by(User.id))
        people += [(user, moderator_url) for user in moderators]
    found = []
    for user, url in people:
        prefs = preferences(user.id)
        if user.id != room.owner_id and not prefs.moderated_rooms:
            continue  # moderators opt in
        if in_quiet_hours(prefs.quiet_from, prefs.quiet_until, user.timezone, now):
            continue
        if prefs.email or prefs.push:
            found.append(Recipient(user, prefs, url, prefs.email, prefs.push))
    return found


# --- the check ------------------------------------------------------------------------------------

def _windows(now):
    config = current_app.config
    return (now - timedelta(seconds=config["HOST_ALERT_AFTER_SECONDS"]),
            now - timedelta(seconds=config["HOST_WATCHING_SECONDS"]),
            now - timedelta(seconds=config["HOST_ALERT_EVERY_SECONDS"]))


def _unwatched_and_not_throttled(unwatched_since, throttle_since):
    S = RoomAlertState
    return ((S.host_seen_at.is_null() | (S.host_seen_at < unwatched_since))
            & (S.last_alert_at.is_null() | (S.last_alert_at <= throttle_since)))


def rooms_due(now) -> list[tuple[int, int, int]]:
    """(room id, the newest guest waiting long enough, the last guest named before) of each
    live room whose guests wait to be admitted, where someone new has waited long enough, no
    host is watching, and the throttle allows an alert."""
    waited_since, unwatched_since, throttle_since = _windows(now)
    P, S, R = Participant, RoomAlertState, Room
    through = fn.COALESCE(S.alerted_through, 0)
    query = (R.select(R.id, fn.MAX(P.id), through)
             .join(P, on=((P.room == R.id) & (P.status == "waiting")
                          & (P.created_at <= waited_since)))
             .switch(R).join(S, JOIN.LEFT_OUTER, on=(S.room == R.id))
             .where(R.deleted_at.is_null() & (R.require_approval == True)  # noqa: E712
                    & (R.kind == "regular") & (R.alert_hosts != "nobody")
                    & (R.starts_at <= now) & (R.ends_at > now)
                    & _unwatched_and_not_throttled(unwatched_since, throttle_since))
             .group_by(R.id, S.alerted_through)
             .having(fn.MAX(P.id) > through)
             .tuples())
    return list(query)


def claim(room_id: int, newest: int, through: int, now) -> bool:
    """This worker's alert of the room, if it wins it: one conditional UPDATE moves the
    throttle and the last guest named together, only while they are as this worker read them
    (so of two workers, or two hosts, one sends)."""
    _, unwatched_since, throttle_since = _windows(now)
    S = RoomAlertState
    S.insert(room=room_id).on_conflict_ignore().execute()
    won = S.update(last_alert_at=now, alerted_through=newest).where(
        (S.room == room_id) & (S.alerted_through == through)
        & _unwatched_and_not_throttled(unwatched_since, throttle_since)).execute()
    return won == 1


def alert_due(now=None) -> int:
    """One look: every room due gets its alert, claimed once across workers. Returns how many
    rooms were alerted."""
    if not current_app.config["HOST_ALERTS"]:
        return 0
    now = now or timeutil.utcnow()
    alerted = 0
    for room_id, newest, through in rooms_due(now):
        with database.atomic():
            won = claim(room_id, newest, through, now)
        if won:
            alerted += bool(send_alert(room_id, through, newest, now))
    return alerted


# --- what goes out --------------------------------------------------------------------------------

@dataclass
class Wave:
    room: Room
    guests: list[Participant]  # named: arrived since the last alert, still waiting
    total: int  # waiting now, all told


def wave_of(room_id: int, through: int, newest: int) -> Wave | None:
    room = Room.get_or_none(Room.id == room_id)
    if room is None:
        return None
    waiting = (Participant.room == room_id) & (Participant.status == "waiting")
    guests = list(Participant.select().where(
        waiting & (Participant.id > through) & (Participant.id <= newest))
        .order_by(Participant.id))
    total = Participant.select(fn.COUNT(Participant.id)).where(waiting).scalar()
    return Wave(room, guests, total) if guests else None


def send_alert(room_id: int, through: int, newest: int, now) -> int:
    """Email and push this wave to the room's hosts; returns how many were told (0: the guests
    left meanwhile, or nobody wants it now)."""
    wave = wave_of(room_id, through, newest)
    if wave is None:
        return 0
    people = recipients(wave.room, now)
    messages = [alert_message(wave, person) for person in people if person.email]
    for person, why in zip([p for p in people if p.email], mail.send_all(messages),
                           strict=True):
        if why:
            current_app.logger.warning("host alert email to %s failed: %s",
                                       person.user.email, why)
    for person in people:
        if person.push:
            push_to(person.user.id, push_payload(wave, person))
    return len(people)


def _language() -> str:
    return current_app.config.get("BABEL_DEFAULT_LOCALE") or "en"


def _names(wave: Wave) -> tuple[list[str], int]:
    shown = [mail.header_safe(g.name, 100) for g in wave.guests[:NAMES_SHOWN]]
    return shown, len(wave.guests) - len(shown)


def alert_message(wave: Wave, person: Recipient) -> Message:
    """The email: who waits, since when, the link to the waiting list. In the site's language
    (BABEL_DEFAULT_LOCALE), as the other emails to accounts."""
    language = _language()
    title = mail.header_safe(wave.room.title)
    names, more = _names(wave)
    with force_locale(language):
        subject = ngettext("%(name)s is waiting in “%(room)s”",
                           "%(num)d guests are waiting in “%(room)s”", len(wave.guests),
                           name=names[0], room=title)
        context = {"room": wave.room, "title": title, "names": names, "more": more,
                   "count": len(wave.guests), "total": wave.total, "url": person.url,
                   "is_owner": person.user.id == wave.room.owner_id,
                   "settings_url": public_url("account.alerts_page"), "language": language,
                   "minutes": max(1, round(current_app.config["HOST_ALERT_AFTER_SECONDS"] / 60)),
                   "every": max(1, round(current_app.config["HOST_ALERT_EVERY_SECONDS"] / 60))}
        return Message(subject=subject, recipients=[person.user.email],
                       sender=current_app.config.get("MAIL_DEFAULT_SENDER"),
                       body=mail.render_email("email/guests_waiting.txt", **context),
                       html=mail.render_email("email/guests_waiting.html", **context))


def push_payload(wave: Wave, person: Recipient) -> dict:
    """What the service worker (static/push-worker.js) shows: a title, a line, where a click
    goes, and a tag per room so a newer notification replaces the older one."""
    names, more = _names(wave)
    with force_locale(_language()):
        title = ngettext("%(name)s is waiting", "%(num)d guests are waiting", len(wave.guests),
                         name=names[0])
        body = ", ".join(names) + (" " + gettext("and %(n)s more", n=more) if more else "")
        body = gettext("%(names)s — in “%(room)s”", names=body,
                       room=mail.header_safe(wave.room.title))
    return {"title": title, "body": body, "url": person.url,
            "tag": f"guestgate-room-{wave.room.id}"}


def push_to(user_id: int, payload: dict) -> int:
    """Push `payload` to every browser the account subscribed; a subscription the push service
    says is gone is removed. Returns how many took it."""
    delivered = 0
    for subscription in PushSubscription.select().where(PushSubscription.user == user_id):
        result = webpush.send(subscription.endpoint, subscription.p256dh, subscription.auth,
                              payload)
        if result.gone:
            PushSubscription.delete().where(PushSubscription.id == subscription.id).execute()
            continue
        PushSubscription.update(
            last_sent_at=timeutil.utcnow() if result.ok else subscription.last_sent_at,
            last_error="" if result.ok else result.error[:500]).where(
            PushSubscription.id == subscription.id).execute()
        if not result.ok:
            current_app.logger.warning("push to subscription %s failed: %s", subscription.id,
                                       result.error)
        delivered += result.ok
    return delivered
