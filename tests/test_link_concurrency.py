"""A burst of guests on a limited link, through a real multi-process server: 200 lobby
submissions race for a link limited to 50, and exactly 50 get in — on SQLite and PostgreSQL."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from helpers import GunicornServer, open_lobby, submit_lobby

from portal import tokens
from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

GUESTS = 200
LIMIT = 50


@pytest.fixture
def server(app, database_url, tmp_path):
    """gunicorn, 4 worker processes x 4 threads, on the test's own database."""
    try:
        with GunicornServer(app, database_url, tmp_path, workers=4, threads=4) as gunicorn:
            yield gunicorn.port
    except RuntimeError as exc:
        pytest.fail(str(exc))


def submit(port: int, path: str, cookie: str, csrf: str, n: int) -> int:
    return submit_lobby(port, path, cookie, csrf, f"Guest {n}", f"guest{n}@example.com")[0]


def test_a_burst_on_a_limited_link_admits_exactly_the_limit(app, db, owner, server):
    now = utcnow()
    room = Room.create(owner=owner, title="Launch", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Burst", max_uses=LIMIT)
    path = "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id,
                                     link.version)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        lobbies = list(pool.map(lambda _: open_lobby(server, path), range(GUESTS)))
        assert {status for status, _, _ in lobbies} == {200}  # opening consumes nothing
        assert all(cookie and csrf for _, cookie, csrf in lobbies)
        statuses = list(pool.map(lambda args: submit(server, path, *args[1][1:], args[0]),
                                 enumerate(lobbies)))
    elapsed = time.monotonic() - started

    assert not [s for s in statuses if s >= 500], statuses
    assert statuses.count(303) == LIMIT  # entered
    assert statuses.count(410) == GUESTS - LIMIT  # "This link has already been used"
    assert GuestLink.get_by_id(link.id).uses == LIMIT
    assert Participant.select().where(Participant.link == link).count() == LIMIT
    assert elapsed < 45


def test_one_browser_submitting_at_once_spends_one_click(app, db, owner, server):
    """Security review, finding 7: one browser sending the lobby form 4 times at the same
    moment (a double click, a flaky connection) is one guest and one use of the link."""
    now = utcnow()
    room = Room.create(owner=owner, title="Launch", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Clicks", max_uses=100)
    path = "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id, 1)
    browsers = [open_lobby(server, path) for _ in range(10)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(
            lambda job: submit(server, path, *browsers[job // 4][1:], job // 4), range(40)))
    assert set(statuses) == {303}
    assert GuestLink.get_by_id(link.id).uses == 10
    assert Participant.select().where(Participant.link == link).count() == 10
