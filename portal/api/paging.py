"""Pages by cursor: a page's last item's sort key, opaque to clients, sent back as `cursor`.
Unlike a page number, it neither skips nor repeats items when rows are added meanwhile."""

import base64
import json

from .problems import invalid

BAD_CURSOR = "Not a cursor from this API: pass next_cursor of the previous page."


def encode(*key) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()) \
        .decode().rstrip("=")


def decode(cursor: str | None, *types) -> list | None:
    """The key a cursor carries, each part of the given type; None for no cursor; a 422 naming
    `cursor` for anything else."""
    if cursor is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        invalid({"cursor": [BAD_CURSOR]})
    if not (isinstance(key, list) and len(key) == len(types)
            and all(type(v) is t for v, t in zip(key, types, strict=True))
            and all(abs(v) < 2**63 for v in key if type(v) is int)):
        invalid({"cursor": [BAD_CURSOR]})
    return key


def page(rows: list, limit: int, key) -> dict:
    """`rows` fetched with limit + 1: the page, and the cursor after it if there is more."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": rows, "next_cursor": encode(*key(rows[-1])) if more and rows else None}
