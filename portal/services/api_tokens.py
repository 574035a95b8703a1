"""Personal access tokens for the REST API: made (shown once), listed, revoked, and checked on
every API request. The "API tokens" screen, the admin's Users screen, the command line and the
API's own authentication call these.

A token is 256 random bits; only its SHA-256 is stored. A fast hash is right here (unlike for
passwords): nobody can guess a 256-bit secret, so there is nothing to slow down, and each API
request checks one in a single indexed lookup. A token works only while its account still has
owner access (broadcaster or admin): a demoted account's tokens stop at once, a removed
account's go with it (ON DELETE CASCADE), and an admin's "Sign out everywhere" revokes them."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from .. import audit, timeutil
from ..audit import Actor
from ..db import database
from ..models import ApiToken, User

PREFIX = "gg_"  # tells a Guestgate token apart in a config file or a secret scanner
SCOPES = ("read", "write")
MAX_DAYS = 365
NAME_MAX = 100
SHOWN_PREFIX = 10  # characters of the token kept to tell tokens apart in the list


class NotAnOwner(Exception):
    """Only accounts with owner access (broadcaster or admin) have tokens."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create(user: User, name: str, scope: str, days: int,
           actor: Actor | None = None) -> tuple[ApiToken, str]:
    """A new token for `user`: its row and the token itself, which is never stored and can't be
    shown again. Raises NotAnOwner."""
    if not user.is_owner:
        raise NotAnOwner()
    if scope not in SCOPES or not 1 <= days <= MAX_DAYS:
        raise ValueError("scope must be read or write, days 1 to 365")
    token = PREFIX + secrets.token_urlsafe(32)
    now = timeutil.utcnow()
    with database.atomic():
        row = ApiToken.create(user=user, name=name, scope=scope, token_hash=hash_token(token),
                              prefix=token[:SHOWN_PREFIX], created_at=now,
                              expires_at=now + timedelta(days=days))
        audit.record("api_token_created", None, f"{name} ({user.email})",
                     detail=f"{scope}, {days} days", actor=actor or Actor.of_account(user))
    return row, token


def live(user: User):
    """The account's tokens not revoked (expired ones too: their owner sees they expired)."""
    return (ApiToken.select().where((ApiToken.user == user) & ApiToken.revoked_at.is_null())
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


def every_live():
    """Every account's unrevoked tokens, for the admin's list."""
    return (ApiToken.select(ApiToken, User).join(User, on=(ApiToken.user == User.id))
            .where(ApiToken.revoked_at.is_null())
            .order_by(User.email, ApiToken.created_at.desc()))


def revoke(token: ApiToken, actor: Actor) -> bool:
    """The token stops working at once. False when it was already revoked."""
    with database.atomic():
        done = ApiToken.update(revoked_at=timeutil.utcnow(), revoked_by=actor.account_id).where(
            (ApiToken.id == token.id) & ApiToken.revoked_at.is_null()).execute() == 1
        if done:
            owner = User.get_by_id(token.user_id)
            audit.record("api_token_revoked", None, f"{token.name} ({owner.email})",
                         actor=actor)
    return done


def revoke_all(user: User, actor: Actor | None = None) -> int:
    """Every token of the account, in the caller's transaction ("Sign out everywhere")."""
    return ApiToken.update(revoked_at=timeutil.utcnow(),
                           revoked_by=actor.account_id if actor is not None else None).where(
        (ApiToken.user == user.id) & ApiToken.revoked_at.is_null()).execute()


# --- checking a request's token -------------------------------------------------------------------

@dataclass
class Refusal:
    """Why a token doesn't open the API: `status` 401 (no usable token) or 403 (a token whose
    account may not use the API), and a stable `code`."""
    status: int
    code: str
    detail: str


MISSING = Refusal(401, "token_missing", "Send an API token: Authorization: Bearer <token>.")
INVALID = Refusal(401, "token_invalid", "This API token isn't valid: it is unknown, revoked "
                  "or expired.")
NOT_OWNER = Refusal(403, "account_not_owner", "The account this token belongs to no longer "
                    "has owner access (broadcaster or admin).")


def check(authorization: str | None, now) -> tuple[ApiToken | None, Refusal | None]:
    """The token an Authorization header carries and its account (token.user), or why not."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None, MISSING
    if not token.startswith(PREFIX) or len(token) > 200 or not token.isascii():
        return None, INVALID
    row = (ApiToken.select(ApiToken, User).join(User, on=(ApiToken.user == User.id))
           .where(ApiToken.token_hash == hash_token(token)).first())
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None, INVALID
    if not row.user.is_owner:
        return None, NOT_OWNER
    return row, None
