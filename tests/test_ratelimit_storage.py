"""The rate-limit storages (portal/ratelimit.py). database://, the default: fixed windows in
the database, exact between threads, ended windows swept out. local://: fixed windows that end
on time, expired counters dropped as requests come by, and no thread started for any of it
(limits' memory:// starts a timer thread whenever a counter moves)."""

import threading

import pytest

from portal import ratelimit
from portal.models import RateLimitCounter
from portal.ratelimit import DatabaseStorage, LocalStorage


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(ratelimit.time, "time", clock.time)
    return clock


@pytest.fixture(params=["local", "database"])
def storage(request, clock):
    """Each storage, new; the database one in the test's database."""
    if request.param == "local":
        return LocalStorage()
    request.getfixturevalue("db")
    return DatabaseStorage()


def test_counts_within_a_window_and_starts_again_after_it(storage, clock):
    assert [storage.incr("ip:1", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("ip:1") == 3
    assert storage.get_expiry("ip:1") == clock.now + 60
    clock.now += 59.9
    assert storage.incr("ip:1", 60) == 4  # the window began at the first hit, not the last
    clock.now += 0.1
    assert storage.get("ip:1") == 0
    assert storage.get_expiry("ip:1") == clock.now  # no window: resets now
    assert storage.incr("ip:1", 60, amount=2) == 2  # a new window (in the database, same row)
    assert storage.get_expiry("ip:1") == clock.now + 60
    storage.clear("ip:1")
    assert storage.get("ip:1") == 0


def test_a_hit_given_back_leaves_the_window_and_never_goes_below_zero(storage, clock):
    """A limit that counts only what hurts gives back the hits of harmless requests
    (ratelimit.count_only_when): within the window it was counted in, down to zero at most, and
    never opening a window of its own."""
    assert [storage.incr("link:1", 60) for _ in range(2)] == [1, 2]
    ratelimit.give_back(storage, "link:1")
    assert storage.get("link:1") == 1
    assert storage.get_expiry("link:1") == clock.now + 60  # the same window
    for _ in range(3):
        ratelimit.give_back(storage, "link:1")
    assert storage.get("link:1") == 0
    assert storage.incr("link:1", 60) == 1
    clock.now += 60  # the window ended: nothing left to give back, no window opened
    ratelimit.give_back(storage, "link:1")
    ratelimit.give_back(storage, "never-hit")
    assert storage.incr("link:1", 60) == 1 and storage.get("never-hit") == 0


def test_keys_are_counted_apart_and_cleared_alone(clock):
    storage = LocalStorage()
    storage.incr("a", 60)
    storage.incr("b", 60)
    storage.incr("b", 60)
    storage.clear("b")
    assert (storage.get("a"), storage.get("b")) == (1, 0)
    assert storage.reset() == 1
    assert storage.get("a") == 0


def test_expired_counters_are_dropped_by_later_hits(clock):
    storage = LocalStorage()
    for i in range(1000):  # one counter per guest address, say
        storage.incr(f"ip:{i}", 60)
    assert storage.kept() == 1000
    clock.now += 61
    storage.incr("ip:new", 60)
    assert storage.kept() == 1  # only the live one is kept
    clock.now += 0.5
    storage.incr("ip:other", 60)
    assert storage.kept() == 2  # nothing expired: nothing to drop


def test_no_thread_is_started_by_hits_and_threads_share_one_count():
    storage = LocalStorage()
    before = threading.active_count()
    for _ in range(100):
        storage.incr("lobby", 60)
    assert threading.active_count() == before

    def hit():
        for _ in range(500):
            storage.incr("shared", 60)

    workers = [threading.Thread(target=hit) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert storage.get("shared") == 2000  # no hit lost between threads


# --- database://, the default: counters every worker and host share ----------------------------

def test_expired_database_counters_are_swept(app, db, clock):
    storage = DatabaseStorage()
    for i in range(200):  # one counter per guest address, say
        storage.incr(f"ip:{i}", 60)
    storage.incr("sign-in:hour", 3600)
    clock.now += 30
    storage.incr("ip:new", 60)
    assert storage.kept() == 202  # nothing ended yet
    clock.now += 31  # the first minute's windows have ended, and a minute since the last sweep
    storage.incr("ip:newer", 60)
    assert sorted(c.key for c in RateLimitCounter.select()) == ["ip:new", "ip:newer",
                                                                 "sign-in:hour"]


def test_threads_hitting_one_database_counter_lose_no_hit(app, db):
    storage = DatabaseStorage()

    def hit():
        for _ in range(100):
            storage.incr("shared", 60)
        db.close()

    workers = [threading.Thread(target=hit) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    assert storage.get("shared") == 400
