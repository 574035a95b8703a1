"""A room's audit log, newest first, by cursor (the owner's /rooms/<id>/audit reads the same
events by page)."""


from .. import audit
from ..models import AuditEvent
from ..owner import owned_room
from . import paging, schemas
from .auth import Blueprint, protect

blp = Blueprint("api_audit", __name__, url_prefix="/api/v1/rooms/<int:room_id>/audit",
                description="The audit log: who did what to the room, and when.")
protect(blp)


@blp.route("", methods=["GET"])
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditPage)
def audit_log(room_id, limit, cursor):
    room = owned_room(room_id)
    query = AuditEvent.select().where(AuditEvent.room == room.id)
    before = paging.decode(cursor, int)
    if before is not None:
        query = query.where(AuditEvent.id < before[0])
    rows = list(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
    result = paging.page(rows, limit, lambda e: (e.id,))
    result["items"] = [{"id": e.id, "action": e.action,
                        "action_words": audit.ACTION_WORDS.get(e.action, e.action),
                        "who": audit.who(e), "target": e.target, "detail": e.detail,
                        "created_at": e.created_at} for e in result["items"]]
    return result
