"""Why guests couldn't join a room: counts by reason (last 24 hours, 7 days, all time) and the
newest events (portal/services/denial_reasons.py, as the room page's panel reads them)."""


from ..decision import REASONS
from ..owner import owned_room
from ..services import denial_reasons
from . import schemas
from .auth import Blueprint, protect

blp = Blueprint("api_denials", __name__, url_prefix="/api/v1/rooms/<int:room_id>/denials",
                description="Denial reasons: who was turned away at the door, and why.")
protect(blp)


@blp.route("", methods=["GET"])
@blp.arguments(schemas.DenialArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.DenialsSchema)
def denials(room_id, limit):
    """`counts`, most frequent first; `recent`: the newest `limit` events (a room keeps its
    last DENIAL_EVENTS_PER_ROOM)."""
    room = owned_room(room_id)
    counts = denial_reasons.reason_counts(room)
    rows = sorted(counts.items(), key=lambda item: (-item[1]["all"], item[0]))
    return {
        "counts": [{"reason": code, "words": REASONS[code].host_words if code in REASONS
                    else code, **n} for code, n in rows],
        "recent": [{"id": e.id, "reason": e.reason, "email": e.email, "link_id": e.link_id,
                    "invitation_id": e.invitation_id, "created_at": e.created_at}
                   for e in denial_reasons.recent_events(room, limit)],
    }
