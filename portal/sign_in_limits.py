"""Sign-in's limits past plain counting: which browsers an account trusts, and the owner's warning
about repeated wrong passwords (security review 3, items 2 and 4).

- The account an attempt names is `emails.account_key` of what was typed, for the lookup and for
  every limit kept per account alike.
- The limits of an account count wrong passwords only, and the account's own
  (SIGN_IN_LIMIT_PER_ACCOUNT) holds only browsers that never signed in to it: OWASP's device
  cookies. A browser that signs in gets a signed cookie naming the account and its password
  version, for a year; while strangers' wrong passwords hold the account, that browser still
  signs in, from any address. Its own wrong passwords are limited on their own (SIGN_IN_LIMIT
  counts the browser instead of its address). A browser that never signed in gets no guess at
  all while the account is held: a free try for each new client is a guess per botnet address.
- Every wrong password counts towards the owner's warning (SIGN_IN_WARNING, "10 per day"): at
  the tenth within a day, one email says how many, from how many addresses, since when, and what
  to do; no other goes to that account within the day, however many more come.
"""

import secrets
import time

from flask import Response, current_app, g, request, url_for
from flask_limiter.util import get_remote_address
from limits import parse
from limits.errors import StorageError

from . import mail, tokens
from .extensions import limiter
from .models import User
from .ratelimit import count_only_when
from .web import public_url

DEVICE_COOKIE = "guestgate_device"
DEVICE_SALT = "guestgate.trusted-device"
DEVICE_MAX_AGE = 365 * 24 * 60 * 60
DEVICE_ACCOUNTS = 5  # a shared computer: the accounts signed in last


def client_limit_key(account: str | None) -> str:
    """SIGN_IN_LIMIT's key: this account from this client (`client`)."""
    return f"sign-in:{client(account)}:{account or 'invalid'}"


def account_limit_key(account: str | None) -> str:
    """SIGN_IN_LIMIT_PER_ACCOUNT's key."""
    return f"sign-in-account:{account or 'invalid'}"


def _failed(_response: Response) -> bool:
    return g.get("sign_in_failed", False)


# Both keep a sign-in's hit only when the password was wrong: a right password, a form without
# one and a refusal by another limit give theirs back. (SIGN_IN_LIMIT_PER_ADDRESS counts every
# attempt.)
count_only_when("sign-in:", _failed)
count_only_when("sign-in-account:", _failed)


# --- trusted browsers (device cookies) -----------------------------------------------------------

def _device() -> tuple[str, list[list]] | None:
    """(device id, [[account, password version], ...]) from this browser's cookie, if it is
    signed with the current key: a retired key (OLD_SECRET_KEYS) trusts nothing — whoever holds
    it could make a trusted browser for any account."""
    if "_trusted_device" not in g:
        g._trusted_device = None
        raw = request.cookies.get(DEVICE_COOKIE, "")
        payload, _why = tokens.timed_loads([current_app.config["SECRET_KEY"]], DEVICE_SALT,
                                           raw, DEVICE_MAX_AGE) if raw else (None, "")
        if isinstance(payload, dict) and isinstance(payload.get("d"), str) \
                and isinstance(payload.get("a"), list) \
                and all(isinstance(a, list) and len(a) == 2 and isinstance(a[0], str)
                        and type(a[1]) is int for a in payload["a"]):
            g._trusted_device = (payload["d"], payload["a"])
    return g._trusted_device


def trusted(account: str | None) -> bool:
    """Whether this browser signed in to the account, with its current password: a password
    changed since (a lost laptop, say) makes it a stranger again."""
    device = _device()
    if account is None or device is None:
        return False
    version = next((v for a, v in device[1] if a == account), None)
    if version is None:
        return False
    cached = g.setdefault("_trusted_accounts", {})
    if account not in cached:
        current = User.select(User.password_version).where(User.email == account).scalar()
        cached[account] = current == version
    return cached[account]


def client(account: str | None) -> str:
    """Who SIGN_IN_LIMIT counts for this account: a trusted browser by its own id (others at its
    address, an office NAT, don't hold it), anyone else by address."""
    return f"device:{_device()[0]}" if trusted(account) else get_remote_address()


def trust_browser(response: Response, user: User) -> None:
    """After a successful sign-in (or a password reset): this browser is trusted with the
    account, at its password version. The cookie goes to the sign-in page only (so a reset page
    doesn't see it: the browser's trust starts again there, with this account)."""
    device = _device()
    others = [a for a in device[1] if a[0] != user.email] if device else []
    value = tokens.timed_dumps(current_app.config["SECRET_KEYS"], DEVICE_SALT, {
        "d": device[0] if device else secrets.token_urlsafe(16),
        "a": [[user.email, user.password_version], *others][:DEVICE_ACCOUNTS]})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_MAX_AGE,
                        path=url_for("auth.sign_in"), httponly=True, samesite="Lax",
                        secure=current_app.config["SESSION_COOKIE_SECURE"])


# --- wrong passwords ----------------------------------------------------------------------------

def failed(account: str | None) -> None:
    """A wrong password for `account` (which may not exist: it is counted all the same, so the
    answer's time doesn't say)."""
    g.sign_in_failed = True
    if account is None or not limiter.enabled:
        return
    storage = limiter.storage
    try:
        _count_for_warning(storage, account)
    except (StorageError, *_as_tuple(storage.base_exceptions)) as exc:
        current_app.logger.warning("failed sign-in not counted for the warning: %s", exc)


def _count_for_warning(storage, account: str) -> None:
    """Counted in the rate limiter's storage, so every worker and host counts together; each
    count is one atomic increment, so exactly one request sees the threshold reached, and the
    "warned" counter lets one email out per account and period."""
    warning = parse(current_app.config["SIGN_IN_WARNING"])
    period = warning.get_expiry()
    failures = storage.incr(f"sign-in-warning:{account}", period)
    if storage.incr(f"sign-in-warning-from:{account}:{get_remote_address()}", period) == 1:
        addresses = storage.incr(f"sign-in-warning-addresses:{account}", period)
    else:
        addresses = storage.get(f"sign-in-warning-addresses:{account}")
    if failures != warning.amount or storage.incr(f"sign-in-warned:{account}", period) != 1:
        return
    first = storage.get_expiry(f"sign-in-warning:{account}") - period
    last = time.time()
    url = public_url("auth.forgot_password")
    # Looked up and sent after the answer, as a password reset is: the same answer, as fast,
    # whether or not the account exists.
    mail.in_background(lambda: _warn(account, failures, max(addresses, 1), first, last, period,
                                     url), "failed sign-in warning")


def _warn(account: str, failures: int, addresses: int, first: float, last: float, period: int,
          url: str) -> None:
    user = User.get_or_none(User.email == account)
    if user is None:
        return
    error = mail.send_failed_sign_ins(user, failures, addresses, first, last, period, url)
    if error:
        current_app.logger.warning("failed sign-in warning not sent: %s", error)


def _as_tuple(exceptions) -> tuple:
    return exceptions if isinstance(exceptions, tuple) else (exceptions,)
