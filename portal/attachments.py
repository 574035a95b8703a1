"""Where room attachments are kept and how they are served: the owner's download and the
admitted guest's download both answer through `send_attachment`."""

from pathlib import Path

from flask import current_app, send_from_directory

from .models import Attachment


def upload_folder() -> Path:
    path = Path(current_app.config["UPLOAD_FOLDER"])
    path.mkdir(mode=0o700, parents=True, exist_ok=True)  # private, like instance/
    return path


def send_attachment(attachment: Attachment):
    """The owner's and the admitted guest's download."""
    response = send_from_directory(upload_folder(), attachment.stored_name,
                                   mimetype=attachment.content_type, as_attachment=True,
                                   download_name=attachment.filename)
    # As private as the room: no shared cache or browser keeps a copy after access ends.
    response.headers["Cache-Control"] = "private, no-store"
    return response
