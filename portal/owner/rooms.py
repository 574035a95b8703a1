"""Rooms: list, create, edit, delete, attachments."""

import secrets
from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.utils import secure_filename

from .. import audit, denials, join, meetings, push, timeutil
from ..attachments import send_attachment, upload_folder
from ..auth import owner_required
from ..db import database
from ..forms import AttachmentForm, HostMessageForm, RoomForm
from ..models import Attachment, Room
from ..services import rooms as room_service
from ..web import answer, see_other
from . import bp, me, owned_room
from .cockpit import section_url, shown_on, view_context, view_url

# Types people share before a session; the served Content-Type comes from this table, never
# from what the browser claimed.
ATTACHMENT_TYPES = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "txt": "text/plain",
    "csv": "text/csv",
    "md": "text/markdown",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
MAX_ATTACHMENTS_PER_ROOM = 20


@bp.get("/")
@owner_required
def rooms():
    rooms = list(room_service.visible_to(current_user).order_by(Room.starts_at.desc()))
    # Trouble before the session: denials of the last 24 hours, one grouped query for all rooms.
    denied = denials.rooms_denied_since([r.id for r in rooms], denials.window_start(24))
    return render_template("owner/rooms.html", rooms=rooms, now=timeutil.utcnow(),
                           denied_last_day=denied)


def _room_form(room: Room | None = None) -> RoomForm:
    zone = current_user.timezone or "UTC"
    if room is None:
        start = timeutil.to_local(timeutil.utcnow() + timedelta(hours=1), zone)
        start = start.replace(minute=0, second=0, tzinfo=None)
        form = RoomForm(starts_at=start, ends_at=start + timedelta(hours=1), timezone=zone)
    else:
        # The room's own zone (its obj value wins over the keyword): the times read as entered.
        form = RoomForm(obj=room)
        if request.method == "GET":
            zone = room.timezone if timeutil.is_valid_zone(room.timezone) else zone
            form.timezone.data = zone
            form.starts_at.data = timeutil.to_local(room.starts_at, zone).replace(tzinfo=None)
            form.ends_at.data = timeutil.to_local(room.ends_at, zone).replace(tzinfo=None)
    return form


@bp.route("/new", methods=["GET", "POST"])
@owner_required
def new_room():
    form = _room_form()
    if form.validate_on_submit() and _saved(form, lambda values: room_service.create(
            current_user, values, actor=me())):
        room = form.saved
        flash(f"Room “{room.title}” created.", "success")
        return redirect(url_for("owner.room", room_id=room.id), 303)
    return render_template("owner/room_form.html", form=form, room=None), \
        422 if form.errors else 200


def _saved(form: RoomForm, save) -> bool:
    """The service's answer to the form's values; a rule it refuses shows on its field."""
    try:
        form.saved = save(form.values())
    except room_service.Invalid as invalid:
        for name, messages in invalid.errors.items():
            getattr(form, name).errors = [*getattr(form, name).errors, *messages]
        return False
    return True


@shown_on("details")
def details_context(room: Room) -> dict:
    """The Details view: the room's settings and attachments."""
    return {"room": room, "now": timeutil.utcnow(),
            "can_join": meetings.can_join(current_app.config, room.platform, room.join_url),
            "platform_labels": meetings.LABELS,
            "attachments": list(room.attachments.order_by(Attachment.uploaded_at)),
            "attachment_form": AttachmentForm()}


@bp.route("/<int:room_id>/edit", methods=["GET", "POST"])
@owner_required
def edit_room(room_id: int):
    room = owned_room(room_id)
    form = _room_form(room)
    if form.validate_on_submit() and _saved(form, lambda values: room_service.update(
            room, values, actor=me())):
        flash("Room saved.", "success")
        return redirect(view_url(room, "details"), 303)
    return render_template("owner/room_form.html", form=form, room=room), \
        422 if form.errors else 200


@bp.get("/<int:room_id>/join")
@owner_required
def join_as_host(room_id: int):
    """Join as host: the owner (or an admin) enters the meeting as its moderator."""
    room = owned_room(room_id)
    attendee = meetings.Attendee(identity=f"user-{current_user.id}",
                                 name=current_user.name or current_user.email.split("@")[0],
                                 email=current_user.email, role="moderator",
                                 email_source="account")
    return join.to_meeting(room, attendee, back=view_url(room, "live"))


@bp.post("/<int:room_id>/delete")
@owner_required
def delete_room(room_id: int):
    room = owned_room(room_id)
    room_service.delete(room, actor=me())
    flash(f"Room “{room.title}” deleted. Its links now answer that the room is no longer "
          "available.", "success")
    return see_other("owner.rooms")


@bp.post("/<int:room_id>/message")
@owner_required
def host_message(room_id: int):
    """The host's message to everyone waiting (countdown and waiting pages pick it up)."""
    room = owned_room(room_id)
    form = HostMessageForm()
    back = section_url(room, "host-message")
    if not form.validate_on_submit():
        return answer("owner/_host_message.html",
                      lambda: {"room": room, "message_form": form, "message_saved": False},
                      "owner/room.html", lambda: view_context(room, "live", message_form=form),
                      back=back, status=422)
    room.host_message = form.message.data or ""
    with database.atomic():
        Room.update(host_message=room.host_message, updated_at=timeutil.utcnow()).where(
            Room.id == room.id).execute()
        audit.record("host_message_set" if room.host_message else "host_message_cleared",
                     room, room.host_message)
        push.room_news(room.id)
    saved = HostMessageForm(formdata=None, message=room.host_message)
    return answer("owner/_host_message.html",
                  lambda: {"room": room, "message_form": saved, "message_saved": True},
                  "owner/room.html", lambda: view_context(room, "live"), back=back,
                  flashes=[("success", "Message to waiting guests saved." if room.host_message
                            else "Message to waiting guests removed.")])


# --- attachments -------------------------------------------------------------------------------

@bp.post("/<int:room_id>/attachments")
@owner_required
def upload_attachment(room_id: int):
    room = owned_room(room_id)
    form = AttachmentForm()
    error = None
    if not form.validate_on_submit():
        error = "; ".join(e for errs in form.errors.values() for e in errs)
    else:
        upload = form.file.data
        original = (upload.filename or "").strip()
        safe = secure_filename(original) or "file"
        ext = safe.rsplit(".", 1)[-1].lower() if "." in safe else ""
        largest = current_app.config["MAX_UPLOAD_BYTES"]
        data = upload.stream.read(largest + 1)
        if ext not in ATTACHMENT_TYPES:
            error = ("This type of file can't be attached. Allowed: "
                     + ", ".join(sorted(ATTACHMENT_TYPES)) + ".")
        elif len(data) > largest:
            error = f"The file is larger than {largest / (1024 * 1024):g} MB."
        elif not data:
            error = "The file is empty."
        else:
            stored = f"{secrets.token_hex(16)}.{ext}"
            path = upload_folder() / stored
            path.touch(0o600, exist_ok=False)  # owner-only whatever the umask
            path.write_bytes(data)  # before the transaction: the room stays unlocked meanwhile
            added = False
            try:
                with database.atomic():
                    room.lock()  # counted under the lock, so concurrent uploads can't overshoot
                    full = room.attachments.count() >= MAX_ATTACHMENTS_PER_ROOM
                    if not full:
                        Attachment.create(room=room, filename=original[:255] or safe,
                                          stored_name=stored,
                                          content_type=ATTACHMENT_TYPES[ext], size=len(data))
                        audit.record("attachment_added", room, original[:255])
                added = not full
            finally:
                if not added:
                    path.unlink(missing_ok=True)  # never a file without its row
            if added:
                # A name of any length would overflow the session cookie the flash travels in.
                shown = original if len(original) <= 80 else original[:79] + "…"
                flash(f"“{shown}” attached.", "success")
            else:
                error = f"A room can have at most {MAX_ATTACHMENTS_PER_ROOM} attachments."
    if error:
        flash(error, "error")
    return redirect(section_url(room, "attachments"), 303)


@bp.post("/<int:room_id>/attachments/<int:attachment_id>/delete")
@owner_required
def delete_attachment(room_id: int, attachment_id: int):
    room = owned_room(room_id)
    attachment = Attachment.get_or_none((Attachment.id == attachment_id)
                                        & (Attachment.room == room))
    if attachment is None:
        abort(404)
    with database.atomic():
        attachment.delete_instance()
        audit.record("attachment_removed", room, attachment.filename)
    (upload_folder() / attachment.stored_name).unlink(missing_ok=True)
    flash(f"“{attachment.filename}” removed.", "success")
    return redirect(section_url(room, "attachments"), 303)


@bp.get("/<int:room_id>/attachments/<int:attachment_id>")
@owner_required
def download_attachment(room_id: int, attachment_id: int):
    room = owned_room(room_id)
    attachment = Attachment.get_or_none((Attachment.id == attachment_id)
                                        & (Attachment.room == room))
    if attachment is None:
        abort(404)
    return send_attachment(attachment)
