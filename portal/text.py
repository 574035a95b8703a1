"""Rules for text people type, shared by the forms (portal/forms.py) and the API's schemas
(portal/api/): trimmed, CRLF made LF, and no control or text-direction characters."""

import re

from flask_babel import gettext

# Multi-line text keeps tabs and line breaks (browsers send a textarea's lines as CRLF).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
# Bidirectional controls (U+202E and kin) reorder the text around them, so a name or a file
# name would read differently on the host's screen from what it is.
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def unix_newlines(value):
    return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else value


def control_characters_problem(text, multiline: bool = False) -> str | None:
    """Why `text` can't be kept as it is, or None."""
    if not isinstance(text, str):
        return None
    if (_CONTROL if multiline else _CONTROL_OR_NEWLINE).search(text):
        return gettext("Remove the control characters (such as line breaks).")
    if _BIDI.search(text):
        return gettext("Remove the invisible characters that change the direction of the text.")
    return None
