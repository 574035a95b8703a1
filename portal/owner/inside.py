"""In the room, on the owner's room page: who is inside now (polled by htmx like the waiting
room), Remove, Move to waiting room, the role, and Allow again for those turned away. What
they do is portal/services/hosting.py; the section is portal/host.py's, shared with invited
moderators."""

from flask import abort

from .. import host
from ..auth import owner_required
from ..models import Room
from ..services import hosting
from . import bp, me, owned_room
from .cockpit import answer_section, poll_section, shown_on
from .waiting import owner_waiting_context

OWNER_ENDPOINTS = {"poll": "owner.inside_now", "remove": "owner.remove_guest",
                   "move": "owner.move_guest", "role": "owner.guest_role",
                   "allow": "owner.allow_again"}


@shown_on("live")
def owner_inside_context(room: Room, with_waiting: bool = False, **overrides) -> dict:
    """The room page's In the room section, as its owner sees it; `with_waiting` adds the
    waiting room, swapped out of band (after Move, the guest appears there at once)."""
    context = host.inside_context(room, OWNER_ENDPOINTS, by_owner=True, **overrides)
    if with_waiting:
        context.update(owner_waiting_context(room), waiting_oob=True)
    return context


@bp.get("/<int:room_id>/inside")
@owner_required
def inside_now(room_id: int):
    return poll_section(room_id, "host/_inside.html", owner_inside_context, "inside_fingerprint",
                        "in-the-room")


_GUEST = "/<int:room_id>/inside/<int:participant_id>"


@bp.post(f"{_GUEST}/remove", endpoint="remove_guest", defaults={"action": "remove"})
@bp.post(f"{_GUEST}/move", endpoint="move_guest", defaults={"action": "move"})
@bp.post(f"{_GUEST}/role", endpoint="guest_role", defaults={"action": "role"})
@bp.post(f"{_GUEST}/allow", endpoint="allow_again", defaults={"action": "allow"})
@owner_required
def act_on_guest(room_id: int, participant_id: int, action: str):
    """Remove, Move to waiting room, the role and Allow again: hosting.act, then the section."""
    room = owned_room(room_id)
    guest = hosting.participant_of(room, participant_id)
    if guest is None:
        abort(404)
    role = host.posted_role() if action == "role" else None
    key = hosting.act(action, room, guest, me(), role)
    text = host.notice(key, True, name=guest.name, role=role)
    refused = key == hosting.REFUSED
    return answer_section(room, "host/_inside.html", owner_inside_context, "in-the-room",
                          status=422 if refused else 200, flashes=[("success", text)],
                          inside_notice=text, inside_error=refused, with_waiting=key == "moved")
