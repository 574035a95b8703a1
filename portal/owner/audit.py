"""A room's audit log for its owner (/rooms/<id>/audit), newest first, paginated (read through
AuditEvent's (room, created_at) index). Admins read every room's log at /admin/audit."""

from flask import render_template

from ..audit import page_number, paginate
from ..auth import owner_required
from ..models import AuditEvent
from . import bp, owned_room


@bp.get("/<int:room_id>/audit")
@owner_required
def room_audit(room_id: int):
    room = owned_room(room_id)
    query = AuditEvent.select().where(AuditEvent.room == room.id)
    return render_template("owner/audit.html", room=room, **paginate(query, page_number()))
