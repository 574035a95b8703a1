"""A burst of guests on a limited link, through a real multi-process server: 200 lobby
submissions race for a link limited to 50, and exactly 50 get in — on SQLite and PostgreSQL."""

import http.client
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import free_port

from portal import tokens
from portal.models import GuestLink, Participant, Room
from portal.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
GUESTS = 200
LIMIT = 50
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def server(app, database_url, tmp_path):
    """gunicorn, 4 worker processes x 4 threads, on the test's own database."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": app.config["SECRET_KEY"],
           "BASE_URL": f"http://127.0.0.1:{port}", "RATELIMIT_ENABLED": "false",
           "PORT": str(port)}
    log = (tmp_path / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [str(GUNICORN), "--workers", "4", "--threads", "4", "--worker-class", "gthread",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "portal:create_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                conn.close()
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn didn't start:\n" + (tmp_path / "gunicorn.log").read_text())
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def open_lobby(port: int, path: str) -> tuple[int, str, str]:
    """One guest's browser opens the link: (status, session cookie, CSRF token)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read().decode()
    cookies = [c.split(";", 1)[0] for c in response.msg.get_all("Set-Cookie") or []]
    match = CSRF.search(body)
    conn.close()
    return response.status, "; ".join(cookies), match.group(1) if match else ""


def submit(port: int, path: str, cookie: str, csrf: str, n: int) -> int:
    from urllib.parse import urlencode

    body = urlencode({"csrf_token": csrf, "name": f"Guest {n}",
                      "email": f"guest{n}@example.com"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    status = conn.getresponse().status
    conn.close()
    return status


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
