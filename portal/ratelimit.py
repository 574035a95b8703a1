"""Where Flask-Limiter keeps its counters (RATELIMIT_STORAGE_URI).

- `database://`, the default: counters in the app's own database (SQLite or PostgreSQL), so a
  limit holds exactly across every worker of `make run` and every host sharing the database,
  with no other server to install. Each hit is one atomic upsert; expired windows are swept out
  at most once a minute by whichever request comes by.
- `local://`: counters in this process's memory. Each worker counts for itself, so a limit of
  10 lets 10 per worker through: only for a single process (`flask run`), and the app's own
  fallback where it needs a counter while rate limits are off (portal/denials.py).
- `redis://...` (limits' own storage, pip `redis`): shared by every host, off the database.

Fixed windows only (Flask-Limiter's default strategy).

A limit can count only what hurts (`count_only_when`): every request is counted on arrival, and
the hit is given back once the answer shows it did no harm.

Why not limits' `memory://` for local://: it expires counters from a timer thread that it starts
anew, 10 ms after the last one ended, whenever a counter moves: under a burst of lobby entries
each worker starts about a hundred threads a second, and the request that starts one waits until
it runs. Here a counter that is read after its window ended counts as zero, and expired counters
are dropped at most once a second by whichever request comes by: no thread, one lock, a few
dictionary operations a hit."""

import threading
import time
from collections.abc import Callable
from functools import cache

from flask import Response, current_app, g, has_app_context
from limits.storage import Storage
from peewee import DatabaseError, InterfaceError

from .db import database
from .models import RateLimitCounter

SWEEP_EVERY_S = 1.0
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://", "redis+sentinel://",
                 "redis+cluster://")


def complete_settings(config: dict) -> None:
    """What Flask-Limiter does when its storage fails, decided once from the storage in use.

    Redis down: the limits are let go (RATELIMIT_SWALLOW_ERRORS on, logged) and every page
    answers as usual — a guest at the door of a live session isn't turned away because a
    counter can't be reached; a link's click limit and a single-use invitation are counted
    in the database and still hold. Service is whole again with the first request after Redis
    is back. Redis answers within half a second or counts as down, so a hung server can't
    hold requests long. RATELIMIT_SWALLOW_ERRORS=false refuses instead: the "briefly unavailable"
    page (503, security.py), never a 500.

    database://: never let go. The database down is the app down (the same 503 page), and a
    busy SQLite that timed out must refuse, not let a request through uncounted."""
    uri = config["RATELIMIT_STORAGE_URI"]
    redis = uri.startswith(REDIS_SCHEMES)
    config.setdefault("RATELIMIT_SWALLOW_ERRORS", redis)
    if redis:
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        config.setdefault("RATELIMIT_STORAGE_OPTIONS", {
            "socket_connect_timeout": 0.5, "socket_timeout": 0.5,
            # One quick retry: a pooled connection that died with a restarted Redis is replaced
            # at once. (redis-py's default, 3 retries backing off up to 10 s, would hold every
            # request for seconds while Redis is down.)
            "retry": Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
            "wrap_exceptions": True,  # limits' StorageError, which security.py answers with 503
        })


def init_app(limiter, app) -> None:
    """The limiter (one object: routes are decorated with it at import) on this app, with this
    app's settings. Flask-Limiter keeps the first app's RATELIMIT_SWALLOW_ERRORS and adds each
    app's storage options to the last's; a process serves one app, but tests make many, each
    with its own storage — so both start afresh here. (Private attributes of Flask-Limiter 4.x,
    which pyproject.toml's bounds hold.)"""
    complete_settings(app.config)
    limiter._swallow_errors = None
    limiter._storage_options = {}
    limiter.init_app(app)

    @app.after_request
    def _give_back_harmless(response: Response) -> Response:
        give_back_harmless(limiter, response)
        return response


# --- limits that count only what can hurt --------------------------------------------------------

_COUNT_ONLY_WHEN: dict[str, Callable[[Response], bool]] = {}


def count_only_when(key_prefix: str, hurts: Callable[[Response], bool]) -> None:
    """The limits whose key (their key_func's value) starts with `key_prefix` keep a request's
    hit only when `hurts(response)`: such a limit can't be filled by requests that do no harm,
    and so can't be turned against the people it protects.

    Counted on arrival like every limit, in one atomic increment, so a burst from every worker
    and host is counted exactly; the hit is given back after the answer. (Flask-Limiter's own
    deduct_when checks first and counts after: a burst is all checked before any of it counts,
    and passes whole.) Meanwhile a harmless request holds its place for the moment it runs."""
    _COUNT_ONLY_WHEN[key_prefix] = hurts


def give_back_harmless(limiter, response: Response) -> None:
    for request_limit in limiter.current_limits:
        key = request_limit.request_args[-2]  # the key_func's value (then the scope)
        hurts = next((hurts for prefix, hurts in _COUNT_ONLY_WHEN.items()
                      if key.startswith(prefix)), None)
        if hurts is None or hurts(response):
            continue
        try:
            give_back(limiter.storage, request_limit.key)
        except Exception as exc:  # noqa: BLE001 - kept counted: the stricter outcome
            current_app.logger.warning("rate-limit hit not given back (%s): %s", key, exc)


_REDIS_GIVE_BACK = """
local count = tonumber(redis.call('get', KEYS[1]))
if count and count > 0 then return redis.call('decr', KEYS[1]) end
return 0
"""


def give_back(storage: Storage, key: str) -> None:
    """One hit of a window still open given back: never below zero, never opening a window."""
    if isinstance(storage, LocalStorage | DatabaseStorage):
        storage.give_back(key)
        return
    from limits.storage import RedisStorage

    if isinstance(storage, RedisStorage):  # sentinel and cluster too; DECR keeps the expiry
        storage.get_connection().eval(_REDIS_GIVE_BACK, 1, storage.prefixed_key(key))
    # Any other storage keeps the hit: the limit then counts every request, as before.


class LocalStorage(Storage):
    STORAGE_SCHEME = ["local"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._windows: dict[str, list] = {}  # key -> [end of window (time.time()), count]
        self._lock = threading.Lock()
        self._next_sweep = 0.0
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def _live(self, key: str, now: float) -> list | None:
        window = self._windows.get(key)
        return window if window is not None and window[0] > now else None

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY_S
        for key in [k for k, (ends, _count) in self._windows.items() if ends <= now]:
            del self._windows[key]

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            window = self._live(key, now)
            if window is None:
                window = self._windows[key] = [now + expiry, 0]
            window[1] += amount
            return window[1]

    def get(self, key: str) -> int:
        window = self._live(key, time.time())
        return window[1] if window is not None else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        window = self._live(key, now)
        return window[0] if window is not None else now

    def give_back(self, key: str) -> None:
        with self._lock:
            window = self._live(key, time.time())
            if window is not None and window[1] > 0:
                window[1] -= 1

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._windows)
            self._windows.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def kept(self) -> int:
        """How many counters are held (not a __len__: Flask-Limiter tests the storage's truth)."""
        return len(self._windows)


class DatabaseStorage(Storage):
    """Fixed-window counters in the RateLimitCounter table, shared by every process using the
    database. The window's end travels with its count, so one statement both starts a new window
    and counts in a live one — exact under any concurrency, on SQLite (3.35+) and PostgreSQL."""

    STORAGE_SCHEME = ["database"]
    SWEEP_EVERY_S = 60.0

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._next_sweep = 0.0
        self._sweep_lock = threading.Lock()
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return (DatabaseError, InterfaceError)

    @staticmethod
    def _seen() -> dict:
        """What this request already learnt of each counter. Flask-Limiter reads a limit back
        (its window's end and count, for the X-RateLimit and Retry-After headers) right after
        counting it: answered from here, that costs no query."""
        if not has_app_context():
            return {}
        if "_ratelimit_seen" not in g:
            g._ratelimit_seen = {}
        return g._ratelimit_seen

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        count, ends = database.execute_sql(
            _statements(database.param)["incr"], (key, amount, now + expiry, now, now)
        ).fetchone()
        self._seen()[key] = (count, ends)
        return count

    def _window(self, key: str) -> tuple[int, float] | None:
        now = time.time()
        seen = self._seen()
        if key not in seen:
            row = database.execute_sql(_statements(database.param)["get"], (key, now)).fetchone()
            seen[key] = (row[0], row[1]) if row else (0, 0.0)  # (0, 0.0): no open window
        window = seen[key]
        return window if window[1] > now else None

    def give_back(self, key: str) -> None:
        row = database.execute_sql(_statements(database.param)["give_back"],
                                   (key, time.time())).fetchone()
        if row is not None:
            self._seen()[key] = (row[0], row[1])

    def get(self, key: str) -> int:
        window = self._window(key)
        return window[0] if window else 0

    def get_expiry(self, key: str) -> float:
        window = self._window(key)
        return window[1] if window else time.time()

    def _sweep(self, now: float) -> None:
        """Drop the windows that have ended (an indexed range delete). One thread of a process
        does it, at most once a minute; a failure is left for the next sweep."""
        if not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + self.SWEEP_EVERY_S
            database.execute_sql(_statements(database.param)["sweep"], (now,))
        finally:
            self._sweep_lock.release()

    def check(self) -> bool:
        try:
            database.execute_sql("SELECT 1").fetchone()
            return True
        except self.base_exceptions:
            return False

    def reset(self) -> int | None:
        return RateLimitCounter.delete().execute()

    def clear(self, key: str) -> None:
        self._seen().pop(key, None)
        RateLimitCounter.delete().where(RateLimitCounter.key == key).execute()

    def kept(self) -> int:
        """How many counters the table holds, live or not yet swept."""
        return RateLimitCounter.select().count()


@cache
def _statements(p: str) -> dict[str, str]:
    """The statements in the database's placeholder style ("?" or "%s"), written once: the
    upsert is the whole cost of a hit, and ON CONFLICT ... RETURNING reads the same on SQLite
    and PostgreSQL. In an UPDATE every SET sees the row as it was, so both CASEs ask the same
    question: is the stored window still open?"""
    t = f'"{RateLimitCounter._meta.table_name}"'
    return {
        "incr": f'INSERT INTO {t} ("key", "count", "expires_at") VALUES ({p}, {p}, {p}) '
                f'ON CONFLICT ("key") DO UPDATE SET '
                f'"count" = CASE WHEN {t}."expires_at" > {p} '
                f'THEN {t}."count" + excluded."count" ELSE excluded."count" END, '
                f'"expires_at" = CASE WHEN {t}."expires_at" > {p} '
                f'THEN {t}."expires_at" ELSE excluded."expires_at" END '
                f'RETURNING "count", "expires_at"',
        "give_back": f'UPDATE {t} SET "count" = "count" - 1 '
                     f'WHERE "key" = {p} AND "expires_at" > {p} AND "count" > 0 '
                     f'RETURNING "count", "expires_at"',
        "get": f'SELECT "count", "expires_at" FROM {t} WHERE "key" = {p} AND "expires_at" > {p}',
        "sweep": f'DELETE FROM {t} WHERE "expires_at" <= {p}',
    }
