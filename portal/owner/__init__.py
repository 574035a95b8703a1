"""Owner screens: rooms, guest access and links, invitations, the waiting room, in the room.
Every view here is for owners (broadcaster or admin) and reaches a room only through
`owned_room`."""

from flask import Blueprint, abort
from flask_login import current_user

from ..audit import Actor
from ..models import Room
from ..prepared import prepared

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


# The views register on bp, and the room page's sections on cockpit's views (cockpit.shown_on).
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
