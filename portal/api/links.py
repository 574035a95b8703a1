"""A room's shared guest links: list, create (name, clicks, days), update (extend, more
clicks), delete; each with the URL to share. portal/services/links.py does what they ask.

There is no "disabled" state for one link: the room's guest-access switch turns all its links
off and on again (PUT /rooms/{id}/guest-access), and DELETE ends one link for good."""


from .. import timeutil
from ..db import database
from ..models import GuestLink, Room
from ..owner import me, owned_room
from ..services import links as service
from ..services.urls import guest_link_url
from . import schemas
from .auth import Blueprint, protect
from .problems import abort, invalid
from .rooms import CHANNEL

blp = Blueprint("api_links", __name__, url_prefix="/api/v1/rooms/<int:room_id>/links",
                description="Shared guest links (at most MAX_LINKS_PER_ROOM live a room).")
protect(blp)


def link_json(link: GuestLink, room: Room, now=None) -> dict:
    code, words = service.link_state(link, room, now or timeutil.utcnow())
    return {"id": link.id, "name": link.name, "url": guest_link_url(link),
            "max_uses": link.max_uses, "uses": link.uses, "uses_left": link.uses_left,
            "expires_at": link.expires_at, "created_at": link.created_at,
            "state": code, "state_words": words}


def _link(room: Room, link_id: int) -> GuestLink:
    link = GuestLink.get_or_none((GuestLink.id == link_id) & (GuestLink.room == room.id)
                                 & GuestLink.deleted_at.is_null())
    if link is None:
        abort(404)
    return link


@blp.route("", methods=["GET"])
@blp.response(200, schemas.LinkList)
def list_links(room_id):
    room = owned_room(room_id)
    now = timeutil.utcnow()
    return {"items": [link_json(link, room, now) for link in room.live_links()]}


@blp.route("", methods=["POST"])
@blp.arguments(schemas.LinkCreate)
@blp.response(201, schemas.LinkSchema)
def create_link(data, room_id):
    room = owned_room(room_id)
    try:
        link = service.create_link(room, data["name"].strip(), data["max_uses"], data["days"],
                                   actor=me())
    except service.ChannelRoom:
        abort(409, "channel_room", CHANNEL)
    except service.TooManyLinks as full:
        abort(409, "too_many_links", f"A room can have at most {full.limit} guest links. "
                                     "Delete one to create another.")
    return link_json(link, room)


@blp.route("/<int:link_id>", methods=["GET"])
@blp.response(200, schemas.LinkSchema)
def get_link(room_id, link_id):
    room = owned_room(room_id)
    return link_json(_link(room, link_id), room)


@blp.route("/<int:link_id>", methods=["PATCH"])
@blp.arguments(schemas.LinkUpdate)
@blp.response(200, schemas.LinkSchema)
def update_link(data, room_id, link_id):
    """`extend_days` and/or `add_clicks` (as the denial panel's Extend and Raise do)."""
    room = owned_room(room_id)
    link = _link(room, link_id)
    if not data:
        invalid({"body": ["Send extend_days, add_clicks or both."]})
    by = me()
    with database.atomic():  # both or neither
        if "add_clicks" in data:
            if link.max_uses is None:
                abort(409, "no_click_limit", f"“{link.name}” has no click limit to raise.")
            try:
                service.raise_link_limit(room, link, data["add_clicks"], actor=by)
            except service.TooManyClicks:
                invalid({"add_clicks": [f"A link can have at most {service.MAX_USES:,} "
                                        "clicks."]})
        if "extend_days" in data:
            try:
                service.extend_link(room, link, data["extend_days"], actor=by)
            except service.SessionEnded:
                abort(409, "session_ended", "The session has ended: move its end (PATCH the "
                                            f"room) before extending “{link.name}”.")
    return link_json(link, room)


@blp.route("/<int:link_id>", methods=["DELETE"])
@blp.response(204)
def delete_link(room_id, link_id):
    """It stops letting anyone new in, for good."""
    room = owned_room(room_id)
    service.delete_link(room, _link(room, link_id), actor=me())
