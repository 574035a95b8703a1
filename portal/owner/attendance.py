"""A room's attendance (/rooms/ID/attendance): who registered, who got a place, who entered,
when they entered and left the room page and joined the live session, how long they stayed;
and the same as a CSV file. A full page; its content is the partial owner/_attendance.html
(`attendance_context`), ready for the room page's views. The rules are services.attendance's."""

from flask import make_response, render_template

from ..auth import owner_required
from ..csvfiles import to_csv
from ..models import Room
from ..services import attendance as service
from . import bp, owned_room


def attendance_context(room: Room) -> dict:
    """What owner/_attendance.html shows."""
    people = service.attendance(room)
    return {"room": room, "attendees": people,
            "attendance_counts": {
                "registered": sum(1 for a in people if a.registration),
                "approved": sum(1 for a in people if a.approved == "yes"),
                "entered": sum(1 for a in people if a.entered),
                "joined_live": sum(1 for a in people if a.joined_live_at)}}


@bp.get("/<int:room_id>/attendance")
@owner_required
def attendance(room_id: int):
    room = owned_room(room_id, allow_deleted=True)
    return render_template("owner/attendance.html", **attendance_context(room))


@bp.get("/<int:room_id>/attendance/export.csv")
@owner_required
def attendance_export(room_id: int):
    room = owned_room(room_id, allow_deleted=True)
    response = make_response(to_csv(*service.export_rows(room)))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = \
        f'attachment; filename="attendance-room-{room.id}.csv"'
    return response
