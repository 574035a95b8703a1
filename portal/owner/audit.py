"""The audit log as people read it: a room's log for its owner (/rooms/<id>/audit) and every
room's log for admins (/admin/audit, filterable by room and action). Newest first, paginated;
both read AuditEvent through its (room, created_at) and (action, created_at) indexes."""

from flask import render_template, request
from peewee import JOIN

from ..admin import bp as admin_bp
from ..auth import admin_required, owner_required
from ..models import AuditEvent, Room
from . import bp, owned_room

PER_PAGE = 50

# What each action means, for the host reading the log. Unknown actions show their code.
ACTION_WORDS = {
    "room_created": "Created the room",
    "room_edited": "Edited the room",
    "room_deleted": "Deleted the room",
    "host_message_set": "Set the message to waiting guests",
    "host_message_cleared": "Removed the message to waiting guests",
    "attachment_added": "Attached a file",
    "attachment_removed": "Removed a file",
    "guest_access_on": "Turned guest access on",
    "guest_access_off": "Turned guest access off",
    "link_created": "Created a guest link",
    "link_deleted": "Deleted a guest link",
    "link_extended": "Extended a guest link",
    "link_limit_raised": "Raised a guest link's click limit",
    "invited": "Invited a guest",
    "invitation_emailed": "Emailed a guest link",
    "invitation_reset": "Reset a guest link",
    "invitation_removed": "Removed a guest",
    "role_changed": "Changed a guest's role",
    "guest_admitted": "Admitted a guest",
    "guest_denied": "Denied a guest",
    "user_added": "Added a user",
    "user_signed_out": "Signed a user out everywhere",
    "access_changed": "Changed a user's access",
    "domain_rule_added": "Added a domain rule",
    "domain_rule_removed": "Removed a domain rule",
}


def page_number() -> int:
    """?page=N, anything else is page 1 (never a 500 on a made-up value)."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def paginate(query, page: int) -> dict:
    total = query.count()
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    events = list(query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                  .paginate(page, PER_PAGE))
    return {"events": events, "page": page, "pages": pages, "total": total,
            "action_words": ACTION_WORDS}


@bp.get("/<int:room_id>/audit")
@owner_required
def room_audit(room_id: int):
    room = owned_room(room_id)
    query = AuditEvent.select().where(AuditEvent.room == room.id)
    return render_template("owner/audit.html", room=room, **paginate(query, page_number()))


@admin_bp.get("/audit")
@admin_required
def audit_log():
    room_id = request.args.get("room", "")
    action = request.args.get("action", "")
    query = (AuditEvent.select(AuditEvent, Room)
             .join(Room, JOIN.LEFT_OUTER, on=(AuditEvent.room == Room.id), attr="room"))
    room_filter = int(room_id) if room_id.isdigit() and len(room_id) < 12 else None
    if room_filter is not None:
        query = query.where(AuditEvent.room == room_filter)
    # The known actions (not a DISTINCT over the whole log, which would read all of it).
    actions = sorted(ACTION_WORDS, key=ACTION_WORDS.get)
    action_filter = action if action in ACTION_WORDS else None
    if action_filter is not None:
        query = query.where(AuditEvent.action == action_filter)
    rooms = list(Room.select(Room.id, Room.title, Room.deleted_at).order_by(Room.title, Room.id))
    return render_template("admin/audit.html", rooms=rooms, actions=actions,
                           room_filter=room_filter, action_filter=action_filter,
                           **paginate(query, page_number()))
