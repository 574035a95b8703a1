"""Signed tokens. Nothing is stored: a link token is `(id, version)` signed with the app's secret
key and salted per kind, so it can be shown again (Copy link), can't be forged, and dies when the
version is bumped (reset) or the row is flagged (delete / remove).

Secret keys come newest first (SECRET_KEYS); itsdangerous signs with the *last* key of its list
and verifies with all of them, so the list is reversed here.
"""

from typing import Any

from itsdangerous import (
    BadData,
    BadSignature,
    SignatureExpired,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode

LINK = "link"
INVITE = "invite"
REGISTER = "register"  # a room's public registration page: (room id, settings version)
REGISTRATION = "registration"  # a registrant's cancel link: (registration id, version)
_SALTS = {LINK: "guestgate.guest-link", INVITE: "guestgate.invitation",
          REGISTER: "guestgate.registration-page", REGISTRATION: "guestgate.registration"}
# A registration's confirmation link: timed (unconfirmed registrations expire)
CONFIRM_SALT = "guestgate.registration-confirm"
RESET_SALT = "guestgate.password-reset"


def _keys(secret_keys) -> list[str]:
    return list(reversed(secret_keys))


def make_token(secret_keys: list[str], kind: str, obj_id: int, version: int) -> str:
    return URLSafeSerializer(_keys(secret_keys), salt=_SALTS[kind]).dumps([obj_id, version])


def read_token(secret_keys: list[str], kind: str, token: str) -> tuple[int, int] | None:
    """(id, version), or None when the token is garbled, forged, of another kind or signed with
    a key that is no longer accepted."""
    if not token or len(token) > 200 or not _canonical(token):
        return None
    try:
        value = URLSafeSerializer(_keys(secret_keys), salt=_SALTS[kind]).loads(token)
    except (BadSignature, UnicodeDecodeError, ValueError):
        return None
    if (isinstance(value, list) and len(value) == 2
            and all(type(v) is int and 0 < v < 2**62 for v in value)):
        return value[0], value[1]
    return None


def _canonical(token: str) -> bool:
    """Whether the signature is spelled as we sign it. itsdangerous decodes signatures leniently
    (characters outside base64's alphabet are skipped), so one link could be spelled in
    countless ways that all verify — and escape every limit kept per spelling."""
    _value, dot, signature = token.rpartition(".")
    try:
        return bool(dot) and base64_encode(base64_decode(signature)).decode() == signature
    except BadData:
        return False


def timed_dumps(secret_keys: list[str], salt: str, payload: Any) -> str:
    return URLSafeTimedSerializer(_keys(secret_keys), salt=salt).dumps(payload)


def timed_loads(secret_keys: list[str], salt: str, token: str, max_age: int) -> tuple[Any, str]:
    """(payload, "") or (None, why it is invalid). Give a token that opens an account only the
    current key: whoever holds a retired key can sign anything with it."""
    try:
        serializer = URLSafeTimedSerializer(_keys(secret_keys), salt=salt)
        return serializer.loads(token, max_age=max_age), ""
    except SignatureExpired:
        return None, "expired"
    except (BadSignature, UnicodeDecodeError, ValueError):
        return None, "bad signature"
