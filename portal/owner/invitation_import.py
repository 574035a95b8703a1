"""Invitations from a CSV file (/rooms/ID/invitations/import): upload email, name, role; a
preview of which rows are new, already invited, invalid, outside the domain rules or over the
room's invitation limit; then Send all. A full page; its content is the partial
owner/_invitation_import.html (`invitation_import_context`), ready for the room page's views.
Plain forms, post/redirect/get; htmx is not needed. The rules are services.invitation_import's."""

from flask import flash, redirect, render_template

from ..auth import owner_required
from ..forms import InvitationImportForm, InvitationImportSendForm
from ..models import Room
from ..services import invitation_import as service
from . import bp, me, owned_room
from .cockpit import section_url


def invitation_import_context(room: Room, form=None, preview=None, send_form=None) -> dict:
    """What owner/_invitation_import.html shows: the upload form, and a file's preview."""
    if preview is not None and send_form is None:
        send_form = InvitationImportSendForm(formdata=None, rows=preview.to_send())
    return {"room": room, "import_form": form or InvitationImportForm(formdata=None),
            "import_preview": preview, "import_send_form": send_form,
            "import_kind_words": service.KIND_WORDS,
            "import_max_mb": service.MAX_BYTES // (1024 * 1024)}


def _page(room, status=200, **parts):
    return render_template("owner/invitation_import.html",
                           **invitation_import_context(room, **parts)), status


@bp.get("/<int:room_id>/invitations/import")
@owner_required
def invitation_import(room_id: int):
    return _page(owned_room(room_id))


@bp.post("/<int:room_id>/invitations/import")
@owner_required
def invitation_import_preview(room_id: int):
    room = owned_room(room_id)
    form = InvitationImportForm()
    if room.kind == "channel":
        form.validate()
        form.file.errors = ["Guest access isn't supported for channel rooms."]
        return _page(room, 422, form=form)
    if not form.validate_on_submit():
        return _page(room, 422, form=form)
    # One byte past the limit is enough to know it is too large.
    data = form.file.data.stream.read(service.MAX_BYTES + 1)
    try:
        rows = service.read_file(data)
    except service.BadFile as why:
        form.file.errors = [str(why)]
        return _page(room, 422, form=form)
    return _page(room, preview=service.preview(room, rows))


@bp.post("/<int:room_id>/invitations/import/send")
@owner_required
def invitation_import_send(room_id: int):
    room = owned_room(room_id)
    send_form = InvitationImportSendForm()
    rows = service.rows_to_send(send_form.rows.data) if send_form.validate_on_submit() \
        else None
    if rows is None:
        form = InvitationImportForm(formdata=None)
        form.file.errors = ["Nothing to send from this page: upload the file again."]
        return _page(room, 422, form=form)
    result = service.send_all(room, rows, actor=me())
    if result.added:
        flash(f"Invited {len(result.added)} from the file: "
              f"{', '.join(result.added)}.", "success")
    sent = [e for e in result.added if e not in result.email_errors]
    if sent:
        flash(f"Emailed {len(sent)} their personal link.", "success")
    if result.email_errors:
        flash("Couldn't send the email to " + "; ".join(
            f"{e}: {why}" for e, why in result.email_errors.items())
            + ". The invitations are kept: use Email guest link to try again.", "error")
    if result.refused:
        flash("Not invited (changed since the preview): " + "; ".join(
            f"{e} ({why})" for e, why in result.refused) + ".", "error")
    return redirect(section_url(room, "invitations"), 303)
