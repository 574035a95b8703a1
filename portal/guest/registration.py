"""The public registration page of a room (/r/TOKEN): the session's details, name, email and
the owner's questions; then the confirmation link from the email (/r/confirm/TOKEN) and the
registrant's cancel link (/r/cancel/TOKEN: a page with a button — a GET cancels nothing, mail
scanners open links). Guest-facing: translated. The rules are services.registration's."""

from flask import abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from .. import timeutil
from ..extensions import limiter
from ..forms import ActionForm, registration_form
from ..services import registration as service
from . import bp

CLOSED = {
    "off": (_l("Registration isn't open for this session."), 403),
    "unavailable": (_l("This session is no longer available."), 410),
    "ended": (_l("This session has ended."), 410),
    "not_yet": (_l("Registration hasn't opened yet."), 403),
    "closed": (_l("Registration has closed."), 403),
}


def _answers(form, questions: list[dict]) -> dict:
    return {q["id"]: form[q["id"]].data for q in questions}


def _limit() -> str:
    return current_app.config["REGISTRATION_LIMIT_PER_IP"]


@bp.route("/r/<token>", methods=["GET", "POST"], endpoint="register")
def register(token: str):
    return _submitted(token) if request.method == "POST" else _page(token)


@limiter.limit(_limit)
def _submitted(token: str):
    return _page(token)


def _page(token: str):
    opened = service.open_page(token)
    if opened is None:
        return render_template("guest/registration_message.html", title=None,
                               message=_l("This registration link isn't valid. Ask the "
                                          "organiser for the current one.")), 404
    room, settings = opened
    why = service.closed_reason(room, settings, timeutil.utcnow())
    if why is not None:
        message, status = CLOSED[why]
        return render_template("guest/registration_message.html", title=room.title,
                               message=message), status
    questions = service.questions_of(settings)
    form = registration_form(questions)
    if request.method == "POST":
        if form.validate_on_submit():
            outcome = service.register(room, form.name.data, form.email.data,
                                       _answers(form, questions), str(get_locale() or "en"))
            if outcome.status == "blocked":
                form.email.errors = [_l("Your organisation's email domain can't be used "
                                        "here.")]
            else:
                return render_template("guest/registration_message.html", title=room.title,
                                       heading=_l("Check your email"),
                                       message=_l("We sent a link to %(email)s. Open it to "
                                                  "confirm your registration.",
                                                  email=form.email.data))
        return _form_page(room, settings, form, questions), 422
    return _form_page(room, settings, form, questions)


def _form_page(room, settings, form, questions):
    return render_template("guest/register.html", room=room, form=form, questions=questions,
                           places_left=service.places_left(settings),
                           approval=settings.mode == "approval", action=request.path)


CONFIRMED = {
    "registered": (_l("You're registered"),
                   _l("We emailed you your personal link and a calendar file.")),
    "waitlisted": (_l("You're on the waitlist"),
                   _l("The session is full. If a place becomes free, you move up "
                      "automatically and we email you your personal link.")),
    "pending": (_l("Waiting for approval"),
                _l("Thank you for confirming. The host approves registrations: we'll email "
                   "you their answer.")),
    "declined": (_l("Registration not approved"),
                 _l("The host didn't approve this registration.")),
    "cancelled": (_l("Registration cancelled"),
                  _l("This registration was cancelled. You may register again while places "
                     "are free.")),
    "expired": (_l("This link has expired"),
                _l("Register again: we'll send you a new link.")),
    "invalid": (_l("This link isn't valid"),
                _l("It may have been replaced by a newer email. Use the latest one.")),
}


@bp.route("/r/confirm/<token>", methods=["GET"], endpoint="confirm_registration")
def confirm(token: str):
    # A GET confirms: the link proves the address, as a click does (no place is lost by it).
    outcome = service.confirm(token)
    heading, message = CONFIRMED.get(outcome.status, CONFIRMED["invalid"])
    reg = outcome.registration
    status = 404 if outcome.status == "invalid" else 410 if outcome.status == "expired" else 200
    return render_template("guest/registration_message.html",
                           title=reg.room.title if reg is not None else None,
                           heading=heading, message=message), status


@bp.route("/r/cancel/<token>", methods=["GET", "POST"], endpoint="cancel_registration")
def cancel(token: str):
    reg = service.read_cancel_token(token)
    if reg is None:
        heading, message = CONFIRMED["invalid"]
        return render_template("guest/registration_message.html", title=None,
                               heading=heading, message=message), 404
    if request.method == "POST":
        ActionForm().validate_on_submit() or abort(400)
        outcome = service.cancel(token)
        heading, message = CONFIRMED.get(outcome.status, CONFIRMED["invalid"])
        return render_template("guest/registration_message.html", title=reg.room.title,
                               heading=heading, message=message)
    return render_template("guest/registration_cancel.html", reg=reg, room=reg.room,
                           active=reg.status in ("unconfirmed", *service.ACTIVE))
