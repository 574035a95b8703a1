"""Rooms: list (by cursor, filtered by start time), get, create, update, delete, and the guest
access switch. The room form's rules are portal/services/rooms.py's, checked there."""

from datetime import UTC, datetime

from flask_login import current_user

from .. import timeutil
from ..models import Room, User
from ..owner import me, owned_room
from ..services import links as link_service
from ..services import rooms as room_service
from ..web import public_url
from . import paging, schemas
from .auth import Blueprint, protect
from .problems import abort, invalid

blp = Blueprint("api_rooms", __name__, url_prefix="/api/v1/rooms",
                description="Rooms: the room form's fields, and guest access on or off.")
protect(blp)

CHANNEL = "Guest access isn't supported for channel rooms."


def room_json(room: Room) -> dict:
    owner = room.owner  # joined in lists; one lookup for a single room
    return {
        "id": room.id, "title": room.title, "description": room.description,
        "speakers": room.speaker_list, "starts_at": room.starts_at, "ends_at": room.ends_at,
        "timezone": room.timezone, "kind": room.kind, "platform": room.platform,
        "meeting_name": room.meeting, "join_url": room.join_url,
        "guest_access_enabled": room.guest_access_enabled,
        "require_approval": room.require_approval,
        "require_email_match": room.require_email_match,
        "consent_required": room.consent_required, "consent_text": room.consent_text,
        "consent_version": room.consent_version, "alert_hosts": room.alert_hosts,
        "owner": {"id": owner.id, "email": owner.email},
        "created_at": room.created_at, "updated_at": room.updated_at,
        "url": public_url("owner.room", room_id=room.id),
    }


def _naive_utc(value):
    return value.astimezone(UTC).replace(tzinfo=None)


@blp.route("", methods=["GET"])
@blp.arguments(schemas.RoomListArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.RoomPage)
def list_rooms(limit, cursor, starts_after, starts_before):
    """The rooms this token's account sees (an admin: every room), by start time."""
    query = room_service.visible_to(current_user).join(User, on=(Room.owner == User.id)) \
        .select(Room, User)
    if starts_after is not None:
        query = query.where(Room.starts_at >= _naive_utc(starts_after))
    if starts_before is not None:
        query = query.where(Room.starts_at < _naive_utc(starts_before))
    after = paging.decode(cursor, str, int)
    if after is not None:
        try:
            when = datetime.fromisoformat(after[0].replace("Z", "+00:00"))
            when = _naive_utc(when) if when.tzinfo is not None else None
        except (ValueError, OverflowError):
            when = None
        if when is None:
            invalid({"cursor": [paging.BAD_CURSOR]})
        query = query.where((Room.starts_at > when)
                            | ((Room.starts_at == when) & (Room.id > after[1])))
    rows = list(query.order_by(Room.starts_at, Room.id).limit(limit + 1))
    result = paging.page(rows, limit, lambda r: (timeutil.iso_utc(r.starts_at), r.id))
    result["items"] = [room_json(r) for r in result["items"]]
    return result


def _values(data: dict, base: room_service.RoomValues) -> room_service.RoomValues:
    values = {**base.__dict__, **data}
    if "speakers" in data:
        values["speakers"] = "\n".join(data["speakers"])
    for name in ("description", "consent_text", "title"):
        if isinstance(values.get(name), str):
            values[name] = values[name].replace("\r\n", "\n").replace("\r", "\n")
    values["title"] = (values["title"] or "").strip()
    return room_service.RoomValues(**values)


@blp.route("", methods=["POST"])
@blp.arguments(schemas.RoomCreate)
@blp.response(201, schemas.RoomSchema)
def create_room(data):
    """A new room of this token's account; the fields the room form has."""
    base = room_service.RoomValues(title="", starts_at=data["starts_at"],
                                   ends_at=data["ends_at"])
    try:
        room = room_service.create(current_user, _values(data, base),
                                   actor=me())
    except room_service.Invalid as exc:
        invalid(exc.errors)
    return room_json(room)


@blp.route("/<int:room_id>", methods=["GET"])
@blp.response(200, schemas.RoomSchema)
def get_room(room_id):
    return room_json(owned_room(room_id))


@blp.route("/<int:room_id>", methods=["PATCH"])
@blp.arguments(schemas.RoomWrite)
@blp.response(200, schemas.RoomSchema)
def update_room(data, room_id):
    """Change some of the room's fields; the others stay as they are. Invited guests whose
    email went out get a calendar update when the time or title changes."""
    room = owned_room(room_id)
    try:
        room_service.update(room, _values(data, room_service.RoomValues.of(room)),
                            actor=me())
    except room_service.Invalid as exc:
        invalid(exc.errors)
    return room_json(room)


@blp.route("/<int:room_id>", methods=["DELETE"])
@blp.response(204)
def delete_room(room_id):
    """Its links then answer that the room is no longer available."""
    room_service.delete(owned_room(room_id), actor=me())


@blp.route("/<int:room_id>/guest-access", methods=["PUT"])
@blp.arguments(schemas.GuestAccessSchema)
@blp.response(200, schemas.GuestAccessSchema)
def set_guest_access(data, room_id):
    """On: the room's shared links let guests in; off: they refuse new guests (those inside
    stay until they load a page again). Personal invitations answer to their own state."""
    room = owned_room(room_id)
    try:
        link_service.set_guest_access(room, data["enabled"],
                                      actor=me())
    except link_service.RoomGone:
        abort(404)
    except link_service.ChannelRoom:
        abort(409, "channel_room", CHANNEL)
    return {"enabled": room.guest_access_enabled}
