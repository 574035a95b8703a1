"""Admission tickets: the hand-off from Guestgate to the room platform.

A ticket is a short-lived, signed statement — "this person was admitted to this room, with this
role" — that the platform verifies with the shared TICKET_SECRET (itsdangerous, its own salt):

    URLSafeTimedSerializer(TICKET_SECRET, salt="guestgate.admission-ticket")
        .loads(ticket, max_age=120)

It never carries a link token, and the app's own SECRET_KEY is never shared with the platform.
"""

import hashlib
import hmac
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "guestgate.admission-ticket"
MAX_AGE = 120  # seconds: long enough to follow a redirect, too short to pass around
PARAM = "guestgate_ticket"


def ticket_secret(config) -> str:
    """TICKET_SECRET, or one derived from the app's secret key (so sharing it with the platform
    reveals nothing about SECRET_KEY)."""
    if config.get("TICKET_SECRET"):
        return config["TICKET_SECRET"]
    return hmac.new(config["SECRET_KEY"].encode(), b"guestgate admission tickets",
                    hashlib.sha256).hexdigest()


def _serializer(config) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ticket_secret(config), salt=SALT)


def issue(config, participant, now: float | None = None) -> str:
    now = time.time() if now is None else now
    claims = {"room": participant.room_id, "participant": participant.id,
              "name": participant.name, "email": participant.email, "role": participant.role,
              "exp": int(now) + MAX_AGE}
    return _serializer(config).dumps(claims)


def verify(config, ticket: str, max_age: int = MAX_AGE) -> tuple[dict | None, str]:
    """(claims, "") or (None, why the ticket is invalid)."""
    try:
        claims = _serializer(config).loads(ticket.strip(), max_age=max_age)
    except SignatureExpired:
        return None, f"expired: tickets are valid for {max_age} seconds"
    except (BadSignature, UnicodeDecodeError, ValueError):
        return None, "bad signature: the ticket was altered, truncated or signed with another key"
    if not isinstance(claims, dict) or not {"room", "participant", "role"} <= claims.keys():
        return None, "malformed claims"
    return claims, ""


def join_url(base: str, ticket: str) -> str:
    parts = urlsplit(base)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({PARAM: ticket})))
