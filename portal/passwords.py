"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
# The hash of an account nobody has chosen a password for yet (a guest-only profile until
# "Forgot password"): matches no password. Storing it costs nothing, where hashing a random
# password would cost Argon2's time inside the caller's transaction.
UNUSABLE = "!"
_hasher = PasswordHasher()
# A hash to verify against when the account doesn't exist, so both cases take the same time.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    # No account or no password yet: verify against the dummy anyway, so the answer takes the
    # same time and doesn't tell which accounts exist or have a password.
    usable = bool(password_hash) and not password_hash.startswith(UNUSABLE)
    try:
        return _hasher.verify(password_hash if usable else _DUMMY, password) and usable
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def random_password() -> str:
    return secrets.token_urlsafe(18)


def problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > 200:
        return "Use at most 200 characters."
    return None
