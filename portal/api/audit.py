"""The audit log, newest first, by cursor: a room's (its owner and admins; the owner's
/rooms/<id>/audit reads the same events by page), and every room's with the organisation's
settings (admins only, as the /admin/audit screen: audit.everything reads both)."""

from flask_login import current_user

from .. import audit
from ..models import AuditEvent
from ..owner import owned_room
from . import paging, schemas
from .auth import Blueprint, protect
from .problems import abort

blp = Blueprint("api_audit", __name__, url_prefix="/api/v1",
                description="The audit log: who did what, to which room, and when.")
protect(blp)


def _page(query, limit: int, cursor: str | None) -> dict:
    before = paging.decode(cursor, int)
    if before is not None:
        query = query.where(AuditEvent.id < before[0])
    rows = list(query.order_by(AuditEvent.id.desc()).limit(limit + 1))
    result = paging.page(rows, limit, lambda e: (e.id,))
    result["items"] = [{"id": e.id, "room_id": e.room_id, "action": e.action,
                        "action_words": audit.ACTION_WORDS.get(e.action, e.action),
                        "who": audit.who(e), "target": e.target, "detail": e.detail,
                        "created_at": e.created_at} for e in result["items"]]
    return result


@blp.route("/rooms/<int:room_id>/audit", methods=["GET"])
@blp.arguments(schemas.PageArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditPage)
def audit_log(room_id, limit, cursor):
    """A room's audit log."""
    room = owned_room(room_id)
    return _page(AuditEvent.select().where(AuditEvent.room == room.id), limit, cursor)


@blp.route("/audit", methods=["GET"])
@blp.arguments(schemas.AuditArgs, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditPage)
def everything(limit, cursor, room_id, action):
    """Every room's audit log and the organisation's settings (accounts, domain rules, single
    sign-on, API tokens): admins only. Events outside a room have `room_id` null."""
    if not current_user.is_admin:
        abort(403, "admins_only", "Only an admin reads the whole audit log; a room's log is "
              "at /api/v1/rooms/{room_id}/audit.")
    return _page(audit.everything(room_id, action), limit, cursor)
