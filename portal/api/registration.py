"""Registration for a room: its options and the public page's link, the registrations with their
answers (by cursor), and the hosts' Approve and Decline in bulk — portal/services/registration.py,
as the Registration section of the room's Access view calls it."""


from .. import timeutil
from ..models import Room
from ..owner import me, owned_room
from ..services import registration as service
from ..services.rooms import in_utc
from . import paging, schemas
from .auth import Blueprint, protect
from .problems import invalid

blp = Blueprint("api_registration", __name__, url_prefix="/api/v1/rooms/<int:room_id>",
                description="Registration: the options, the registrations and their answers, "
                            "approve and decline.")
protect(blp)


def settings_json(room: Room) -> dict:
    settings = service.settings_of(room)
    return {"enabled": settings.enabled, "mode": settings.mode, "capacity": settings.capacity,
            "taken": settings.taken, "places_left": service.places_left(settings),
            "opens_at": settings.opens_at, "closes_at": settings.closes_at,
            "page_url": service.page_url(room), "questions": service.questions_of(settings)}


@blp.route("/registration", methods=["GET"])
@blp.response(200, schemas.RegistrationSettingsSchema)
def get_settings(room_id):
    return settings_json(owned_room(room_id))


@blp.route("/registration", methods=["PUT"])
@blp.arguments(schemas.RegistrationSettingsWrite)
@blp.response(200, schemas.RegistrationSettingsSchema)
def put_settings(data, room_id):
    """All the options at once (those left out take their defaults). A larger capacity, or
    none, moves people up from the waitlist at once (each is emailed); a smaller one takes
    nobody's place away."""
    room = owned_room(room_id)
    zone = room.timezone or "UTC"
    for name in ("opens_at", "closes_at"):
        if data[name] is not None:
            data[name] = in_utc(data[name], zone)
    try:
        service.save_settings(room, **data, actor=me())
    except service.Invalid as exc:
        invalid(exc.errors)
    return settings_json(room)


@blp.route("/registrations", methods=["GET"])
@blp.arguments(schemas.RegistrationListArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.RegistrationPage)
def list_registrations(room_id, limit, cursor, status):
    """In the order they registered; `status` picks one kind (e.g. pending: waiting for your
    approval)."""
    room = owned_room(room_id)
    after = paging.decode(cursor, int)
    rows = service.registrations_after(room, limit + 1, after[0] if after else None, status)
    result = paging.page(rows, limit, lambda r: (r.id,))
    now = timeutil.utcnow()
    positions = service.waitlist_positions(room, [r.id for r in result["items"]])
    result["items"] = [{
        "id": r.id, "name": r.name, "email": r.email,
        "status": "expired" if service.is_expired(r, now) else r.status,
        "answers": r.answer_map, "waitlist_position": positions.get(r.id),
        "invitation_id": r.invitation_id, "created_at": r.created_at,
        "confirmed_at": r.confirmed_at} for r in result["items"]]
    return result


def _decided(outcome: service.Outcome) -> dict:
    return {"done": outcome.done,
            "moved_up": [i for kind, i in outcome.notices if kind == "moved_up"]}


@blp.route("/registrations/approve", methods=["POST"])
@blp.arguments(schemas.RegistrationIds)
@blp.response(200, schemas.RegistrationDecided)
def approve(data, room_id):
    """Approve these pending registrations: each gets a place and their personal link by
    email, or the waitlist when the room is full."""
    return _decided(service.approve(owned_room(room_id), data["ids"], me()))


@blp.route("/registrations/decline", methods=["POST"])
@blp.arguments(schemas.RegistrationIds)
@blp.response(200, schemas.RegistrationDecided)
def decline(data, room_id):
    """Decline these (pending, registered or waitlisted): they are emailed, a registered one's
    personal link stops working, and the first on the waitlist moves up into the place."""
    return _decided(service.decline(owned_room(room_id), data["ids"], me()))
