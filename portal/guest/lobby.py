"""The lobby of a shared link (/g/TOKEN) or a personal invitation (/i/TOKEN): name and email
(and the host's text to agree to), checked, decided, and one use of the link spent on entry —
never on a GET, which mail scanners and link previews make."""

from dataclasses import dataclass

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import access, decision, emails, pagecache, tokens
from ..access import Door
from ..decision import REASONS
from ..extensions import limiter
from ..forms import LobbyForm
from ..models import Participant, Room
from ..ratelimit import count_only_when
from . import bp, denied_page


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


@dataclass(frozen=True)
class Refusal:
    """Any answer of the lobby but entering, described — and made only if it is the answer
    (a denial page records the denial): a browser already inside through this door is sent
    back to its place instead. `kind`: sign_in, form (`status`: 409 the host's text changed,
    422 the form's errors) or denied (`result`, the `email` tried, a host's `note`)."""
    kind: str
    status: int = 0
    result: decision.Decision | None = None
    email: str = ""
    note: str | None = None  # a host's message with their Deny


def _lobby(token: str):
    kind = tokens.LINK if request.endpoint == "guest.link_lobby" else tokens.INVITE
    door = access.open_door(kind, token)
    if door is None:
        return denied_page(decision.deny("link_invalid"), None)
    # Is this browser inside through this door already, or did it leave through it (and comes
    # back)? A GET asks now. A submission asks only when it would not enter: entering looks the
    # presence up itself, after claiming the use, where a second submission sent at the same
    # moment waits for the first — so a submission that enters looks its presence up once.
    if request.method == "GET" and (inside := access.presence_through(door)) is not None:
        return _back_again(door, inside, token)

    # What was typed: a submission's form, checked first (a refusal stores nothing and spends
    # no use) — or nothing at all for a signed-in invited user, whose sign-in is the proof of
    # who they are (unless the host asks everyone to agree first).
    signed_in_as_invited = _signed_in_as_invited(door)
    enters_without_form = signed_in_as_invited and not door.room.asks_consent
    form, name, email, form_status = None, None, None, 0
    if enters_without_form:
        name = current_user.name or door.invitation.email.split("@")[0]
        email = door.invitation.email
    elif request.method == "POST":
        form = _lobby_form(door, signed_in_as_invited)
        valid = form.validate_on_submit()
        if door.room.asks_consent and _text_changed(form, door.room):
            form_status = 409
        elif not valid:
            form_status = 422
        else:
            name = form.name.data
            email = form.email.data if "email" in form else door.invitation.email

    # One decision, with the email if one was given; then, on a submission, one use claimed.
    result = access.decide_for(door, email_typed=email)
    if result.outcome == decision.SIGN_IN:
        refusal = Refusal("sign_in")
    elif result.denied:
        refusal = Refusal("denied", result=result, email=email or _email_tried())
    elif form_status:
        refusal = Refusal("form", status=form_status)
    elif request.method == "GET" and not enters_without_form:
        return _lobby_page(door, token, _prefilled_form(door, signed_in_as_invited))
    else:
        refusal = _enter(door, form, name, email)
        if refusal is None:
            return redirect(url_for("guest.place", room_id=door.room.id), 303)

    if request.method == "POST" and (inside := access.presence_through(door)) is not None:
        if form is None:  # the lobby form goes along as submitted, checked
            form = _lobby_form(door, signed_in_as_invited)
            form.validate_on_submit()
        return _back_again(door, inside, token, form)
    return _refused(door, token, form, refusal)


def _enter(door: Door, form: LobbyForm | None, name: str, email: str) -> Refusal | None:
    """In: one use claimed, the presence made (access.enter); or why not."""
    try:
        # The version agreed to is the one the page showed (just found to be the room's).
        access.enter(door, name, email, consent_version=int(form.consent_version.data)
                     if door.room.asks_consent else None)
    except access.UsedUp:
        return Refusal("denied", result=decision.deny("link_used_up"), email=email)
    except access.NotAdmitted as refused:
        return Refusal("denied", result=decision.deny(refused.reason), email=email,
                       note=refused.note)
    return None


def _refused(door: Door, token: str, form: LobbyForm | None, refusal: Refusal):
    if refusal.kind == "sign_in":
        return render_template("guest/sign_in_required.html", room=door.room,
                               next_url=request.path), 401
    if refusal.kind == "form":
        return _lobby_page(door, token, form, status=refusal.status)
    if refusal.result.reason == "email_mismatch" and form is not None:
        # Said on the lobby itself, so the guest can correct it; never shows the invited email.
        access.record_denial(refusal.result, door, refusal.email, announce=True)
        form.email.errors = [gettext(REASONS["email_mismatch"].title) + "."]
        return _lobby_page(door, token, form, status=403)
    return denied_page(refusal.result, door, refusal.email, refusal.note)


def _prefilled_form(door: Door, signed_in_as_invited: bool) -> LobbyForm | None:
    """The lobby's form with the signed-in person's name, for invited people who are signed in
    (None: the lobby's new, empty form)."""
    if not (signed_in_as_invited or (door.invitation is not None and not _asks_email(door)
                                     and current_user.is_authenticated)):
        return None
    form = _lobby_form(door, signed_in_as_invited)
    form.name.data = current_user.name
    return form


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
        return denied_page(result, door, inside.email, inside.host_note)
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
            return denied_page(decision.deny(refused.reason), door, inside.email, refused.note)
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
    return _asks_email_in(door.room, personal=door.invitation is not None,
                          proven=_email_proven(door))


def _email_proven(door: Door) -> bool:
    """A registrant's personal link: the confirmation link proved the address already."""
    return door.invitation is not None and door.invitation.email_confirmed


def _asks_email_in(room: Room, personal: bool, proven: bool = False) -> bool:
    return not personal or (room.require_email_match and not proven)


def _lobby_form(door: Door, signed_in_as_invited: bool = False) -> LobbyForm:
    form = _new_lobby_form(door.room, door.invitation is not None, _email_proven(door))
    if signed_in_as_invited and "email" in form:
        del form.email  # their account is the proof
    return form


def _new_lobby_form(room: Room, personal: bool, proven: bool = False) -> LobbyForm:
    form = LobbyForm()
    if not _asks_email_in(room, personal, proven):
        # Socialive's way (the personal link itself is the proof), or a registrant's link
        del form.email
    if not room.asks_consent:
        del form.consent, form.consent_version
    return form


def _lobby_page(door: Door, token: str, form: LobbyForm | None = None, status: int = 200,
                consent_again: bool = False):
    """The lobby with `form` (its errors, what was typed), or with a new, empty form."""
    action = url_for("guest.link_lobby" if door.link is not None else "guest.invite_lobby",
                     token=token)
    context = {"room": door.room, "action": action, "personal": door.invitation is not None,
               "email_proven": _email_proven(door),
               "consent_again": consent_again}
    if form is None and pagecache.applies():
        # The empty form is made from the keyed context alone, and only when the page is
        # rendered: building it costs more than finding the kept page.
        return pagecache.render("guest/lobby.html", context, derived={
            "form": lambda kept: _new_lobby_form(kept["room"], kept["personal"],
                                                 kept["email_proven"])})
    return render_template("guest/lobby.html", form=form or _lobby_form(door), **context), status
