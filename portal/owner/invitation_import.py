"""Invitations from a CSV file, a section of the room page's Access view (#invitation-import),
below the Guests: upload email, name, role; a preview of which rows are new, already invited,
invalid, outside the domain rules or over the room's invitation limit; then Send all. The rules
are services.invitation_import's.

The preview is an answer, not a place (it carries the file's rows in its Send all form): htmx
swaps it into the section, a plain form gets the Access view with it. Send all answers as the
Guests section's controls do (it adds guests there): htmx gets that section with what happened
(and this one emptied), a plain form the flashes and the view at #invitations. A refusal is
422 with the message, nothing written. /rooms/ID/invitations/import, once a page of its own,
leads to the section."""

from flask import redirect, render_template

from ..auth import owner_required
from ..forms import InvitationImportForm, InvitationImportSendForm
from ..models import Room
from ..services import invitation_import as service
from ..web import is_htmx
from . import bp, me, owned_room
from .cockpit import answer_section, render_view, section_url, shown_on
from .invitations import Notice, invitations_section


@shown_on("access")
def invitation_import_section(room: Room, **overrides) -> dict:
    """What owner/_invitation_import.html shows: the upload form, and a file's preview."""
    preview = overrides.get("import_preview")
    context = {"import_form": InvitationImportForm(formdata=None), "import_preview": None,
               "import_send_form": InvitationImportSendForm(
                   formdata=None, rows=preview.to_send()) if preview is not None else None,
               "import_kind_words": service.KIND_WORDS,
               "import_max_mb": service.MAX_BYTES // (1024 * 1024)}
    context.update(overrides)
    return context


def _refused(room: Room, form: InvitationImportForm):
    return answer_section(room, "owner/_invitation_import.html", invitation_import_section,
                          "invitation-import", status=422, import_form=form)


@bp.get("/<int:room_id>/invitations/import")
@owner_required
def invitation_import(room_id: int):
    """The import screen's old address: the section, in the Access view."""
    return redirect(section_url(owned_room(room_id), "invitation-import"), 302)


@bp.post("/<int:room_id>/invitations/import")
@owner_required
def invitation_import_preview(room_id: int):
    room = owned_room(room_id)
    form = InvitationImportForm()
    if room.kind == "channel":
        form.validate()
        form.file.errors = ["Guest access isn't supported for channel rooms."]
        return _refused(room, form)
    if not form.validate_on_submit():
        return _refused(room, form)
    # One byte past the limit is enough to know it is too large.
    data = form.file.data.stream.read(service.MAX_BYTES + 1)
    try:
        rows = service.read_file(data)
    except service.BadFile as why:
        form.file.errors = [str(why)]
        return _refused(room, form)
    preview = service.preview(room, rows)
    if is_htmx():
        return render_template("owner/_invitation_import.html", room=room,
                               **invitation_import_section(room, import_preview=preview))
    return render_view(room, "access", **invitation_import_section(room, import_preview=preview))


@bp.post("/<int:room_id>/invitations/import/send")
@owner_required
def invitation_import_send(room_id: int):
    room = owned_room(room_id)
    send_form = InvitationImportSendForm()
    rows = service.rows_to_send(send_form.rows.data) if send_form.validate_on_submit() \
        else None
    if rows is None or room.kind == "channel":
        form = InvitationImportForm(formdata=None)
        form.file.errors = ["Nothing to send from this page: upload the file again."]
        return _refused(room, form)
    result = service.send_all(room, rows, actor=me())
    notices = []
    if result.added:
        notices.append(Notice("success", f"Invited {len(result.added)} from the file:",
                              list(result.added)))
    sent = [e for e in result.added if e not in result.email_errors]
    if sent:
        notices.append(Notice("success", f"Emailed {len(sent)} their personal link."))
    if result.email_errors:
        notices.append(Notice("error", "Couldn't send the email to these; the invitations are "
                              "kept: use Email guest link to try again.",
                              [f"{e}: {why}" for e, why in result.email_errors.items()]))
    if result.refused:
        notices.append(Notice("error", "Not invited (changed since the preview):",
                              [f"{e} ({why})" for e, why in result.refused]))
    if not notices:
        notices.append(Notice("info", "Nothing was new to invite."))
    flashes = [(n.category, n.text + (" " + "; ".join(n.items) if n.items else ""))
               for n in notices]
    if is_htmx():
        # The Guests section with the new guests and what happened; this section, emptied,
        # out of band (the form that was sent is gone).
        return render_template("owner/_invitations.html", room=room,
                               **invitations_section(room, invitation_notices=notices)) + \
            render_template("owner/_invitation_import.html", room=room, import_oob=True,
                            **invitation_import_section(room))
    return answer_section(room, "owner/_invitations.html", invitations_section, "invitations",
                          flashes=flashes, invitation_notices=notices)
