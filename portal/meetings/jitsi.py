"""Jitsi Meet with JWT authentication (prosody's token verifier).

Jitsi checks the HS256 signature with JWT_APP_SECRET, `iss` against JWT_APP_ID, `aud` against
its accepted audiences, `room` against the conference joined, and `nbf` / `exp` with no leeway.
`context.user.affiliation` says who moderates, when the `token_affiliation` plugin is installed
(stock Jitsi makes every token holder a moderator otherwise; see docs/platforms.md).

Jitsi takes context.user as the server's word about who this is: prosody keeps it with the
session, `presence_identity` shows every field of it to everyone in the meeting, and plugins
pass it on (the event webhooks send its `email`). So the email is there only where it was
verified — a shared-link guest's typed address, or an invitation's that nobody confirmed, is
left out — and `email_source` says how it was established (the ticket's vocabulary). Every
field is a string: presence_identity writes each as text, and prosody refuses anything else."""

from urllib.parse import quote, urlsplit

import jwt

from .common import LIFETIME

SETTINGS = ("JITSI_URL", "JITSI_APP_ID", "JITSI_APP_SECRET")
OPTIONAL = {"JITSI_AUDIENCE": "jitsi"}  # the "aud" prosody expects (its default)
NOT_BEFORE_SKEW = 5  # seconds: a Jitsi server whose clock runs a little behind still accepts it


def check(config) -> None:
    url = urlsplit(config["JITSI_URL"])
    if url.scheme not in ("https", "http") or not url.netloc:
        raise ValueError("JITSI_URL must be the web address of your Jitsi Meet, "
                         "e.g. https://meet.example.org")


def token(config, meeting, attendee, now: float) -> str:
    claims = {
        "iss": config["JITSI_APP_ID"],
        "aud": config.get("JITSI_AUDIENCE") or OPTIONAL["JITSI_AUDIENCE"],
        "sub": "*",  # any tenant: the token is bound to one room by `room`
        "room": meeting.name.lower(),
        "nbf": int(now) - NOT_BEFORE_SKEW,
        "exp": int(now) + LIFETIME,
        "context": {"user": {
            "id": attendee.identity,
            "name": attendee.name,
            **({"email": attendee.email} if attendee.email_verified else {}),
            "email_source": attendee.email_source,
            "affiliation": "owner" if attendee.role == "moderator" else "member",
        }},
    }
    return jwt.encode(claims, config["JITSI_APP_SECRET"], algorithm="HS256",
                      headers={"typ": "JWT"})


def join_url(config, meeting, attendee, now: float) -> str:
    base = config["JITSI_URL"].rstrip("/")
    # Guestgate is the lobby: Jitsi's own pre-join screen is skipped.
    return (f"{base}/{quote(meeting.name.lower())}?jwt={token(config, meeting, attendee, now)}"
            "#config.prejoinConfig.enabled=false")
