"""The database briefly unavailable: a clear 503 page meanwhile (with Retry-After), full service
after, nothing half-written. On PostgreSQL the server is really stopped and started again; on
SQLite another process holds the write lock longer than the busy timeout."""

import os
import shlex
import sqlite3
import subprocess
import time
from datetime import timedelta

import pytest
from helpers import PG_URL, link_path, text_of

from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

# Stops the PostgreSQL server every other test uses: runs alone, after the parallel part.
pytestmark = pytest.mark.serial

@pytest.fixture(params=[False, True], ids=["rate limits off", "rate limits on"])
def config(config, request):
    # With rate limits on, the lobby's counters are in the database too (database://): the
    # first statement of a submission is theirs, and it fails the same clear way.
    return {**config, "SQLITE_BUSY_TIMEOUT_MS": 200, "RATELIMIT_ENABLED": request.param}


@pytest.fixture
def guest_link(app, signed_in_owner, db):
    now = utcnow()
    room = Room.create(owner=signed_in_owner, title="Launch", guest_access_enabled=True,
                       starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(hours=1))
    link = GuestLink.create(room=room, name="Guests", max_uses=10)
    db.close()
    return link, link_path(app, link)


def pg_ctl(action: str):
    command = os.environ.get("GUESTGATE_PG_CTL")
    if not command:
        pytest.skip("set GUESTGATE_PG_CTL (as .ci/run does) to stop and start PostgreSQL")
    extra = ["-m", "fast"] if action == "stop" else []
    subprocess.run([*shlex.split(command), "-w", *extra, action], check=True,
                   capture_output=True, timeout=60)


def assert_unavailable(response):
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Guestgate is briefly unavailable" in text_of(response)


def test_outage_gives_503_then_full_service(app, client, guest_link, database_url):
    link, url = guest_link
    guest = app.test_client()
    if PG_URL:
        pg_ctl("stop")
        try:
            assert_unavailable(client.get("/rooms/"))
            assert_unavailable(guest.post(url, data={"name": "Ada", "email": "a@example.com"}))
        finally:
            pg_ctl("start")
    else:
        path = database_url[len("sqlite:///"):]
        holder = sqlite3.connect(path, timeout=1, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            assert_unavailable(guest.post(url, data={"name": "Ada", "email": "a@example.com"}))
            assert time.monotonic() - started < 5
        finally:
            holder.execute("ROLLBACK")
            holder.close()
    # Nothing half-written: no use counted, no participant.
    assert GuestLink.get_by_id(link.id).uses == 0
    assert Participant.select().count() == 0
    # Full service after, with no restart of the app.
    for _ in range(3):
        assert client.get("/rooms/").status_code == 200
    response = guest.post(url, data={"name": "Ada", "email": "a@example.com"})
    assert response.status_code == 303
    assert GuestLink.get_by_id(link.id).uses == 1 and Participant.select().count() == 1
