"""Owner screens: rooms, guest access and links, invitations, the waiting room, in the room.
Every view here is for owners (broadcaster or admin) and reaches a room only through
`owned_room`."""

from collections.abc import Callable, Iterable

from flask import Blueprint, abort, render_template, url_for
from flask_login import current_user

from ..audit import Actor
from ..models import Room
from ..web import answer, polled_section

bp = Blueprint("owner", __name__, url_prefix="/rooms")


def owned_room(room_id: int, allow_deleted: bool = False) -> Room:
    """The room, if the signed-in user owns it or is an admin; 404 otherwise, so nobody learns
    which room ids exist."""
    room = Room.get_or_none(Room.id == room_id)
    if room is None or (room.is_deleted and not allow_deleted):
        abort(404)
    if room.owner_id != current_user.id and not current_user.is_admin:
        abort(404)
    return room


def me() -> Actor:
    """Who acts on these screens: the signed-in owner or admin."""
    return Actor.of_account(current_user._get_current_object())


def room_context(room: Room) -> dict:
    """Everything the room page shows, section by section, so the page and each section's
    fragment render from the same data."""
    context = rooms.details_context(room)
    context.update(links.links_context(room))
    context.update(waiting.owner_waiting_context(room))
    context.update(inside.owner_inside_context(room))
    context.update(invitations.invitations_section(room))
    context.update(denials.denials_context(room))
    return context


def answer_section(room: Room, fragment: str, section: Callable[..., dict], anchor: str, *,
                   status: int = 200, flashes: Iterable[tuple[str, str]] = (), **overrides):
    """A room page section's answer (web.answer's rule): htmx gets `fragment` rendered from
    `section(room, **overrides)`; a refused plain form the room page with `overrides`; a done
    plain form the flashes and the room page at `#anchor`."""
    return answer(fragment, lambda: {"room": room, **section(room, **overrides)},
                  "owner/room.html", lambda: {**room_context(room), **overrides},
                  back=url_for("owner.room", room_id=room.id, _anchor=anchor), status=status,
                  flashes=flashes)


def poll_section(room_id: int, fragment: str, section: Callable[[Room], dict], fingerprint: str,
                 seen: Callable[[Room], None] | None = None):
    """A room page section's poll (web.polled_section); without htmx, the whole room page.
    `seen`: told of the room once the owner's access is checked."""
    room = owned_room(room_id)
    if seen is not None:
        seen(room)
    return polled_section(fragment, {"room": room, **section(room)}, fingerprint,
                          lambda: render_template("owner/room.html", **room_context(room)))


# The views register on bp; room_context above calls the sections by name.
from . import (  # noqa: E402,F401  (audit: its views)
    attendance,
    audit,
    denials,
    inside,
    invitation_import,
    invitations,
    links,
    registration,
    rooms,
    waiting,
)
