"""Other platforms: Guestgate's own admission ticket on the room's join URL.

The ticket is a standard JWT (HS256) signed with TICKET_SECRET, so the platform verifies it with
any JWT library: `jwt.decode(ticket, TICKET_SECRET, algorithms=["HS256"], audience=<the join
URL's origin>)`. It lives 120 seconds, names its audience, and has a unique `jti` (a platform
that remembers the ones it saw can refuse a replay). `email_verified` and `email_source` say how
far the email can be trusted: a guest of a shared link typed it and nobody checked it."""

import hashlib
import hmac
import uuid
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt

from .common import LIFETIME

PARAM = "guestgate_ticket"


def ticket_secret(config) -> str:
    """TICKET_SECRET, or one derived from the app's secret key (sharing it with the platform
    reveals nothing about SECRET_KEY)."""
    if config.get("TICKET_SECRET"):
        return config["TICKET_SECRET"]
    return hmac.new(config["SECRET_KEY"].encode(), b"guestgate admission tickets",
                    hashlib.sha256).hexdigest()


def audience(join_url: str) -> str:
    """The join URL's origin: a ticket for one platform isn't accepted by another."""
    parts = urlsplit(join_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def issue(config, meeting, attendee, now: float) -> str:
    claims = {
        "iss": config["BASE_URL"],
        "aud": audience(meeting.join_url),
        "sub": attendee.identity,
        "jti": uuid.uuid4().hex,
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + LIFETIME,
        "meeting": meeting.name,
        "name": attendee.name,
        "email": attendee.email,
        "email_verified": attendee.email_verified,
        "email_source": attendee.email_source,
        "role": attendee.role,
    }
    return jwt.encode(claims, ticket_secret(config), algorithm="HS256")


def verify(config, ticket: str, audience: str | None = None, leeway: int = 0) \
        -> tuple[dict | None, str]:
    """(claims, "") or (None, why the ticket is invalid): for `flask verify-ticket`."""
    try:
        claims = jwt.decode(ticket.strip(), ticket_secret(config), algorithms=["HS256"],
                            audience=audience, leeway=leeway,
                            options={"require": ["exp", "iat", "jti", "aud", "sub"],
                                     "verify_aud": audience is not None})
    except jwt.ExpiredSignatureError:
        return None, "expired: tickets are valid for 120 seconds"
    except jwt.InvalidAudienceError:
        return None, "wrong audience: the ticket was made for another platform"
    except jwt.InvalidTokenError as exc:
        return None, f"invalid: {exc}"
    return claims, ""


def join_url(config, meeting, attendee, now: float) -> str:
    parts = urlsplit(meeting.join_url)
    query = f"{parts.query}&" if parts.query else ""
    ticket = issue(config, meeting, attendee, now)
    return urlunsplit(parts._replace(query=query + urlencode({PARAM: ticket})))
