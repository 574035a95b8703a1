"""In the room, on the owner's room page: who is inside now (polled by htmx like the waiting
room), Remove, Move to waiting room, the role, and Allow again for those turned away. The
decisions themselves are in portal/inside.py, shared with invited moderators."""

from flask import abort, make_response, render_template

from .. import inside
from ..auth import owner_required
from ..forms import PresenceRoleForm
from ..models import Participant, Room
from ..web import is_htmx, unchanged_since_last_poll
from . import answer_section, bp, owned_room, room_context
from .waiting import owner_waiting_context

OWNER_ENDPOINTS = {"poll": "owner.inside_now", "remove": "owner.remove_guest",
                   "move": "owner.move_guest", "role": "owner.guest_role",
                   "allow": "owner.allow_again"}


def owner_inside_context(room: Room, with_waiting: bool = False, **overrides) -> dict:
    """The room page's In the room section, as its owner sees it; `with_waiting` adds the
    waiting room, swapped out of band (after Move, the guest appears there at once)."""
    context = inside.inside_context(room, OWNER_ENDPOINTS, by_owner=True, **overrides)
    if with_waiting:
        context.update(owner_waiting_context(room), waiting_oob=True)
    return context


def _answer(room: Room, key: str, guest: Participant, status: int = 200, **values):
    text = inside.notice(key, True, name=guest.name, **values)
    return answer_section(room, "owner/_inside.html", owner_inside_context, "in-the-room",
                          status=status, flashes=[("success", text)], inside_notice=text,
                          inside_error=status >= 400, with_waiting=key == "moved")


def _guest_of(room: Room, participant_id: int) -> Participant:
    participant = inside.participant_of(room, participant_id)
    if participant is None:
        abort(404)
    return participant


@bp.get("/<int:room_id>/inside")
@owner_required
def inside_now(room_id: int):
    room = owned_room(room_id)
    context = owner_inside_context(room)
    if unchanged_since_last_poll(context["inside_fingerprint"]):
        return make_response("", 204)
    if is_htmx():
        return render_template("owner/_inside.html", room=room, **context)
    return render_template("owner/room.html", **room_context(room))


@bp.post("/<int:room_id>/inside/<int:participant_id>/remove")
@owner_required
def remove_guest(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    return _answer(room, "removed" if inside.remove(room, guest) else "not_inside", guest)


@bp.post("/<int:room_id>/inside/<int:participant_id>/move")
@owner_required
def move_guest(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    return _answer(room, "moved" if inside.move_to_waiting(room, guest) else "not_inside", guest)


@bp.post("/<int:room_id>/inside/<int:participant_id>/role")
@owner_required
def guest_role(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    form = PresenceRoleForm()
    if not form.validate_on_submit():
        return _answer(room, "bad_role", guest, status=422)
    if guest.status != "admitted":
        return _answer(room, "not_inside", guest)
    inside.change_role(room, guest, form.role.data)
    return _answer(room, "role", guest, role=form.role.data)


@bp.post("/<int:room_id>/inside/<int:participant_id>/allow")
@owner_required
def allow_again(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    done = inside.allow_again(room, guest)
    return _answer(room, "allowed" if done else "not_turned_away", guest)
