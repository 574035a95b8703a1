"""Registration, a section of the room page's Access view (#registration): its head says
whether people can register and how many did, with the public page's link; then the
registrants — approve or decline, one or many at once — a page at a time, the waitlist in its
order; then the options (on or off, open or approval, places, window), the questions, and the
reminders and follow-ups.

Every form answers by web.answer's rule (cockpit.answer_section): htmx gets the section alone,
its notice inside; a plain form the flash and the Access view at the part it came from; a
refusal 422 with the message, nothing written. /rooms/ID/registration, once a page of its own,
leads to the section."""

from flask import make_response, redirect, request

from .. import timeutil
from ..auth import owner_required
from ..csvfiles import to_csv
from ..forms import QuestionForm, RegistrationSettingsForm, ReminderForm
from ..models import Room
from ..reminders import parse_hours
from ..services import registration as service
from . import bp, me, owned_room
from .cockpit import answer_section, section_url, shown_on

# Where each part of the section is, for a plain form's landing (cockpit.SECTION_VIEW has them).
PARTS = ("registration", "registrants", "registration-options", "registration-questions",
         "registration-reminders")
SHOW_WORDS = {"": "Everyone", **{s: service.STATUS_WORDS[s] for s in service.LIST_ORDER}}


def _listing(overrides: dict) -> tuple[str, int]:
    """Which registrants the list shows: a status (or everyone) and a page, from the view's
    query string or the decide form's own fields (so a decision keeps the page it was on)."""
    show = overrides.pop("show", None)
    page = overrides.pop("page", None)
    if show is None:
        show = request.values.get("show", "")
    if page is None:
        raw = request.values.get("page", "1")
        page = int(raw) if raw.isdigit() and len(raw) < 7 else 1
    return (show if show in service.LIST_ORDER else ""), max(page, 1)


@shown_on("access")
def registration_section(room: Room, **overrides) -> dict:
    """What owner/_registration.html shows: three lookups, whatever the number of
    registrants (the settings, the counts by status, one page of the list)."""
    show, page = _listing(overrides)
    settings = service.settings_of(room)
    zone = room.timezone or "UTC"
    counts = service.status_counts(room)
    listed = counts[show] if show else sum(counts.values())
    pages = max((listed + service.PAGE_SIZE - 1) // service.PAGE_SIZE, 1)
    page = min(page, pages)
    offset = (page - 1) * service.PAGE_SIZE
    shown = service.registrations_page(room, show, offset) if listed else []
    now = timeutil.utcnow()
    rows = [(reg, service.is_expired(reg, now),
             service.waitlist_position(counts, show, offset + i)
             if reg.status == "waitlisted" else None)
            for i, reg in enumerate(shown)]
    context = {
        "reg_settings": settings,
        "reg_settings_form": RegistrationSettingsForm(
            formdata=None, enabled=settings.enabled, mode=settings.mode,
            capacity=settings.capacity, opens_at=_local(settings.opens_at, zone),
            closes_at=_local(settings.closes_at, zone)),
        "question_form": QuestionForm(formdata=None),
        "reminder_form": ReminderForm(
            formdata=None, reminder_hours=settings.reminder_hours or "",
            follow_up=settings.follow_up, follow_up_came=settings.follow_up_came or "",
            follow_up_missed=settings.follow_up_missed or ""),
        "questions": service.questions_of(settings),
        "question_kinds": service.QUESTION_KINDS,
        "max_questions": service.MAX_QUESTIONS,
        "registration_url": service.page_url(room, settings) if settings.enabled else None,
        "registration_counts": counts,
        "registrations": rows,
        "registrants_total": sum(counts.values()),
        "registrants_listed": listed,
        "registrants_show": show,
        "registrants_show_words": SHOW_WORDS,
        "registrants_page": page,
        "registrants_pages": pages,
        "registrants_first": offset + 1,
        "status_words": service.STATUS_WORDS,
        "places_left": service.places_left(settings),
        "answer_text": service.answer_text,
        "room_zone": zone,
        "registration_notices": [],
        "registration_open_part": "",
    }
    context.update(overrides)
    return context


def _local(value, zone):
    return timeutil.to_local(value, zone).replace(tzinfo=None) if value else None


def _answer(room: Room, part: str, notices=(), status: int = 200, **overrides):
    """web.answer's rule for the section; `part` is where a plain form lands (and, refused,
    the part shown open with its error)."""
    return answer_section(room, "owner/_registration.html", registration_section, part,
                          status=status, flashes=notices, registration_notices=list(notices),
                          registration_open_part=part, **overrides)


@bp.get("/<int:room_id>/registration")
@owner_required
def registration(room_id: int):
    """The registration screen's old address: the section, in the Access view."""
    return redirect(section_url(owned_room(room_id), "registration"), 302)


@bp.post("/<int:room_id>/registration/settings")
@owner_required
def registration_settings(room_id: int):
    room = owned_room(room_id)
    form = RegistrationSettingsForm()
    if not form.validate_on_submit():
        return _answer(room, "registration-options", status=422, reg_settings_form=form)
    zone = room.timezone or "UTC"
    try:
        outcome = service.save_settings(
            room, enabled=form.enabled.data, mode=form.mode.data, capacity=form.capacity.data,
            opens_at=timeutil.to_utc(form.opens_at.data, zone) if form.opens_at.data else None,
            closes_at=timeutil.to_utc(form.closes_at.data, zone) if form.closes_at.data
            else None, actor=me())
    except service.Invalid as refused:  # the service's rules, as the API meets them
        for name, messages in refused.errors.items():
            form[name].errors = list(messages)
        return _answer(room, "registration-options", status=422, reg_settings_form=form)
    notices = [("success", "Registration settings saved.")]
    moved = [n for kind, n in outcome.notices if kind == "moved_up"]
    if moved:
        notices.append(("success", f"{len(moved)} moved up from the waitlist (emailed)."))
    return _answer(room, "registration", notices)


@bp.post("/<int:room_id>/registration/reminders")
@owner_required
def registration_reminders(room_id: int):
    room = owned_room(room_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        return _answer(room, "registration-reminders", status=422, reminder_form=form)
    service.save_reminders(room, parse_hours(form.reminder_hours.data), form.follow_up.data,
                           form.follow_up_came.data or "", form.follow_up_missed.data or "",
                           actor=me())
    return _answer(room, "registration-reminders",
                   [("success", "Reminders and follow-ups saved.")])


@bp.post("/<int:room_id>/registration/link/reset")
@owner_required
def registration_link_reset(room_id: int):
    room = owned_room(room_id)
    service.reset_page_link(room, actor=me())
    return _answer(room, "registration", [
        ("success", "The registration link was reset: the old one no longer works.")])


@bp.post("/<int:room_id>/registration/questions")
@owner_required
def registration_question_add(room_id: int):
    room = owned_room(room_id)
    form = QuestionForm()
    if not form.validate_on_submit():
        return _answer(room, "registration-questions", status=422, question_form=form)
    choices = [c.strip() for c in (form.choices.data or "").split("\n") if c.strip()]
    why = service.add_question(room, form.label.data, form.kind.data, form.required.data,
                               list(dict.fromkeys(choices)), actor=me())
    if why:
        form.label.errors = [why]
        return _answer(room, "registration-questions", status=422, question_form=form)
    return _answer(room, "registration-questions", [("success", "Question added.")])


@bp.post("/<int:room_id>/registration/questions/<question_id>/delete")
@owner_required
def registration_question_delete(room_id: int, question_id: str):
    room = owned_room(room_id)
    service.remove_question(room, question_id, actor=me())
    return _answer(room, "registration-questions", [
        ("success", "Question removed (answers already given are kept).")])


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


def _decision() -> tuple[str, list[int]]:
    """What the list posted: a row's own button (`decide` = "approve:ID" or "decline:ID"),
    or Approve / Decline selected (`action`) with the ticked `ids`; `one` is an older form's
    single id. Ids as the database has them (a 5,000-digit "id" is no id, and no int()
    Python allows)."""
    action, _, one = request.form.get("decide", "").partition(":")
    if not action:
        action, one = request.form.get("action", ""), request.form.get("one", "")
    ids = [int(i) for i in ([one] if one else request.form.getlist("ids"))
           if i.isdigit() and len(i) < 19]
    return action, ids


@bp.post("/<int:room_id>/registration/decide")
@owner_required
def registration_decide(room_id: int):
    """Approve or Decline the ticked registrations (or the one whose button was pressed)."""
    room = owned_room(room_id)
    action, ids = _decision()
    if action not in ("approve", "decline") or not ids:
        return _answer(room, "registrants", [
            ("error", "Tick at least one registration, then Approve or Decline selected.")],
            status=422)
    decide = service.approve if action == "approve" else service.decline
    outcome = decide(room, ids, actor=me())
    done = "Approved" if action == "approve" else "Declined"
    notices = []
    if outcome.changed:
        notices.append(("success", f"{done} {len(outcome.changed)}: "
                        f"{', '.join(outcome.changed)} (emailed)."))
    waitlisted = [i for kind, i in outcome.notices if kind == "waitlisted"]
    if waitlisted:
        notices.append(("success", f"The room is full: {len(waitlisted)} went on the "
                        "waitlist."))
    moved = [i for kind, i in outcome.notices if kind == "moved_up"]
    if moved:
        notices.append(("success", f"{len(moved)} moved up from the waitlist (emailed)."))
    if outcome.skipped:
        notices.append(("error", "Not changed (already decided): "
                        f"{', '.join(outcome.skipped)}."))
    if not notices:  # none of the ids is this room's
        return _answer(room, "registrants", [
            ("error", "None of those registrations is in this room's list.")], status=422)
    return _answer(room, "registrants", notices)
