"""Rate-limit counters kept in this process's memory, for Flask-Limiter: `local://`, the default.

limits' own `memory://` storage expires counters from a timer thread that it starts anew, 10 ms
after the last one ended, whenever a counter moves: under a burst of lobby entries each worker
starts about a hundred threads a second, and the request that starts one waits until it runs,
which on a busy machine is a GIL switch interval (5 ms) or more. Here a counter that is read
after its window ended counts as zero, and expired counters are dropped at most once a second by
whichever request comes by: no thread, one lock, a few dictionary operations a hit.

Fixed windows only (Flask-Limiter's default strategy). Like `memory://`, each worker process
counts for itself; use `redis://...` when limits must hold across processes or hosts."""

import threading
import time

from limits.storage import Storage

SWEEP_EVERY_S = 1.0


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
