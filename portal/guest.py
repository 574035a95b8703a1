"""The guest's path: the lobby of a shared link (/g/TOKEN) or a personal invitation (/i/TOKEN),
then the guest's place in the room (/s/ROOM) — countdown, waiting, the room itself or a denial —
decided again on every full page load. After the first visit the guest continues on /s/ROOM:
the token stays out of the address bar, the cookie carries them."""

import math
import random
import time
import zlib

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from . import access, decision, emails, host, join, mail, meetings, pagecache, tokens
from .access import Door
from .attachments import send_attachment
from .audit import Actor
from .decision import REASONS
from .extensions import limiter
from .forms import LobbyForm
from .models import Attachment, Invitation, Participant, Room
from .prepared import prepared
from .ratelimit import count_only_when
from .services import hosting
from .timeutil import utcnow
from .web import answer, is_htmx, polled_section, public_url

bp = Blueprint("guest", __name__)

ROLE_NAMES = {"viewer": _l("Viewer"), "moderator": _l("Moderator"), "speaker": _l("Speaker")}
ROLE_FEATURES = {
    "viewer": _l("You can watch the live session, chat, ask in Q&A and answer interactions."),
    "moderator": _l("You can moderate Q&A and use the backchannel."),
    "speaker": _l("You can use Q&A and the backchannel."),
}


@bp.context_processor
def _roles():
    return {"role_names": ROLE_NAMES, "role_features": ROLE_FEATURES, "queue_place": queue_place}


# The waiting page names a place in line up to this one; behind it, "At least 100 … ahead".
QUEUE_COUNTED = 100


def queue_place(position: int) -> str:
    """The waiting page's "You're 3rd in line", with the ordinal each language writes."""
    if position <= 1:
        return gettext("You're next in line.")
    if position > QUEUE_COUNTED:
        return gettext("At least %(n)s people are ahead of you in line.", n=QUEUE_COUNTED)
    if str(get_locale()).startswith("de"):
        place = f"{position}."
    else:
        suffix = "th" if 10 <= position % 100 <= 20 else \
            {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
        place = f"{position}{suffix}"
    return gettext("You're %(place)s in line.", place=place)

# How often a waiting page asks whether anything changed: POLL_WAITING_SECONDS and
# POLL_COUNTDOWN_SECONDS (portal/config.py). A countdown also asks once, just after the start:
# htmx's `load delay:` counts from the page's arrival, so the device's clock doesn't matter.
# Only within a day of the start: longer timers overflow in browsers, and the poll is enough.
CHECK_AT_START_WITHIN = 24 * 60 * 60
CHECK_AT_START_MARGIN = 0.2
# A countdown far from its start asks seldom: every 1/20 of the time left, at most every
# POLL_COUNTDOWN_LONGEST_SECONDS, never more often than POLL_COUNTDOWN_SECONDS. A change (access
# off, link deleted, the start moved) still reaches the page within the interval it was told.
# At the start, each page asks at a random moment within START_SPREAD_SECONDS, so a crowd isn't
# answered all in one instant.
COUNTDOWN_POLL_FRACTION = 20


def countdown_poll(starts_in: float, shortest: float, longest: float) -> float:
    return max(shortest, min(longest, round(starts_in / COUNTDOWN_POLL_FRACTION)))


# How many of a room's guests wait or are inside, as last counted (per process): the intervals
# below are hints, and polls ask them thousands of times a second.
_crowds: dict[tuple[int, str], tuple[float, int]] = {}
CROWD_COUNTED_FOR = 2.0  # seconds


def _crowd(room_id: int, status: str) -> int:
    now = time.monotonic()
    seen = _crowds.get((room_id, status))
    if seen is None or now - seen[0] > CROWD_COUNTED_FOR:
        if len(_crowds) > 10_000:
            _crowds.clear()
        seen = _crowds[(room_id, status)] = (now, access.crowd(room_id, status))
    return seen[1]


def crowd_poll(room_id: int, status: str, config=None) -> float:
    """How often a page of a guest with this status asks, so that a crowd's pages together ask
    at most ROOM_POLLS_PER_SECOND: 10,000 waiting or inside at 5 s would be 2,000 requests a
    second, all a small server can answer. A change still reaches each page within the
    interval it was told. (`config`: the app's, where there is no app context: quickpoll.)"""
    config = config or current_app.config
    crowd = _crowd(room_id, status)
    return max(config["POLL_WAITING_SECONDS"], round(crowd / config["ROOM_POLLS_PER_SECOND"]))


def poll_to_swap(room_id: int, position: int, place: str | None, every: str | None,
                 config=None) -> float | None:
    """The interval of a new poll for a waiting page, or None while the page's poll is right:
    swapped when its place in line moved, or the crowd grew or shrank so much that the interval
    it was told is off by half or more (pages that came early, when few waited, would otherwise
    ask every 5 s however many join them)."""
    due = waiting_poll(room_id, position, config)
    if str(position) != place:
        return due
    try:
        told = float(every)
    except (TypeError, ValueError):
        return due
    return None if due / 1.5 < told < due * 1.5 else due


@prepared
def _attachments(room_id):
    return Attachment.select().where(Attachment.room == room_id).order_by(Attachment.uploaded_at)


def waiting_poll(room_id: int, position: int, config=None) -> float:
    """A waiting page: every POLL_WAITING_SECONDS for those on the hosts' list (the first
    HOST_LIST_ROWS, whom a host may admit one by one); behind them, as the crowd allows."""
    config = config or current_app.config
    if position <= config["HOST_LIST_ROWS"]:
        return config["POLL_WAITING_SECONDS"]
    return crowd_poll(room_id, "waiting", config)


def _refresh(seconds: float) -> int:
    """The <noscript> meta refresh of a waiting page: whole seconds, at least one."""
    return max(1, math.ceil(seconds))


def denied_page(result: decision.Decision, door: Door | None, email: str = ""):
    # A lobby submission refused is announced (guest.denied); a GET of a dead link is not.
    access.record_denial(result, door, email, announce=request.method == "POST")
    reason = REASONS[result.reason]
    room = door.room if door is not None else None
    # Only the room's title, and only when the room still exists and guests could know it.
    title = room.title if room is not None and result.reason not in (
        "link_invalid", "room_unavailable") else None
    # Declined in the waiting room: a way out (Leave), as on the pages before it.
    leave_room = room if room is not None and result.reason == "not_admitted" else None
    return render_template("guest/denied.html", reason=reason, room_title=title,
                           leave_room=leave_room), reason.status


def _door_key() -> str:
    """What a lobby's limits count by: the link or invitation the token names — never the
    token's spelling, which an attacker can vary — or one shared bucket for invalid tokens."""
    kind = tokens.LINK if request.endpoint == "guest.link_lobby" else tokens.INVITE
    parsed = access.read_token(kind, request.view_args.get("token", ""))
    return f"{kind}:{parsed[0]}" if parsed else f"{kind}:invalid"


def _lobby_limit_key() -> str:
    return f"lobby:{_door_key()}"


def _email_match_key() -> str:
    return f"email-match:{_door_key()}"


def _is_email_mismatch(response) -> bool:
    return response.status_code == 403 and request.endpoint == "guest.invite_lobby"


def _hurts_the_link(response) -> bool:
    return response.status_code == 303 or _is_email_mismatch(response)


# A link's limit keeps only what can hurt — guests let in, wrong emails on an invitation — and
# gives back every other submission's hit (an empty form, a refusal, a 429): one client can't
# close a public link for everyone; its own address's limit counts all it sends.
count_only_when("lobby:", _hurts_the_link)


@bp.route("/g/<token>", methods=["GET", "POST"], endpoint="link_lobby")
@bp.route("/i/<token>", methods=["GET", "POST"], endpoint="invite_lobby")
def lobby(token: str):
    # Only submissions are limited; a GET (the whole audience opening the link) doesn't even
    # evaluate the limits.
    return _submitted_lobby(token) if request.method == "POST" else _lobby(token)


@limiter.limit(lambda: _config("LOBBY_LIMIT_PER_IP"))
@limiter.limit(lambda: _config("LOBBY_LIMIT_PER_LINK"), key_func=_lobby_limit_key)
# Wrong emails typed on one invitation: only mismatches count, so guessing is slow.
@limiter.limit(lambda: _config("EMAIL_MATCH_LIMIT"), key_func=_email_match_key,
               deduct_when=_is_email_mismatch)
def _submitted_lobby(token: str):
    return _lobby(token)


def _lobby(token: str):
    kind = tokens.LINK if request.endpoint == "guest.link_lobby" else tokens.INVITE
    door = access.open_door(kind, token)
    if door is None:
        return denied_page(decision.deny("link_invalid"), None)

    # Is this browser inside through this door already, or did it leave through it (and comes
    # back)? A GET asks now. A submission asks only when it would not enter: entering looks the
    # presence up itself, after claiming the use, where a second submission sent at the same
    # moment waits for the first — so a submission that enters looks its presence up once, not
    # twice.
    if request.method == "GET":
        inside = access.presence_through(door)
        if inside is not None:
            return _back_again(door, inside, token)

    def refuse(answer, form=None):
        """Any answer but entering (made only if it is the answer: a denial is recorded). The
        lobby form goes along as submitted, checked: agreeing to a newer text counts."""
        if request.method == "POST":
            inside = access.presence_through(door)
            if inside is not None:
                if form is None:
                    form = _lobby_form(door, _signed_in_as_invited(door))
                    form.validate_on_submit()
                return _back_again(door, inside, token, form)
        return answer()

    personal = door.invitation is not None
    ask_email = _asks_email(door)
    asks_consent = door.room.asks_consent

    result = access.decide_for(door)
    if result.outcome == decision.SIGN_IN:
        return refuse(lambda: (render_template("guest/sign_in_required.html", room=door.room,
                                               next_url=request.path), 401))
    if result.denied:
        return refuse(lambda: denied_page(result, door, _email_tried()))

    signed_in_as_invited = _signed_in_as_invited(door)
    # A signed-in invited user's sign-in is the proof of who they are: they enter without a
    # form, unless the host asks everyone to agree first.
    enters_without_form = signed_in_as_invited and not asks_consent
    if request.method == "GET" and not enters_without_form:
        form = None
        if signed_in_as_invited or (personal and not ask_email
                                    and current_user.is_authenticated):
            form = _lobby_form(door, signed_in_as_invited)
            form.name.data = current_user.name
        return _lobby_page(door, token, form)

    # A submission (or a signed-in invited user, whose sign-in is the proof): decide again with
    # what was typed, then consume one use atomically. The form (with the agreement, when the
    # room asks for it) is checked first: a refusal stores nothing and spends no use.
    form = None
    if enters_without_form:
        name = current_user.name or door.invitation.email.split("@")[0]
        email = door.invitation.email
    else:
        form = _lobby_form(door, signed_in_as_invited)
        valid = form.validate_on_submit()
        if asks_consent and _text_changed(form, door.room):
            return refuse(lambda: _lobby_page(door, token, form, status=409), form)
        if not valid:
            return refuse(lambda: _lobby_page(door, token, form, status=422), form)
        name = form.name.data
        email = form.email.data if "email" in form else door.invitation.email
    result = access.decide_for(door, email_typed=email)
    if result.denied:
        return refuse(lambda: _refused_submission(result, door, token, form, email), form)
    try:
        # The version agreed to is the one the page showed (just found to be the room's).
        access.enter(door, name, email,
                     consent_version=int(form.consent_version.data) if asks_consent else None)
    except access.UsedUp:
        return refuse(lambda: denied_page(decision.deny("link_used_up"), door, email), form)
    except access.NotAdmitted as refused:
        reason = refused.reason
        return refuse(lambda: denied_page(decision.deny(reason), door, email), form)
    return redirect(url_for("guest.place", room_id=door.room.id), 303)


def _signed_in_as_invited(door: Door) -> bool:
    return door.invitation is not None and current_user.is_authenticated \
        and current_user.email == door.invitation.email


def _back_again(door: Door, inside: Participant, token: str, form: LobbyForm | None = None):
    """Back again from the same browser: no second click, no form. A browser that left through
    this door (Leave, or a host's Allow again) is the same guest coming back: it enters again
    under the name and email it had, spending no use (access.enter), and goes where anyone
    entering now would (the waiting room where guests wait; a host's Move or Deny still holds).
    Unless the host's text to agree to is newer than the one this guest agreed to: then the
    lobby asks again (a guest inside stays inside meanwhile; nobody is turned out by a changed
    text), and agreeing there (`form`, submitted and checked) records it without a use."""
    result = access.decide_for(door, participant=inside, email_typed=inside.email
                               if inside.status == "left" else None)
    if result.outcome == decision.SIGN_IN:
        return render_template("guest/sign_in_required.html", room=door.room,
                               next_url=request.path), 401
    if result.denied:
        return denied_page(result, door, inside.email)
    room = door.room
    agrees_again = room.asks_consent and inside.consent_version != room.consent_version
    agreed_now = agrees_again and form is not None and form.is_submitted() \
        and not form.errors and "consent" in form and bool(form.consent.data)
    if agrees_again and not agreed_now:
        if form is None:
            form = _lobby_form(door, signed_in_as_invited=_signed_in_as_invited(door))
            form.name.data = inside.name
            if "email" in form:
                form.email.data = inside.email  # what this browser typed itself
        status = 409 if _text_changed(form, door.room) else 422 if form.errors else 200
        return _lobby_page(door, token, form, status=status,
                           consent_again=inside.consent_version is not None)
    if agreed_now or inside.status == "left":
        consent = {}
        if agreed_now:
            consent = {"consent_version": room.consent_version}
        elif room.asks_consent:  # the agreement they gave still stands
            consent = {"consent_version": inside.consent_version,
                       "consented_at": inside.consented_at}
        try:
            access.enter(door, inside.name, inside.email, **consent)
        except access.UsedUp:
            return denied_page(decision.deny("link_used_up"), door, inside.email)
        except access.NotAdmitted as refused:
            return denied_page(decision.deny(refused.reason), door, inside.email)
    return redirect(url_for("guest.place", room_id=room.id), 303)


def _text_changed(form: LobbyForm, room: Room) -> bool:
    """Whether a submission agreed to another text than the host's now: the form sends back
    the version its page showed (none at all, and what the guest read isn't known). If so, the
    box is unticked and says why: the page shows the new text, to be read and agreed to."""
    if request.method != "POST" or not form.consent.data \
            or form.consent_version.data == str(room.consent_version):
        return False
    form.consent.data = False
    form.consent.errors = [gettext("The host changed the text to agree to. "
                                   "Please read it again.")]
    return True


def _refused_submission(result: decision.Decision, door: Door, token: str, form, email: str):
    if result.reason == "email_mismatch":
        # Said on the lobby itself, so the guest can correct it; never shows the invited email.
        access.record_denial(result, door, email, announce=True)
        mismatch = REASONS[result.reason]
        form.email.errors = [gettext(mismatch.title) + "."]
        return _lobby_page(door, token, form, status=403)
    return denied_page(result, door, email)


def _email_tried() -> str:
    """The address a refused lobby submission carried, for the host's denial panel."""
    raw = request.form.get("email", "") if request.method == "POST" else ""
    try:
        return emails.normalize(raw)
    except emails.InvalidEmail:
        return ""


def _config(key: str) -> str:
    return current_app.config[key]


def _asks_email(door: Door) -> bool:
    return _asks_email_in(door.room, personal=door.invitation is not None)


def _asks_email_in(room: Room, personal: bool) -> bool:
    return not personal or room.require_email_match


def _lobby_form(door: Door, signed_in_as_invited: bool = False) -> LobbyForm:
    form = _new_lobby_form(door.room, door.invitation is not None)
    if signed_in_as_invited and "email" in form:
        del form.email  # their account is the proof
    return form


def _new_lobby_form(room: Room, personal: bool) -> LobbyForm:
    form = LobbyForm()
    if not _asks_email_in(room, personal):
        del form.email  # Socialive's way: the personal link itself is the proof
    if not room.asks_consent:
        del form.consent, form.consent_version
    return form


def _lobby_page(door: Door, token: str, form: LobbyForm | None = None, status: int = 200,
                consent_again: bool = False):
    """The lobby with `form` (its errors, what was typed), or with a new, empty form."""
    action = url_for("guest.link_lobby" if door.link is not None else "guest.invite_lobby",
                     token=token)
    context = {"room": door.room, "action": action, "personal": door.invitation is not None,
               "consent_again": consent_again}
    if form is None and pagecache.applies():
        # The empty form is made from the keyed context alone, and only when the page is
        # rendered: building it costs more than finding the kept page.
        return pagecache.render("guest/lobby.html", context, derived={
            "form": lambda kept: _new_lobby_form(kept["room"], kept["personal"])})
    return render_template("guest/lobby.html", form=form or _lobby_form(door), **context), status


def _presence_or_none(room_id: int):
    participant, door = access.current_presence(room_id)
    if participant is None:
        return None, None, None
    return participant, door, access.decide_presence(participant, door)


@bp.get("/s/<int:room_id>")
def place(room_id: int):
    participant, door, result = _presence_or_none(room_id)
    if participant is None:
        return render_template("guest/not_inside.html"), 403
    if result.denied:
        return denied_page(result, door, participant.email)
    room = door.room
    position = access.queue_position(room.id, participant.id, participant.created_at,
                                     QUEUE_COUNTED) \
        if result.outcome == decision.WAITING else None
    context = {"room": room, "participant": participant, "position": position,
               "state": page_state(result, room.host_message, participant.role)}
    if result.outcome == decision.COUNTDOWN:
        starts_in = (room.starts_at - utcnow()).total_seconds()
        poll = countdown_poll(starts_in, current_app.config["POLL_COUNTDOWN_SECONDS"],
                              current_app.config["POLL_COUNTDOWN_LONGEST_SECONDS"])
        spread = random.uniform(0, current_app.config["START_SPREAD_SECONDS"])
        check_at = (starts_in + CHECK_AT_START_MARGIN + spread
                    if starts_in < CHECK_AT_START_WITHIN else None)
        return render_template("guest/countdown.html", refresh=_refresh(min(starts_in, poll)),
                               poll=poll, check_at_start=check_at, **context)
    if result.outcome == decision.WAITING:
        poll = waiting_poll(room.id, position)
        return render_template("guest/waiting.html", refresh=_refresh(poll), poll=poll,
                               **context)
    attachments = _attachments.all(room_id=room.id)
    context["can_join"] = meetings.can_join(current_app.config, room.platform, room.join_url)
    if participant.role == "moderator":
        context.update(host.waiting_context(room, MODERATOR_ENDPOINTS, by_owner=False))
        context.update(host.inside_context(room, MODERATOR_INSIDE_ENDPOINTS, by_owner=False,
                                             me=participant))
    # The room page polls too: a host's Remove, Move to waiting room or change of role, or
    # the room deleted, reaches the guest within one poll; what becomes of their door (access
    # off, the link deleted, expired) waits for their next page load.
    return render_template("guest/room.html", attachments=attachments,
                           poll=crowd_poll(room.id, "admitted"), **context)


def page_state(result: decision.Decision, host_message: str, role: str | None = None) -> str:
    """What a guest page shows, in one short word: the outcome (or reason); a role other than
    viewer inside; and a checksum of the host's message, so a new message or role also makes
    the page reload. (The place in line is not part of it: see `status`.)"""
    state = result.reason or result.outcome
    if result.outcome == decision.ENTER and role and role != "viewer":
        state += f".{role}"
    if host_message and result.outcome in (decision.COUNTDOWN, decision.WAITING):
        state += f".{zlib.crc32(host_message.encode()):08x}"
    return state


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
    presence = access.presence_facts(room_id)
    position = None
    if presence is None:
        state = "gone"
    else:
        result = presence.decide_polled()
        state = page_state(result, presence.host_message, presence.role)
        if result.outcome == decision.WAITING:
            position = access.queue_position(room_id, presence.participant_id,
                                             presence.created_at, QUEUE_COUNTED)
    if state != request.args.get("state"):
        response = make_response(state, 200)
        response.headers["HX-Refresh"] = "true"
        response.mimetype = "text/plain"
    elif position is not None and (poll := poll_to_swap(
            room_id, position, request.args.get("place"), request.args.get("every"))) is not None:
        response = make_response(render_template(
            "guest/_queue_place.html", room={"id": room_id}, state=state, position=position,
            poll=poll))
    else:
        response = make_response("", 204)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/s/<int:room_id>/calendar.ics")
def calendar(room_id: int):
    """"Add to calendar": the session as an .ics file, for anyone this page would let in."""
    participant, _door, result = _presence_or_none(room_id)
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
    participant, _door, result = _presence_or_none(room_id)
    if participant is None or result.outcome != decision.ENTER:
        return redirect(url_for("guest.place", room_id=room_id), 303)
    room = participant.room
    attendee = meetings.Attendee(identity=f"participant-{participant.id}",
                                 name=participant.name, email=participant.email,
                                 role=participant.role, email_source=participant.email_source)
    return join.to_meeting(room, attendee, back=url_for("guest.place", room_id=room.id),
                           on_minted=lambda: _joined_live(room, participant))


def _joined_live(room: Room, participant: Participant) -> None:
    """guest.joined_live: the credential was made (no other change to write with it)."""
    from .db import database
    from .services import webhooks

    with database.atomic():
        webhooks.guest_event("guest.joined_live", room, participant, platform=room.platform)


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
    participant, _door, result = _presence_or_none(room_id)
    if participant is None or result.outcome != decision.ENTER:
        abort(403)
    item = Attachment.get_or_none((Attachment.id == attachment_id)
                                  & (Attachment.room == room_id))
    if item is None:
        abort(404)
    return send_attachment(item)


# --- invited moderators admit waiting guests from the room page -------------------------------

MODERATOR_ENDPOINTS = {"poll": "guest.moderator_waiting", "admit": "guest.moderator_admit",
                       "deny": "guest.moderator_deny", "admit_all": "guest.moderator_admit_all"}


def _moderator(room_id: int) -> Participant:
    """This browser's presence, if it is inside the room as a moderator (decided again now)."""
    participant, _door, result = _presence_or_none(room_id)
    if participant is None or result.outcome != decision.ENTER \
            or participant.role != "moderator":
        abort(403)
    return participant


def _to_place(room_id: int, anchor: str):
    """The moderator's room page, at their section: what a plain load or a refused plain form
    of it gets (the page is decided again there)."""
    return redirect(url_for("guest.place", room_id=room_id, _anchor=anchor), 303)


def _moderator_list(moderator: Participant, **overrides) -> dict:
    return {"room": moderator.room,
            **host.waiting_context(moderator.room, MODERATOR_ENDPOINTS, by_owner=False,
                                      **overrides)}


@bp.get("/s/<int:room_id>/waiting")
def moderator_waiting(room_id: int):
    return polled_section("host/_waiting.html", _moderator_list(_moderator(room_id)),
                          "waiting_fingerprint", lambda: _to_place(room_id, "waiting-room"))


def _moderator_decides(room_id: int, participant_id: int | None, status: str):
    moderator = _moderator(room_id)
    room = moderator.room
    by = Actor.of_guest(moderator)
    if participant_id is None:
        guests = None  # everyone waiting
        done = hosting.admit(room, None, by)
    else:
        guest = hosting.participant_of(room, participant_id)
        if guest is None:
            abort(404)
        guests = [guest]
        decide = hosting.admit if status == "admitted" else hosting.deny
        done = decide(room, [guest.id], by)
    if participant_id is None:
        notice = gettext("Admitted %(n)s.", n=len(done)) if done \
            else gettext("Nobody is waiting.")
    elif not done:
        notice = gettext("%(name)s is no longer waiting.", name=guests[0].name)
    elif status == "admitted":
        notice = gettext("%(name)s was admitted.", name=guests[0].name)
    else:
        notice = gettext("%(name)s was denied entry.", name=guests[0].name)
    # web.answer's rule; admitting is never refused, so the page is never rendered here.
    def the_list():
        return _moderator_list(moderator, waiting_notice=notice)

    return answer("host/_waiting.html", the_list, "host/_waiting.html", the_list,
                  back=url_for("guest.place", room_id=room_id, _anchor="waiting-room"),
                  flashes=[("success", notice)])


@bp.post("/s/<int:room_id>/waiting/<int:participant_id>/admit")
def moderator_admit(room_id: int, participant_id: int):
    return _moderator_decides(room_id, participant_id, "admitted")


@bp.post("/s/<int:room_id>/waiting/<int:participant_id>/deny")
def moderator_deny(room_id: int, participant_id: int):
    return _moderator_decides(room_id, participant_id, "rejected")


@bp.post("/s/<int:room_id>/waiting/admit-all")
def moderator_admit_all(room_id: int):
    return _moderator_decides(room_id, None, "admitted")


# --- ... and manage who is inside: In the room --------------------------------------------------

MODERATOR_INSIDE_ENDPOINTS = {"poll": "guest.moderator_inside",
                              "remove": "guest.moderator_remove",
                              "move": "guest.moderator_move", "role": "guest.moderator_role",
                              "allow": "guest.moderator_allow"}


def _moderator_inside(moderator: Participant, with_waiting: bool = False, **overrides) -> dict:
    room = moderator.room
    context = {"room": room, **host.inside_context(room, MODERATOR_INSIDE_ENDPOINTS,
                                                     by_owner=False, me=moderator, **overrides)}
    if with_waiting:  # after Move: the waiting room out of band, where the page shows it
        context.update(host.waiting_context(room, MODERATOR_ENDPOINTS, by_owner=False),
                       waiting_oob=True)
    return context


@bp.get("/s/<int:room_id>/inside")
def moderator_inside(room_id: int):
    return polled_section("host/_inside.html", _moderator_inside(_moderator(room_id)),
                          "inside_fingerprint", lambda: _to_place(room_id, "in-the-room"))


_GUEST = "/s/<int:room_id>/inside/<int:participant_id>"


@bp.post(f"{_GUEST}/remove", endpoint="moderator_remove", defaults={"action": "remove"})
@bp.post(f"{_GUEST}/move", endpoint="moderator_move", defaults={"action": "move"})
@bp.post(f"{_GUEST}/role", endpoint="moderator_role", defaults={"action": "role"})
@bp.post(f"{_GUEST}/allow", endpoint="moderator_allow", defaults={"action": "allow"})
def moderator_acts(room_id: int, participant_id: int, action: str):
    """The owner's In the room controls (hosting.act), for an invited moderator."""
    moderator = _moderator(room_id)
    guest = hosting.participant_of(moderator.room, participant_id)
    if guest is None:
        abort(404)
    role = host.posted_role() if action == "role" else None
    key = hosting.act(action, moderator.room, guest, Actor.of_guest(moderator), role)
    text = host.notice(key, False, name=guest.name, role=ROLE_NAMES.get(role))
    status = 422 if key == hosting.REFUSED else 200

    def the_section():
        return _moderator_inside(moderator, with_waiting=key == "moved", inside_notice=text,
                                 inside_error=status >= 400)

    if status >= 400 and not is_htmx():
        flash(text, "error")  # the room page is decided again; the message goes with it
        return _to_place(room_id, "in-the-room")
    return answer("host/_inside.html", the_section, "host/_inside.html", the_section,
                  back=url_for("guest.place", room_id=room_id, _anchor="in-the-room"),
                  status=status, flashes=[("success", text)])


@bp.get("/my-sessions")
@login_required
def my_sessions():
    """The rooms a signed-in person is invited to, with Join."""
    now = utcnow()
    invitations = list(
        Invitation.select(Invitation, Room).join(Room)
        .where((Invitation.user == current_user.id) & Invitation.removed_at.is_null()
               & Room.deleted_at.is_null() & (Room.ends_at > now))
        .order_by(Room.starts_at))
    secret_keys = _config("SECRET_KEYS")
    sessions = [(inv, tokens.make_token(secret_keys, tokens.INVITE, inv.id, inv.version))
                for inv in invitations]
    return render_template("guest/my_sessions.html", sessions=sessions, now=now)
