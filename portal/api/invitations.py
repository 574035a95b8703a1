"""A room's personal invitations: list, invite one or many (role, valid once or for days, send
now), email again, reset the link, change the role, revoke. portal/services/invitations.py does
what they ask, as for the Guests section of the room page."""


from ..models import Invitation, Room, User
from ..owner import me, owned_room
from ..services import invitations as service
from ..services.urls import invitation_url
from . import schemas
from .auth import Blueprint, protect
from .problems import abort

blp = Blueprint("api_invitations", __name__,
                url_prefix="/api/v1/rooms/<int:room_id>/invitations",
                description="Personal invitations (at most MAX_INVITATIONS_PER_ROOM a room).")
protect(blp)


def invitation_json(inv: Invitation) -> dict:
    return {"id": inv.id, "email": inv.email, "role": inv.role, "valid_once": inv.valid_once,
            "expires_at": inv.expires_at, "email_status": inv.email_status,
            "emailed_at": inv.emailed_at, "email_error": inv.email_error,
            "created_at": inv.created_at, "url": invitation_url(inv)}


def _invitation(room: Room, invitation_id: int) -> Invitation:
    invitation = (Invitation.select(Invitation, User).join(User)
                  .where((Invitation.id == invitation_id) & (Invitation.room == room.id)
                         & Invitation.removed_at.is_null()).first())
    if invitation is None:
        abort(404)
    invitation.room = room
    return invitation


def _fresh(invitation_id: int) -> Invitation:
    return Invitation.get_by_id(invitation_id)


def _sent(results: dict[int, str | None]) -> list[dict]:
    return [{"invitation_id": i, "sent": error is None, "error": error}
            for i, error in results.items()]


@blp.route("", methods=["GET"])
@blp.response(200, schemas.InvitationList)
def list_invitations(room_id):
    room = owned_room(room_id)
    return {"items": [invitation_json(inv) for inv in room.live_invitations()]}


@blp.route("", methods=["POST"])
@blp.arguments(schemas.InvitationCreate)
@blp.response(201, schemas.InviteResult, description="At least one address was added.")
@blp.alt_response(200, schema=schemas.InviteResult, description="None was added (see refused).")
def invite(data, room_id):
    """Invite up to 100 addresses at once; each refused one says why (invalid, blocked domain,
    already invited, over the limit). `send_now` emails each added guest their link."""
    room = owned_room(room_id)
    if room.kind == "channel":
        abort(409, "channel_room", "Guest access isn't supported for channel rooms, so guests "
                                   "can't be invited here.")
    addresses = [a for raw in data["emails"] for a in service.split_addresses(raw)]
    if len(addresses) > service.MAX_ADDRESSES_AT_ONCE:
        abort(422, "invalid", errors={"emails": [service.TOO_MANY_AT_ONCE]})
    result = service.invite(room, addresses, data["role"], valid_once=data["valid_once"],
                            days=data["days"], actor=me())
    emailed = {}
    if result.added and data["send_now"]:
        emailed = service.email_invitations(result.invitations, me())
    body = {"added": [invitation_json(_fresh(inv.id)) for inv in result.invitations],
            "refused": [{"email": email, "reason": why} for email, why in result.refused],
            "emailed": _sent(emailed)}
    return body, 201 if result.added else 200


@blp.route("/<int:invitation_id>", methods=["GET"])
@blp.response(200, schemas.InvitationSchema)
def get_invitation(room_id, invitation_id):
    return invitation_json(_invitation(owned_room(room_id), invitation_id))


@blp.route("/<int:invitation_id>", methods=["PATCH"])
@blp.arguments(schemas.RoleSchema)
@blp.response(200, schemas.InvitationSchema)
def change_role(data, room_id, invitation_id):
    """The role, for this guest's next entry and for them now if they are inside."""
    room = owned_room(room_id)
    inv = _invitation(room, invitation_id)
    service.change_role(room, inv.id, inv.role, data["role"], inv.email, me())
    return invitation_json(_fresh(inv.id))


@blp.route("/<int:invitation_id>/send", methods=["POST"])
@blp.response(200, schemas.SendResult)
def send(room_id, invitation_id):
    """Email the guest their link (again). A failure is answered here and kept on the
    invitation (email_status failed, email_error)."""
    room = owned_room(room_id)
    inv = _invitation(room, invitation_id)
    return _sent(service.email_invitations([inv], me()))[0]


@blp.route("/<int:invitation_id>/reset", methods=["POST"])
@blp.response(200, schemas.InvitationSchema)
def reset(room_id, invitation_id):
    """A new link: the old one stops working at once; the new one is unsent."""
    room = owned_room(room_id)
    inv = _invitation(room, invitation_id)
    service.reset(room, inv, me())
    return invitation_json(_fresh(inv.id))


@blp.route("/<int:invitation_id>", methods=["DELETE"])
@blp.response(204)
def revoke(room_id, invitation_id):
    """Off the guest list: the link stops working; a guest whose email went out gets a
    calendar cancellation."""
    room = owned_room(room_id)
    service.remove(room, _invitation(room, invitation_id), me())
