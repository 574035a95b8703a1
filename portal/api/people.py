"""The people of a room, as its host sees them: waiting, inside, turned away; Admit, Deny, Admit
all; Remove, Move to waiting room, Allow again, the role. portal/services/hosting.py does what
they ask, as for the room page's Waiting room and In the room sections."""

import marshmallow as ma
from flask import current_app
from marshmallow import validate

from ..owner import me, owned_room
from ..services import hosting
from . import schemas
from .auth import Blueprint, protect
from .problems import abort

blp = Blueprint("api_people", __name__, url_prefix="/api/v1/rooms/<int:room_id>",
                description="The waiting room, who is inside, and who was turned away.")
protect(blp)

# What a host's control gives when there was nothing left to do (another host was quicker).
NOT_DONE = {"not_inside": "They are no longer in the room.",
            "not_turned_away": "They aren't turned away."}


def person_json(p, status: str, role: str | None = None, since=None) -> dict:
    return {"id": p.id, "name": p.name, "email": p.email, "role": role, "status": status,
            "link_id": p.link_id, "invitation_id": p.invitation_id,
            "since": since}


def _limit(args) -> int:
    return args.get("limit") or current_app.config["HOST_LIST_ROWS"]


class ListArgs(schemas.Schema):
    limit = ma.fields.Integer(load_default=None, validate=validate.Range(1, 1000))


@blp.route("/waiting", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, schemas.PeopleList)
def waiting(args, room_id):
    """Those waiting to be admitted, first come first (the first `limit`), and how many wait."""
    room = owned_room(room_id)
    people, total = hosting.waiting_shown(room, _limit(args))
    return {"items": [person_json(p, "waiting", since=p.created_at) for p in people],
            "total": total}


@blp.route("/inside", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, schemas.PeopleList)
def inside(args, room_id):
    """Those inside now (the last `limit` to come in), with their role, and how many are."""
    room = owned_room(room_id)
    people, total = hosting.inside_shown(room, _limit(args))
    return {"items": [person_json(p, "admitted", hosting.role_of(p), p.decided_at or p.created_at)
                      for p in people], "total": total}


@blp.route("/turned-away", methods=["GET"])
@blp.arguments(ListArgs, location="query")
@blp.response(200, schemas.PeopleList)
def turned_away(args, room_id):
    """The latest people a host denied or removed: they can't queue again until Allow
    again."""
    room = owned_room(room_id)
    people = hosting.turned_away(room, _limit(args))
    return {"items": [person_json(p, "rejected", since=p.updated_at) for p in people],
            "total": len(people)}


@blp.route("/waiting/admit", methods=["POST"])
@blp.arguments(schemas.PeopleIds)
@blp.response(200, schemas.DecidedSchema)
def admit(data, room_id):
    """Admit these (those still waiting)."""
    room = owned_room(room_id)
    return {"done": [p.id for p in hosting.admit(room, data["ids"], me())]}


@blp.route("/waiting/admit-all", methods=["POST"])
@blp.response(200, schemas.DecidedSchema)
def admit_all(room_id):
    """Admit everyone waiting now."""
    room = owned_room(room_id)
    return {"done": [p.id for p in hosting.admit(room, None, me())]}


@blp.route("/waiting/deny", methods=["POST"])
@blp.arguments(schemas.DenyBody)
@blp.response(200, schemas.DecidedSchema)
def deny(data, room_id):
    """Turn these away (those still waiting): they read that the host didn't admit them, with
    your `message` if you give one, and can't queue again until Allow again."""
    room = owned_room(room_id)
    return {"done": [p.id for p in hosting.deny(room, data["ids"], me(), data["message"])]}


def _act(room_id: int, participant_id: int, action: str, role: str | None = None):
    room = owned_room(room_id)
    person = hosting.participant_of(room, participant_id)
    if person is None:
        abort(404)
    result = hosting.act(action, room, person, me(), role)
    if result in NOT_DONE:
        abort(409, result, NOT_DONE[result])
    return {"done": [person.id]}


@blp.route("/people/<int:participant_id>/remove", methods=["POST"])
@blp.response(200, schemas.DecidedSchema)
def remove(room_id, participant_id):
    """Out of the room, and held out until Allow again. 409 not_inside if they weren't in."""
    return _act(room_id, participant_id, "remove")


@blp.route("/people/<int:participant_id>/move-to-waiting", methods=["POST"])
@blp.response(200, schemas.DecidedSchema)
def move_to_waiting(room_id, participant_id):
    """Back to the waiting room until someone admits them. 409 not_inside if they weren't
    in."""
    return _act(room_id, participant_id, "move")


@blp.route("/people/<int:participant_id>/allow-again", methods=["POST"])
@blp.response(200, schemas.DecidedSchema)
def allow_again(room_id, participant_id):
    """Lift a Deny or Remove: they come back the ordinary way, by their link. 409
    not_turned_away if they weren't."""
    return _act(room_id, participant_id, "allow")


@blp.route("/people/<int:participant_id>/role", methods=["PUT"])
@blp.arguments(schemas.RoleSchema)
@blp.response(200, schemas.DecidedSchema)
def change_role(data, room_id, participant_id):
    """The role of someone inside: through a personal invitation, the invitation's role (for
    their next entry too); through a shared link, this visit's. 409 not_inside if they aren't
    in."""
    return _act(room_id, participant_id, "role", data["role"])
