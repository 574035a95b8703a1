"""Owner screens: rooms, guest access and links, invitations, the waiting room, in the room.
Every view here is for owners (broadcaster or admin) and reaches a room only through
`owned_room`."""

from collections.abc import Callable, Iterable

from flask import Blueprint, abort, redirect
from flask_login import current_user

from ..audit import Actor
from ..models import Room
from ..prepared import prepared
from ..web import answer, polled_section

bp = Blueprint("owner", __name__, url_prefix="/rooms")


def owned_room(room_id: int, allow_deleted: bool = False) -> Room:
    """The room, if the signed-in user owns it or is an admin; 404 otherwise, so nobody learns
    which room ids exist."""
    room = _room.first(room_id=room_id)
    if room is None or (room.is_deleted and not allow_deleted):
        abort(404)
    if room.owner_id != current_user.id and not current_user.is_admin:
        abort(404)
    return room


@prepared
def _room(room_id):
    # Every owner screen's and poll's lookup (prepared: built once, not on every request)
    return Room.select().where(Room.id == room_id).limit(1)


def me() -> Actor:
    """Who acts on these screens: the signed-in owner or admin."""
    return Actor.of_account(current_user._get_current_object())


def answer_section(room: Room, fragment: str, section: Callable[..., dict], anchor: str, *,
                   status: int = 200, flashes: Iterable[tuple[str, str]] = (), **overrides):
    """A room page section's answer (web.answer's rule): htmx gets `fragment` rendered from
    `section(room, **overrides)`; a refused plain form the view the section lives in, with
    `overrides`; a done plain form the flashes and that view at `#anchor`."""
    view = cockpit.SECTION_VIEW[anchor]
    return answer(fragment, lambda: {"room": room, **section(room, **overrides)},
                  "owner/room.html", lambda: cockpit.view_context(room, view, **overrides),
                  back=cockpit.section_url(room, anchor), status=status, flashes=flashes)


def poll_section(room_id: int, fragment: str, section: Callable[[Room], dict], fingerprint: str,
                 anchor: str, seen: Callable[[Room], None] | None = None):
    """A room page section's poll (web.polled_section); without htmx, the view it lives in.
    `seen`: told of the room once the owner's access is checked."""
    room = owned_room(room_id)
    if seen is not None:
        seen(room)
    return polled_section(fragment, {"room": room, **section(room)}, fingerprint,
                          lambda: redirect(cockpit.section_url(room, anchor), 303))


# The views register on bp; answer_section above finds the sections' views in cockpit.
from . import (  # noqa: E402,F401  (audit: its views)
    attendance,
    audit,
    cockpit,
    denials,
    inside,
    invitation_import,
    invitations,
    links,
    registration,
    rooms,
    waiting,
)
