"""Configuration from the environment (a `.env` file is honoured).

Every setting has a default that makes `make run` work on a fresh machine: a SQLite file and a
generated secret key in `instance/`, emails written to `instance/outbox/`. Everything there is
private to the account the app runs as (folders 0700, files 0600), whatever the umask.
"""

import os
import secrets
from pathlib import Path

from dotenv import load_dotenv

from . import meetings


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _seconds(name: str, default: float) -> float:
    """A poll interval from the environment: a positive number of seconds."""
    value = float(os.environ.get(name, "").strip() or default)
    if not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return value


def _http_url(name: str) -> str:
    value = os.environ.get(name, "").strip().rstrip("/")
    if value and not value.startswith("http://"):
        raise ValueError(f"{name} must be an http:// address (the push server's own, never "
                         f"public), not {value!r}")
    return value


def _path(name: str) -> str:
    """A path on the address guests use (the pages' CSP allows only their own origin)."""
    value = os.environ.get(name, "").strip().rstrip("/")
    if value and not value.startswith("/"):
        raise ValueError(f"{name} must be a path such as /push, not {value!r}")
    return value


def _count(value: str | None, name: str) -> int:
    raw = (value or "0").strip()
    if not raw.isdigit():
        raise ValueError(f"{name} must be a whole number of proxy hops (0, 1, 2 ...), "
                         f"not {raw!r}")
    return int(raw)


def _secret_keys(instance_path: Path) -> list[str]:
    """SECRET_KEY, or a key generated once and kept in instance/secret_key.

    OLD_SECRET_KEYS (comma separated) are still accepted when verifying tokens and sessions, so
    rotating the key keeps existing links working, and guests inside, until the old key is dropped;
    never for what opens an account (a signed-in session, a reset-password link).
    """
    key = os.environ.get("SECRET_KEY", "").strip() or _kept_key(instance_path / "secret_key")
    old = [k.strip() for k in os.environ.get("OLD_SECRET_KEYS", "").split(",") if k.strip()]
    return [key, *old]


def _kept_key(path: Path) -> str:
    """The key in `path`, made on first use. Written whole and private (0600) to a temporary
    file, then linked into place, which fails if another process got there first — so workers
    starting together on a fresh machine all end up with the same key."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def private_folder(path: str | Path) -> Path:
    """The folder, made or made again owner-only (0700): it holds password hashes, uploads or
    live reset and invitation links. chmod too, for a folder an earlier version left 0755."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def from_environment(instance_path: Path) -> dict:
    load_dotenv(Path.cwd() / ".env", override=False)
    private_folder(instance_path)
    keys = _secret_keys(instance_path)
    port = int(os.environ.get("PORT", "8000"))
    base_url = os.environ.get("BASE_URL", f"http://127.0.0.1:{port}").rstrip("/")
    mail_server = os.environ.get("MAIL_SERVER", "").strip()
    upload_mb = int(os.environ.get("MAX_UPLOAD_MB", "10"))
    return {
        "SECRET_KEY": keys[0],
        "SECRET_KEYS": keys,
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{instance_path / 'guestgate.sqlite3'}"
        ),
        "BASE_URL": base_url,
        "TICKET_SECRET": os.environ.get("TICKET_SECRET", ""),
        "PORT": port,
        "MAIL_SERVER": mail_server or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(os.environ.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(os.environ.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER",
                                              "Guestgate <guestgate@localhost>"),
        "MAIL_TIMEOUT": float(os.environ.get("MAIL_TIMEOUT", "10")),
        "MAIL_OUTBOX": str(instance_path / "outbox"),
        "UPLOAD_FOLDER": str(instance_path / "uploads"),
        # The largest attachment; a request may carry a megabyte more (the form around it).
        "MAX_UPLOAD_BYTES": upload_mb * 1024 * 1024,
        "MAX_CONTENT_LENGTH": (upload_mb + 1) * 1024 * 1024,
        # database:// keeps the counters in DATABASE_URL's database, shared by every worker and
        # host; redis://... in Redis; local:// in each process (see portal/ratelimit.py).
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "").strip()
        or "database://",
        **({"RATELIMIT_SWALLOW_ERRORS": _bool(os.environ["RATELIMIT_SWALLOW_ERRORS"])}
           if os.environ.get("RATELIMIT_SWALLOW_ERRORS", "").strip() else {}),
        "RATELIMIT_ENABLED": _bool(os.environ.get("RATELIMIT_ENABLED"), default=True),
        "LOBBY_LIMIT_PER_IP": os.environ.get("LOBBY_LIMIT_PER_IP", "60 per minute"),
        "LOBBY_LIMIT_PER_LINK": os.environ.get("LOBBY_LIMIT_PER_LINK", "600 per minute"),
        # The public registration page's submissions, per client address
        "REGISTRATION_LIMIT_PER_IP": os.environ.get("REGISTRATION_LIMIT_PER_IP",
                                                    "20 per minute"),
        # How long a registration's confirmation link works; unconfirmed ones expire then
        "REGISTRATION_CONFIRM_HOURS": int(os.environ.get("REGISTRATION_CONFIRM_HOURS", "48")),
        # The REST API: each token's requests (portal/api/auth.py)
        "API_LIMIT_PER_TOKEN": os.environ.get("API_LIMIT_PER_TOKEN", "600 per minute"),
        "EMAIL_MATCH_LIMIT": os.environ.get("EMAIL_MATCH_LIMIT", "5 per 10 minutes"),
        # Sign-in: one account from one address is slowed quickly; one account can't be
        # guessed from many addresses (wrong passwords, from browsers that never signed in to
        # it), and one address can't lock every owner out.
        "SIGN_IN_LIMIT": os.environ.get("SIGN_IN_LIMIT", "10 per minute; 50 per hour"),
        "SIGN_IN_LIMIT_PER_ACCOUNT": os.environ.get("SIGN_IN_LIMIT_PER_ACCOUNT",
                                                    "100 per hour"),
        "SIGN_IN_LIMIT_PER_ADDRESS": os.environ.get("SIGN_IN_LIMIT_PER_ADDRESS",
                                                    "300 per hour"),
        # Forgot password: per client address, and per account (so nobody floods an inbox);
        # choosing a new password from a reset link, per client address.
        "FORGOT_PASSWORD_LIMIT": os.environ.get("FORGOT_PASSWORD_LIMIT", "5 per 15 minutes"),
        "FORGOT_PASSWORD_LIMIT_PER_ACCOUNT": os.environ.get("FORGOT_PASSWORD_LIMIT_PER_ACCOUNT",
                                                            "5 per hour"),
        "RESET_PASSWORD_LIMIT": os.environ.get("RESET_PASSWORD_LIMIT", "10 per 15 minutes"),
        # This many wrong passwords for one account within this time: its owner gets an email,
        # at most one per account within that time (portal/sign_in_limits.py).
        "SIGN_IN_WARNING": os.environ.get("SIGN_IN_WARNING", "10 per day"),
        # Reverse proxies in front of the app (nginx, a load balancer): their X-Forwarded-For
        # and X-Forwarded-Proto are believed, so limits and logs see the real client.
        "TRUSTED_PROXIES": _count(os.environ.get("TRUSTED_PROXIES"), "TRUSTED_PROXIES"),
        "MAX_LINKS_PER_ROOM": int(os.environ.get("MAX_LINKS_PER_ROOM", "3")),
        "MAX_INVITATIONS_PER_ROOM": int(os.environ.get("MAX_INVITATIONS_PER_ROOM", "20")),
        "DENIAL_EVENTS_PER_ROOM": int(os.environ.get("DENIAL_EVENTS_PER_ROOM", "300")),
        # Meeting platforms (portal/meetings): each is on when all its required variables are
        # set; each module names its settings and their defaults. Secrets stay here, in the
        # process's configuration, and nowhere else.
        **meetings.settings_from(os.environ),
        "MEETING_TIMEOUT": float(os.environ.get("MEETING_TIMEOUT", "5")),
        # Single sign-on with the organisation's OpenID provider (portal/sso.py, docs/sign-in.md):
        # on when OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are set; checked at start.
        **{key: os.environ.get(key, "").strip() for key in SSO_SETTINGS},
        # Who may still sign in with a password: all, admins (a break-glass admin) or off
        "PASSWORD_SIGN_IN": os.environ.get("PASSWORD_SIGN_IN", "").strip().lower() or "all",
        "GARBLED_DENIALS_PER_MINUTE": int(os.environ.get("GARBLED_DENIALS_PER_MINUTE", "10")),
        # The hosts' waiting list shows the first this many (in order of arrival), In the room
        # the last this many to come in, and both count the rest: a list of thousands, redrawn
        # on every poll, helps no host and costs a lot.
        "HOST_LIST_ROWS": int(os.environ.get("HOST_LIST_ROWS", "50")),
        # How often pages ask the server whether something changed (seconds; fractions allowed).
        # Each poll is cheap (204 while nothing changed); tests make them short.
        "POLL_WAITING_SECONDS": _seconds("POLL_WAITING_SECONDS", 5),
        "POLL_COUNTDOWN_SECONDS": _seconds("POLL_COUNTDOWN_SECONDS", 15),
        # ... and far from the start, down to this seldom (portal/poll.py, countdown_poll)
        "POLL_COUNTDOWN_LONGEST_SECONDS": _seconds("POLL_COUNTDOWN_LONGEST_SECONDS", 60),
        "POLL_OWNER_SECONDS": _seconds("POLL_OWNER_SECONDS", 5),
        # The most status polls a second one room's waiting pages, and its room pages, make
        # together: a crowd's pages are told to ask less often (portal/poll.py, crowd_poll).
        "ROOM_POLLS_PER_SECOND": _seconds("ROOM_POLLS_PER_SECOND", 300),
        "POLL_DENIALS_SECONDS": _seconds("POLL_DENIALS_SECONDS", 10),
        # Countdown pages ask just after the start, each at a random moment within this many
        # seconds (portal/guest/room.py): a crowd's entry is spread instead of arriving at once.
        "START_SPREAD_SECONDS": float(os.environ.get("START_SPREAD_SECONDS", "2")),
        # Webhooks (portal/webhook_delivery.py, docs/webhooks.md). Receivers at private,
        # loopback and link-local addresses are refused unless this is true (development, tests).
        "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": _bool(os.environ.get("WEBHOOK_ALLOW_PRIVATE_ADDRESSES")),
        # Every gunicorn worker runs a delivery loop (they share the work through claims);
        # false when `flask deliver-webhooks` runs on its own instead.
        "WEBHOOK_DELIVERY_IN_APP": _bool(os.environ.get("WEBHOOK_DELIVERY_IN_APP"), default=True),
        "WEBHOOK_POLL_SECONDS": _seconds("WEBHOOK_POLL_SECONDS", 2),
        "WEBHOOK_TIMEOUT_SECONDS": _seconds("WEBHOOK_TIMEOUT_SECONDS", 10),
        # A claimed delivery is another worker's to take after this long (its worker died).
        "WEBHOOK_LEASE_SECONDS": _seconds("WEBHOOK_LEASE_SECONDS", 60),
        "WEBHOOK_RETRY_FIRST_SECONDS": _seconds("WEBHOOK_RETRY_FIRST_SECONDS", 30),
        "WEBHOOK_RETRY_HOURS": _seconds("WEBHOOK_RETRY_HOURS", 26),
        "WEBHOOK_PAUSE_AFTER_FAILURES": int(os.environ.get("WEBHOOK_PAUSE_AFTER_FAILURES", "15")),
        "WEBHOOK_SECRET_GRACE_HOURS": _seconds("WEBHOOK_SECRET_GRACE_HOURS", 24),
        "WEBHOOK_MAX_PAYLOAD_BYTES": int(os.environ.get("WEBHOOK_MAX_PAYLOAD_BYTES", "65536")),
        "WEBHOOK_MAX_ANSWER_BYTES": int(os.environ.get("WEBHOOK_MAX_ANSWER_BYTES", "4096")),
        "WEBHOOK_TIME_EVENTS_LOOKBACK_HOURS": _seconds("WEBHOOK_TIME_EVENTS_LOOKBACK_HOURS", 1),
        # Host alerts (portal/host_alerts.py, docs/hosting.md): when guests have waited this
        # long and no host's page has asked for the waiting list within HOST_WATCHING_SECONDS,
        # the room's hosts get an email and a Web Push notification; at most one a room every
        # HOST_ALERT_EVERY_SECONDS (what arrives meanwhile goes in the next one, a digest).
        "HOST_ALERTS": _bool(os.environ.get("HOST_ALERTS"), default=True),
        # Every gunicorn worker looks for them in its background thread; false when `flask
        # run-background-jobs` runs on its own instead.
        "HOST_ALERTS_IN_APP": _bool(os.environ.get("HOST_ALERTS_IN_APP"), default=True),
        "HOST_ALERT_AFTER_SECONDS": _seconds("HOST_ALERT_AFTER_SECONDS", 120),
        "HOST_ALERT_EVERY_SECONDS": _seconds("HOST_ALERT_EVERY_SECONDS", 300),
        # A background tab polls about once a minute at worst (browsers slow their timers).
        "HOST_WATCHING_SECONDS": _seconds("HOST_WATCHING_SECONDS", 90),
        # How often the background loop looks for guests waiting unseen.
        "HOST_ALERT_CHECK_SECONDS": _seconds("HOST_ALERT_CHECK_SECONDS", 15),
        # Registrants' reminders before the start and follow-ups after the end (each room says
        # which): every worker's background thread looks for those due, each sent once. A
        # reminder more than REMINDER_LATE_MINUTES late (the loops were down) is skipped, and
        # so is a follow-up more than FOLLOW_UP_LATE_HOURS after the end.
        "REMINDERS_IN_APP": _bool(os.environ.get("REMINDERS_IN_APP"), default=True),
        "REMINDER_CHECK_SECONDS": _seconds("REMINDER_CHECK_SECONDS", 60),
        "REMINDER_LATE_MINUTES": int(os.environ.get("REMINDER_LATE_MINUTES", "30")),
        "FOLLOW_UP_LATE_HOURS": int(os.environ.get("FOLLOW_UP_LATE_HOURS", "24")),
        # Web Push: the VAPID key pair is made once and kept here (like secret_key); the
        # subject (a mailto: or https: address) tells push services whom to contact.
        "VAPID_PRIVATE_KEY_FILE": os.environ.get("VAPID_PRIVATE_KEY_FILE", "").strip()
        or str(instance_path / "vapid_private_key.pem"),
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT", "").strip(),
        "PUSH_TIMEOUT_SECONDS": _seconds("PUSH_TIMEOUT_SECONDS", 10),
        # Push endpoints come from browsers; like webhook receivers, private addresses are
        # refused unless this is true (tests, a push service of your own inside the network).
        "PUSH_ALLOW_PRIVATE_ADDRESSES": _bool(os.environ.get("PUSH_ALLOW_PRIVATE_ADDRESSES")),
        # Live news for guest pages through a push server (portal/push.py, nginx's nchan:
        # deploy/nginx.conf, docs/operations.md). Not Web Push (the PUSH_* settings above, for
        # hosts' alerts). PUSH_PUBLISH_URL: nchan's publisher location, reachable only from
        # the app's hosts (http://127.0.0.1:8090/publish); PUSH_SUBSCRIBE_PATH: where pages
        # connect, on the address guests use (/push). Both unset: no push, pages poll.
        "PUSH_PUBLISH_URL": _http_url("PUSH_PUBLISH_URL"),
        "PUSH_SUBSCRIBE_PATH": _path("PUSH_SUBSCRIBE_PATH"),
        "PUSH_PUBLISH_TIMEOUT_SECONDS": _seconds("PUSH_PUBLISH_TIMEOUT_SECONDS", 1),
        # News for a whole room (Admit all, the start) wakes each page at a random moment
        # within this many seconds, so 10,000 pages don't all ask in the same instant.
        "PUSH_SPREAD_SECONDS": float(os.environ.get("PUSH_SPREAD_SECONDS", "1.5")),
        # A room's start is announced once, by whichever worker's background loop notices it
        # first; they look this often (and each gunicorn worker looks, unless false: `flask
        # run-background-jobs` does it instead).
        "PUSH_START_CHECK_SECONDS": _seconds("PUSH_START_CHECK_SECONDS", 0.5),
        "PUSH_START_IN_APP": _bool(os.environ.get("PUSH_START_IN_APP"), default=True),
        # A countdown page listening for news asks by itself this long after its own check
        # at the start would have been, only if the announcement didn't come (it was lost).
        "PUSH_START_GRACE_SECONDS": _seconds("PUSH_START_GRACE_SECONDS", 5),
        # An unchanged guest status poll is answered before Flask (portal/quickpoll.py).
        "QUICK_POLL": os.environ.get("QUICK_POLL", "true").strip().lower() != "false",
    }


SSO_SETTINGS = (
    "OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_SCOPES", "OIDC_NAME",
    "OIDC_ROLES_CLAIM", "OIDC_ADMIN_VALUES", "OIDC_BROADCASTER_VALUES", "OIDC_REQUIRED_VALUES",
)
