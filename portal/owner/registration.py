"""The owner's registration screen (/rooms/ID/registration): the options (on or off, open or
approval, places, window), the public page's link, the custom questions, and the registrants —
approve or decline, one or many at once — with the waitlist in its order. A full page; its
content is the partial owner/_registration.html (`registration_context`), ready to be placed
in the room page's views. Plain forms, post/redirect/get; htmx is not needed."""

from flask import flash, make_response, redirect, render_template, request, url_for

from .. import timeutil
from ..auth import owner_required
from ..csvfiles import to_csv
from ..forms import QuestionForm, RegistrationSettingsForm, ReminderForm
from ..models import Room
from ..reminders import parse_hours
from ..services import registration as service
from . import bp, me, owned_room


def registration_context(room: Room, settings_form=None, question_form=None,
                         reminder_form=None) -> dict:
    """What owner/_registration.html shows."""
    settings = service.settings_of(room)
    zone = room.timezone or "UTC"
    if settings_form is None:
        settings_form = RegistrationSettingsForm(
            formdata=None, enabled=settings.enabled, mode=settings.mode,
            capacity=settings.capacity,
            opens_at=_local(settings.opens_at, zone), closes_at=_local(settings.closes_at, zone))
    if reminder_form is None:
        reminder_form = ReminderForm(
            formdata=None, reminder_hours=settings.reminder_hours or "",
            follow_up=settings.follow_up, follow_up_came=settings.follow_up_came or "",
            follow_up_missed=settings.follow_up_missed or "")
    now = timeutil.utcnow()
    regs = service.registrations(room)
    return {
        "room": room,
        "reg_settings": settings,
        "reg_settings_form": settings_form,
        "question_form": question_form or QuestionForm(formdata=None),
        "reminder_form": reminder_form,
        "questions": service.questions_of(settings),
        "question_kinds": service.QUESTION_KINDS,
        "max_questions": service.MAX_QUESTIONS,
        "registration_url": service.page_url(room) if settings.enabled else None,
        "registrations": [(r, service.is_expired(r, now)) for r in regs],
        "waitlist": service.waitlist(room),
        "status_words": service.STATUS_WORDS,
        "places_left": service.places_left(settings),
        "answer_text": service.answer_text,
        "room_zone": zone,
    }


def _local(value, zone):
    return timeutil.to_local(value, zone).replace(tzinfo=None) if value else None


def _page(room, status=200, **forms):
    return render_template("owner/registration.html", **registration_context(room, **forms)), \
        status


@bp.get("/<int:room_id>/registration")
@owner_required
def registration(room_id: int):
    return _page(owned_room(room_id))


@bp.post("/<int:room_id>/registration/settings")
@owner_required
def registration_settings(room_id: int):
    room = owned_room(room_id)
    form = RegistrationSettingsForm()
    if room.kind != "regular":
        form.validate()
        form.enabled.errors = ["Registration is for regular rooms (not channels)."]
        return _page(room, 422, settings_form=form)
    if not form.validate_on_submit():
        return _page(room, 422, settings_form=form)
    zone = room.timezone or "UTC"
    outcome = service.save_settings(
        room, enabled=form.enabled.data, mode=form.mode.data, capacity=form.capacity.data,
        opens_at=timeutil.to_utc(form.opens_at.data, zone) if form.opens_at.data else None,
        closes_at=timeutil.to_utc(form.closes_at.data, zone) if form.closes_at.data else None,
        actor=me())
    flash("Registration settings saved.", "success")
    moved = [n for kind, n in outcome.notices if kind == "moved_up"]
    if moved:
        flash(f"{len(moved)} moved up from the waitlist (emailed).", "success")
    return redirect(url_for("owner.registration", room_id=room.id), 303)


@bp.post("/<int:room_id>/registration/reminders")
@owner_required
def registration_reminders(room_id: int):
    room = owned_room(room_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        return _page(room, 422, reminder_form=form)
    service.save_reminders(room, parse_hours(form.reminder_hours.data), form.follow_up.data,
                           form.follow_up_came.data or "", form.follow_up_missed.data or "",
                           actor=me())
    flash("Reminders and follow-ups saved.", "success")
    return redirect(url_for("owner.registration", room_id=room.id, _anchor="reminders"), 303)


@bp.post("/<int:room_id>/registration/link/reset")
@owner_required
def registration_link_reset(room_id: int):
    room = owned_room(room_id)
    service.reset_page_link(room, actor=me())
    flash("The registration link was reset: the old one no longer works.", "success")
    return redirect(url_for("owner.registration", room_id=room.id), 303)


@bp.post("/<int:room_id>/registration/questions")
@owner_required
def registration_question_add(room_id: int):
    room = owned_room(room_id)
    form = QuestionForm()
    if not form.validate_on_submit():
        return _page(room, 422, question_form=form)
    choices = [c.strip() for c in (form.choices.data or "").split("\n") if c.strip()]
    why = service.add_question(room, form.label.data, form.kind.data, form.required.data,
                               list(dict.fromkeys(choices)), actor=me())
    if why:
        form.label.errors = [why]
        return _page(room, 422, question_form=form)
    flash("Question added.", "success")
    return redirect(url_for("owner.registration", room_id=room.id, _anchor="questions"), 303)


@bp.post("/<int:room_id>/registration/questions/<question_id>/delete")
@owner_required
def registration_question_delete(room_id: int, question_id: str):
    room = owned_room(room_id)
    service.remove_question(room, question_id, actor=me())
    flash("Question removed (answers already given are kept).", "success")
    return redirect(url_for("owner.registration", room_id=room.id, _anchor="questions"), 303)


@bp.get("/<int:room_id>/registration/export.csv")
@owner_required
def registration_export(room_id: int):
    """The registrations with their answers, as a spreadsheet opens them."""
    room = owned_room(room_id)
    header, rows = service.export_rows(room)
    response = make_response(to_csv(header, rows))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = \
        f'attachment; filename="registrations-room-{room.id}.csv"'
    return response


@bp.post("/<int:room_id>/registration/decide")
@owner_required
def registration_decide(room_id: int):
    """Approve or Decline the ticked registrations (or the one whose button was pressed)."""
    room = owned_room(room_id)
    action = request.form.get("action", "")
    one = request.form.get("one", "")
    # ids as the database has them (a 5,000-digit "id" is no id, and no int() Python allows)
    ids = [int(i) for i in ([one] if one else request.form.getlist("ids"))
           if i.isdigit() and len(i) < 19]
    if action not in ("approve", "decline") or not ids:
        flash("Tick at least one registration, then Approve or Decline.", "error")
        return redirect(url_for("owner.registration", room_id=room.id,
                                _anchor="registrants"), 303)
    decide = service.approve if action == "approve" else service.decline
    outcome = decide(room, ids, actor=me())
    done = "Approved" if action == "approve" else "Declined"
    if outcome.changed:
        flash(f"{done} {len(outcome.changed)}: {', '.join(outcome.changed)} (emailed).",
              "success")
    waitlisted = [i for kind, i in outcome.notices if kind == "waitlisted"]
    if waitlisted:
        flash(f"The room is full: {len(waitlisted)} went on the waitlist.", "success")
    if outcome.skipped:
        flash(f"Not changed (already decided): {', '.join(outcome.skipped)}.", "error")
    return redirect(url_for("owner.registration", room_id=room.id, _anchor="registrants"), 303)
