"""A room's attendance, a section of the room page's Insights view (#attendance): who
registered, who got a place, who entered, when they entered and left the room page and joined
the live session, how long they stayed — the first people on the screen, everyone in the CSV
file. The rules are services.attendance's.

/rooms/ID/attendance, once a page of its own, leads to the section; for a deleted room (whose
views are gone) it is still the page, so what happened there can be read afterwards."""

from flask import make_response, redirect, render_template

from ..auth import owner_required
from ..csvfiles import to_csv
from ..models import Room
from ..services import attendance as service
from . import bp, owned_room
from .cockpit import section_url, shown_on

# People listed on the screen, in the order they first appeared (the CSV has everyone): the
# view stays one page and a handful of queries however many came.
SHOWN = 50


@shown_on("insights")
def attendance_section(room: Room) -> dict:
    """What owner/_attendance.html shows: the counts, and the first SHOWN people."""
    emails = service.first_emails(room, SHOWN)
    if not emails:
        return {"attendees": [], "attendance_total": 0, "attendance_counts": {
            "registered": 0, "approved": 0, "entered": 0, "joined_live": 0}}
    order = {email: n for n, email in enumerate(emails)}
    people = sorted(service.attendance(room, emails=emails), key=lambda a: order[a.email])
    total = service.people_count(room) if len(emails) >= SHOWN else len(emails)
    return {"attendees": people, "attendance_total": total,
            "attendance_counts": service.counts(room)}


@bp.get("/<int:room_id>/attendance")
@owner_required
def attendance(room_id: int):
    room = owned_room(room_id, allow_deleted=True)
    if not room.is_deleted:
        return redirect(section_url(room, "attendance"), 302)
    return render_template("owner/attendance.html", room=room, **attendance_section(room))


@bp.get("/<int:room_id>/attendance/export.csv")
@owner_required
def attendance_export(room_id: int):
    room = owned_room(room_id, allow_deleted=True)
    response = make_response(to_csv(*service.export_rows(room)))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = \
        f'attachment; filename="attendance-room-{room.id}.csv"'
    return response
