"""Galène: a JWT for one group, signed with the group's shared HS256 key (an `authKeys` entry of
the group's configuration). Galène requires `exp`, checks `iat`, and accepts the token only for
the group whose URL is its `aud`; `sub` becomes the user name and `permissions` what they may do."""

import base64
import binascii
from urllib.parse import quote, urlsplit

import jwt

from .common import LIFETIME

SETTINGS = ("GALENE_URL", "GALENE_KEY")
OPTIONAL = {"GALENE_KEY_ID": ""}  # the key's "kid", when the group names one
PERMISSIONS = {"moderator": ["op", "present", "message"], "speaker": ["present", "message"],
               "viewer": ["message"]}


def key(config) -> bytes:
    raw = config["GALENE_KEY"].strip()
    return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))


def check(config) -> None:
    url = urlsplit(config["GALENE_URL"])
    if url.scheme not in ("https", "http") or not url.netloc:
        raise ValueError("GALENE_URL must be the web address of your Galène server, "
                         "e.g. https://galene.example.org:8443")
    try:
        length = len(key(config))
    except (binascii.Error, ValueError):
        length = -1
    if length != 32:
        raise ValueError("GALENE_KEY must be the group's HS256 key: 32 bytes, base64url "
                         "(the `k` of its authKeys entry)")


def group_url(config, meeting) -> str:
    return f"{config['GALENE_URL'].rstrip('/')}/group/{quote(meeting.name)}/"


def token(config, meeting, attendee, now: float) -> str:
    claims = {"sub": attendee.name, "aud": group_url(config, meeting),
              "permissions": PERMISSIONS[attendee.role],
              "iat": int(now), "exp": int(now) + LIFETIME}
    headers = {"kid": config["GALENE_KEY_ID"]} if config.get("GALENE_KEY_ID") else None
    return jwt.encode(claims, key(config), algorithm="HS256", headers=headers)


def join_url(config, meeting, attendee, now: float) -> str:
    return f"{group_url(config, meeting)}?token={token(config, meeting, attendee, now)}"
