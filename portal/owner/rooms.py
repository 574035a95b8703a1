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

from .. import audit, denials, join, meetings, timeutil
from ..attachments import send_attachment, upload_folder
from ..auth import owner_required
from ..db import database
from ..forms import AttachmentForm, HostMessageForm, RoomForm
from ..models import Attachment, Room
from ..rooms import save as save_room
from ..services import calendar_updates, webhooks
from ..web import answer, see_other
from . import bp, me, owned_room, room_context

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
    query = Room.live().order_by(Room.starts_at.desc())
    if not current_user.is_admin:
        query = query.where(Room.owner == current_user.id)
    rooms = list(query)
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


def _apply(form: RoomForm, room: Room) -> None:
    room.title = form.title.data
    room.description = form.description.data or ""
    room.speakers = "\n".join(s.strip() for s in (form.speakers.data or "").splitlines()
                              if s.strip())
    room.starts_at = timeutil.to_utc(form.starts_at.data, form.timezone.data)
    room.ends_at = timeutil.to_utc(form.ends_at.data, form.timezone.data)
    room.timezone = form.timezone.data
    room.kind = form.kind.data
    room.require_approval = form.require_approval.data
    room.require_email_match = form.require_email_match.data
    room.consent_required = form.consent_required.data
    text = form.consent_text.data or ""
    if text != room.consent_text:
        # A new version for a new text: each agreement keeps the version its guest read, and
        # anyone who agreed to an older one is asked again when they next open their link.
        room.consent_text = text
        room.consent_version = (room.consent_version or 0) + 1 if text else room.consent_version
    room.join_url = form.join_url.data or None
    if "platform" in form:  # only when a platform is configured
        room.platform = form.platform.data  # the meeting's name is Guestgate's (rooms.save)
    if room.kind == "channel":
        room.guest_access_enabled = False  # not supported for channel rooms
    room.updated_at = timeutil.utcnow()


@bp.route("/new", methods=["GET", "POST"])
@owner_required
def new_room():
    form = _room_form()
    if form.validate_on_submit():
        room = Room(owner=current_user.id)
        _apply(form, room)
        with database.atomic():
            save_room(room)
            audit.record("room_created", room, room.title)
        flash(f"Room “{room.title}” created.", "success")
        return redirect(url_for("owner.room", room_id=room.id), 303)
    return render_template("owner/room_form.html", form=form, room=None), \
        422 if form.errors else 200


@bp.get("/<int:room_id>")
@owner_required
def room(room_id: int):
    room = owned_room(room_id)
    return render_template("owner/room.html", **room_context(room))


def details_context(room: Room) -> dict:
    """The room page's own parts: details, the host's message, attachments."""
    return {"room": room, "now": timeutil.utcnow(),
            "can_join": meetings.can_join(current_app.config, room.platform, room.join_url),
            "platform_labels": meetings.LABELS,
            "attachments": list(room.attachments.order_by(Attachment.uploaded_at)),
            "attachment_form": AttachmentForm(),
            "message_form": HostMessageForm(message=room.host_message)}


@bp.route("/<int:room_id>/edit", methods=["GET", "POST"])
@owner_required
def edit_room(room_id: int):
    room = owned_room(room_id)
    form = _room_form(room)
    if form.validate_on_submit():
        before = calendar_updates.event_facts(room)
        consent_before = room.consent_version
        _apply(form, room)
        with database.atomic():
            save_room(room)
            audit.record("room_edited", room, room.title)
            # room.updated: written where the room is saved today; moves with this transaction
            # into portal/services/rooms.py (the API's work).
            webhooks.emit("room.updated", room, {"changed": ["details"],
                                                 "by": webhooks.actor_data(me())})
            if room.consent_version != consent_before:
                audit.record("consent_text_changed", room, room.title,
                             detail=f"version {room.consent_version}")
            # Calendars that hold the invitation follow a new time or title.
            updated = calendar_updates.event_facts(room) != before \
                and calendar_updates.prepare(room)
        if updated:
            calendar_updates.send_later(updated, calendar_updates.UPDATE, current_user.id)
        flash("Room saved.", "success")
        return redirect(url_for("owner.room", room_id=room.id), 303)
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
    return join.to_meeting(room, attendee, back=url_for("owner.room", room_id=room.id))


@bp.post("/<int:room_id>/delete")
@owner_required
def delete_room(room_id: int):
    room = owned_room(room_id)
    with database.atomic():
        Room.update(deleted_at=timeutil.utcnow(), guest_access_enabled=False).where(
            Room.id == room.id).execute()
        audit.record("room_deleted", room, room.title)
        # room.deleted: moves with this transaction into portal/services/rooms.py (the API's).
        webhooks.emit("room.deleted", room, {"by": webhooks.actor_data(me())})
        cancelled = calendar_updates.prepare(room)
    if cancelled:
        calendar_updates.send_later(cancelled, calendar_updates.CANCEL, current_user.id)
    flash(f"Room “{room.title}” deleted. Its links now answer that the room is no longer "
          "available.", "success")
    return see_other("owner.rooms")


@bp.post("/<int:room_id>/message")
@owner_required
def host_message(room_id: int):
    """The host's message to everyone waiting (countdown and waiting pages pick it up)."""
    room = owned_room(room_id)
    form = HostMessageForm()
    back = url_for("owner.room", room_id=room.id, _anchor="host-message")
    if not form.validate_on_submit():
        return answer("owner/_host_message.html",
                      lambda: {"room": room, "message_form": form, "message_saved": False},
                      "owner/room.html", lambda: {**room_context(room), "message_form": form},
                      back=back, status=422)
    room.host_message = form.message.data or ""
    with database.atomic():
        Room.update(host_message=room.host_message, updated_at=timeutil.utcnow()).where(
            Room.id == room.id).execute()
        audit.record("host_message_set" if room.host_message else "host_message_cleared",
                     room, room.host_message)
    saved = HostMessageForm(formdata=None, message=room.host_message)
    return answer("owner/_host_message.html",
                  lambda: {"room": room, "message_form": saved, "message_saved": True},
                  "owner/room.html", lambda: room_context(room), back=back,
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
    return redirect(url_for("owner.room", room_id=room.id, _anchor="attachments"), 303)


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
    return redirect(url_for("owner.room", room_id=room.id, _anchor="attachments"), 303)


@bp.get("/<int:room_id>/attachments/<int:attachment_id>")
@owner_required
def download_attachment(room_id: int, attachment_id: int):
    room = owned_room(room_id)
    attachment = Attachment.get_or_none((Attachment.id == attachment_id)
                                        & (Attachment.room == room))
    if attachment is None:
        abort(404)
    return send_attachment(attachment)
