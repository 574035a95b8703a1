"""An invited moderator's host controls, on their room page: the waiting room (Admit, Deny,
Admit all) and In the room (Remove, Move to waiting room, the role, Allow again) — the owner's
sections (portal/host.py, templates/host/), doing what portal/services/hosting.py does, with the
moderator as who acts."""

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext

from .. import decision, host, host_alerts
from ..audit import Actor
from ..forms import DenyForm
from ..models import Participant
from ..services import hosting
from ..web import answer, is_htmx, polled_section
from . import ROLE_NAMES, bp, presence_or_none

MODERATOR_ENDPOINTS = {"poll": "guest.moderator_waiting", "admit": "guest.moderator_admit",
                       "deny": "guest.moderator_deny", "admit_all": "guest.moderator_admit_all"}


def _moderator(room_id: int) -> Participant:
    """This browser's presence, if it is inside the room as a moderator (decided again now)."""
    participant, _door, result = presence_or_none(room_id)
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
    moderator = _moderator(room_id)
    host_alerts.host_seen(room_id)  # a host is watching (portal/host_alerts.py)
    return polled_section("host/_waiting.html", _moderator_list(moderator),
                          "waiting_fingerprint", lambda: _to_place(room_id, "waiting-room"))


def _moderator_decides(room_id: int, participant_id: int | None, status: str,
                       message: str | None = None):
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
        done = hosting.admit(room, [guest.id], by) if status == "admitted" \
            else hosting.deny(room, [guest.id], by, message)
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


@bp.route("/s/<int:room_id>/waiting/<int:participant_id>/deny", methods=["GET", "POST"])
def moderator_deny(room_id: int, participant_id: int):
    """As the owner's (portal/owner/waiting.py): POST denies, GET is the page to write a
    message."""
    form = DenyForm()
    if request.method == "POST" and form.validate_on_submit():
        return _moderator_decides(room_id, participant_id, "rejected", form.message.data)
    moderator = _moderator(room_id)
    guest = hosting.participant_of(moderator.room, participant_id)
    if guest is None:
        abort(404)
    if request.method == "GET" and guest.status != "waiting":
        flash(gettext("%(name)s is no longer waiting.", name=guest.name), "success")
        return _to_place(room_id, "waiting-room")
    return host.deny_page(moderator.room, guest, form, False,
                          url_for("guest.moderator_deny", room_id=room_id,
                                  participant_id=guest.id),
                          url_for("guest.place", room_id=room_id, _anchor="waiting-room"),
                          status=200 if request.method == "GET" else 422)


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
