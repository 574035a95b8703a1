"""The guest's place in the room (/s/ROOM): the countdown, the waiting page or the room itself,
decided again on every load; the poll those pages make (portal/poll.py decides it); Add to
calendar, Join the live session, Leave, and the room's files."""

import math
import random
import time

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext

from .. import (
    access,
    decision,
    host,
    host_alerts,
    join,
    mail,
    meetings,
    outbox,
    pagecache,
    poll,
    push,
)
from ..attachments import send_attachment
from ..decision import REASONS
from ..extensions import limiter
from ..models import Attachment, Participant
from ..prepared import prepared
from ..timeutil import utcnow
from ..web import public_url
from . import bp, denied_page, presence_or_none
from .moderator import MODERATOR_ENDPOINTS, MODERATOR_INSIDE_ENDPOINTS

# How often a waiting page asks whether anything changed: POLL_WAITING_SECONDS and
# POLL_COUNTDOWN_SECONDS (portal/config.py). A countdown also asks once, just after the start:
# htmx's `load delay:` counts from the page's arrival, so the device's clock doesn't matter.
# Only within a day of the start: longer timers overflow in browsers, and the poll is enough.
CHECK_AT_START_WITHIN = 24 * 60 * 60
CHECK_AT_START_MARGIN = 0.2
# At the start, each page asks at a random moment within START_SPREAD_SECONDS, so a crowd isn't
# answered all in one instant.


@prepared
def _attachments(room_id):
    return Attachment.select().where(Attachment.room == room_id).order_by(Attachment.uploaded_at)


def _refresh(seconds: float) -> int:
    """The <noscript> meta refresh of a waiting page: whole seconds, at least one."""
    return max(1, math.ceil(seconds))


@bp.get("/s/<int:room_id>")
def place(room_id: int):
    made = time.time()  # before reading: news published after this may be news to the page
    participant, door, result = presence_or_none(room_id)
    if participant is None:
        return render_template("guest/not_inside.html"), 403
    if result.denied:
        return denied_page(result, door, participant.email, participant.host_note)
    room = door.room
    position = access.queue_position(room.id, participant.id, participant.created_at,
                                     poll.QUEUE_COUNTED) \
        if result.outcome == decision.WAITING else None
    # What every guest of the room sees alike (`shared`: the shell, kept per change of the room,
    # role and language) and what is this guest's own (rendered for each request).
    own = {"participant": participant, "position": position,
           "state": poll.page_state(result, room.host_message, participant.role),
           **_push_context(room.id, participant.id, made)}
    if result.outcome == decision.COUNTDOWN:
        starts_in = (room.starts_at - utcnow()).total_seconds()
        every = poll.countdown_poll(starts_in, current_app.config["POLL_COUNTDOWN_SECONDS"],
                                    current_app.config["POLL_COUNTDOWN_LONGEST_SECONDS"])
        spread = random.uniform(0, current_app.config["START_SPREAD_SECONDS"])
        check_at = (starts_in + CHECK_AT_START_MARGIN + spread
                    if starts_in < CHECK_AT_START_WITHIN else None)
        return pagecache.render_shell("guest/countdown.html", {"room": room}, {
            **own, "refresh": _refresh(min(starts_in, every)), "poll": every,
            "check_at_start": check_at})
    if result.outcome == decision.WAITING:
        every = poll.waiting_poll(current_app, room.id, position)
        return pagecache.render_shell("guest/waiting.html", {"room": room}, {
            **own, "refresh": _refresh(every), "poll": every})
    shared = {"room": room, "role": participant.role,
              "attachments": _attachments.all(room_id=room.id),
              "can_join": meetings.can_join(current_app.config, room.platform, room.join_url)}
    moderating = participant.role == "moderator"
    if moderating:  # the live lists: nobody else's, so this page isn't kept
        if room.require_approval:
            host_alerts.host_seen(room.id)  # the page shows the waiting list
        own.update(host.waiting_context(room, MODERATOR_ENDPOINTS, by_owner=False))
        own.update(host.inside_context(room, MODERATOR_INSIDE_ENDPOINTS, by_owner=False,
                                       me=participant))
    # The room page polls too: a host's Remove, Move to waiting room or change of role, or
    # the room deleted, reaches the guest within one poll; what becomes of their door (access
    # off, the link deleted, expired) waits for their next page load.
    own["poll"] = poll.crowd_poll(current_app, room.id, "admitted")
    return pagecache.render_shell("guest/room.html", shared, own, keep=not moderating)


def _push_context(room_id: int, participant_id: int, made: float) -> dict:
    """The page's channels on the push server, if there is one (guest/_push.html). nchan
    first gives a new subscriber each channel's last message (kept a minute,
    deploy/nginx.conf), so news published between this page's making and its connecting isn't
    missed; the page ignores what was published before `made` (both by the app's clocks)."""
    url = push.subscribe_url(current_app.config, room_id, participant_id)
    if url is None:
        return {}
    return {"push_url": url, "push_since": int(made * 1000)}


@bp.get("/s/<int:room_id>/status")
@limiter.exempt
def status(room_id: int):
    """Tiny answer for polling pages: 204 while nothing changed; otherwise HX-Refresh makes the
    page load again, and the full page load decides. A guest seated in the room is left there
    whatever becomes of their door, until they load the page themselves (see
    access.PresenceFacts.decide_polled). When only a waiting guest's place in line
    moved (every Admit moves everyone behind), the new place is swapped in, with the poll that
    knows it (and the interval for the crowd now): a reload of every waiting page on every
    Admit would cost a page each."""
    # The hottest route: decided from plain values read in one narrow query.
    told = poll.answer(current_app, room_id, access.presence_facts(room_id),
                       request.args.get("state"), request.args.get("place"),
                       request.args.get("every"))
    if told.changed:
        response = make_response(told.state, 200)
        response.headers["HX-Refresh"] = "true"
        response.mimetype = "text/plain"
    elif told.position is not None:
        response = make_response(render_template(
            "guest/_queue_place.html", room={"id": room_id}, state=told.state,
            position=told.position, poll=told.poll))
    else:
        response = make_response("", 204)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/s/<int:room_id>/calendar.ics")
def calendar(room_id: int):
    """"Add to calendar": the session as an .ics file, for anyone this page would let in."""
    participant, _door, result = presence_or_none(room_id)
    if participant is None or result.denied:
        abort(403)
    room = participant.room
    place_url = public_url("guest.place", room_id=room.id)
    body = mail.icalendar_event(uid=f"guestgate-room-{room.id}@{mail.uid_host()}",
                                title=room.title, starts_at=room.starts_at,
                                ends_at=room.ends_at, description=room.description,
                                url=place_url, zone=room.timezone)
    response = make_response(body)
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = 'attachment; filename="session.ics"'
    return response


@bp.get("/s/<int:room_id>/join")
def join_live(room_id: int):
    """The hand-off: decided again, then off to the meeting platform with a credential made
    for this person just now. Nobody the door turns away gets one."""
    participant, _door, result = presence_or_none(room_id)
    if participant is None or result.outcome != decision.ENTER:
        return redirect(url_for("guest.place", room_id=room_id), 303)
    room = participant.room
    attendee = meetings.Attendee(identity=f"participant-{participant.id}",
                                 name=participant.name, email=participant.email,
                                 role=participant.role, email_source=participant.email_source)
    return join.to_meeting(room, attendee, back=url_for("guest.place", room_id=room.id),
                           on_minted=lambda: _joined_live(room, participant))


def _joined_live(room, participant) -> None:
    """guest.joined_live: the credential was made; the first time is kept for attendance."""
    from ..db import database

    with database.atomic():
        Participant.update(joined_live_at=utcnow()).where(
            (Participant.id == participant.id) & Participant.joined_live_at.is_null()).execute()
        outbox.guest_event("guest.joined_live", room, participant, platform=room.platform)


@bp.post("/s/<int:room_id>/leave")
def leave(room_id: int):
    """Leave, from the room, the countdown, the waiting room or "The host didn't admit you"
    (a plain form, so it works without JavaScript)."""
    participant, _door = access.current_presence(room_id)
    if participant is not None and participant.status == "rejected":
        # A denied or removed guest's refusal stays on record, and their link won't bring
        # them back: the page says why instead.
        reason = "removed" if participant.removed_at is not None else "not_admitted"
        return redirect(url_for("guest.left", refused=reason), 303)
    if participant is not None:
        access.leave(participant)
    flash(gettext("You left the session. To come back, open your link again."), "info")
    return redirect(url_for("guest.left"), 303)


@bp.get("/left")
def left():
    refused = request.args.get("refused")
    return render_template("guest/left.html", refused=REASONS[refused] if refused in (
        "not_admitted", "removed") else None)


@bp.get("/s/<int:room_id>/attachments/<int:attachment_id>")
def attachment(room_id: int, attachment_id: int):
    """Downloads only for admitted participants; checked on every download."""
    participant, _door, result = presence_or_none(room_id)
    if participant is None or result.outcome != decision.ENTER:
        abort(403)
    item = Attachment.get_or_none((Attachment.id == attachment_id)
                                  & (Attachment.room == room_id))
    if item is None:
        abort(404)
    return send_attachment(item)
