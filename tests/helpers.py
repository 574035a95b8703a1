"""Helpers shared by the tests: accounts, rooms, the paths of guest links and invitations, an
owner's and a guest's browser (OwnerActions / GuestActions), reading pages as a person does, a
real server on 127.0.0.1 (in-process, or gunicorn with several worker processes), and guests
talking to it over HTTP."""

import functools
import html as html_module
import http.client
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import closing, contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from portal import passwords as pw
from portal import tokens
from portal.db import database
from portal.models import Invitation, Participant, Room, User
from portal.timeutil import utcnow

PASSWORD = "correct horse battery"
HTMX = {"HX-Request": "true"}
# The suite runs on PostgreSQL when DATABASE_URL names a server (each session makes its own
# database in it), else on a SQLite file per test.
PG_URL = os.environ.get("DATABASE_URL", "") if os.environ.get(
    "DATABASE_URL", "").startswith("postgres") else ""


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def hashed(password: str) -> str:
    """Argon2 is slow on purpose; tests reuse one hash per password."""
    return pw.hash_password(password)


def make_user(email="owner@example.com", access="broadcaster", password=PASSWORD,
              timezone="UTC", name=""):
    return User.create(email=email, access=access, password_hash=hashed(password),
                       timezone=timezone, name=name)


def make_room(owner=None, starts_in=timedelta(minutes=-10), duration=timedelta(hours=2),
              **fields) -> Room:
    """A room of `owner` (the default owner@example.com, made if missing); live by default:
    started ten minutes ago, ending in two hours. Any other column through `fields`."""
    now = utcnow()
    values = {"title": "Launch", "starts_at": now + starts_in,
              "ends_at": now + starts_in + duration, **fields}
    with database.connection_context():
        if owner is None:
            owner = User.get_or_none(User.email == "owner@example.com") or make_user()
        return Room.create(owner=owner, **values)


def link_path(app, link) -> str:
    """The /g/... path of a guest link, at its version (what the owner's screen shows)."""
    return "/g/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.LINK, link.id,
                                     link.version)


def invitation_path(app, invitation) -> str:
    """The /i/... path of an invitation, at its version (the personal link the guest got)."""
    return "/i/" + tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id,
                                     invitation.version)


def url_of(app, inv) -> str:
    """The personal link as the owner's screen and the email show it (the app builds it)."""
    from portal.services.urls import invitation_url

    with app.app_context():
        return invitation_url(Invitation.get_by_id(inv.id))


def path_of(app, inv) -> str:
    """url_of without the origin. Where a test checks the app's own link building; a test
    that only needs a way in uses invitation_path."""
    return url_of(app, inv).removeprefix(app.config["BASE_URL"])


def invitation(room, email) -> Invitation:
    with database.connection_context():
        return Invitation.get((Invitation.room == room) & (Invitation.email == email))


def links_on_page(html: str) -> list[str]:
    return re.findall(r'id="invite-link-\d+" value="([^"]+)"', html)


def invite(client, room, emails, **kw):
    """OwnerActions.invite for tests holding a bare client."""
    return OwnerActions(client).invite(room, emails, **kw)


def _room_id(room) -> int:
    return room if isinstance(room, int) else room.id


class OwnerActions:
    """An owner (or admin) in their browser: signing in and out, and the room screen's common
    actions. Every method returns the response."""

    def __init__(self, client):
        self.client = client

    def sign_in(self, email="owner@example.com", password=PASSWORD):
        return self.client.post("/sign-in", data={"email": email, "password": password})

    def sign_out(self):
        return self.client.post("/sign-out")

    def _room_post(self, room, path, htmx, data=None):
        """A POST to one of the room's screens, as htmx sends it or as a plain form."""
        return self.client.post(f"/rooms/{_room_id(room)}/{path}", data=data,
                                headers=HTMX if htmx else None)

    def invite(self, room, emails, role="viewer", validity="unlimited", days="", send_now=False,
               htmx=False):
        data = {"emails": emails, "role": role, "validity": validity, "days": days}
        if send_now:
            data["send_now"] = "y"
        return self._room_post(room, "invitations", htmx, data)

    def change_role(self, room, invitation, role, htmx=False):
        return self._room_post(room, f"invitations/{invitation.id}/role", htmx, {"role": role})

    def reset_invitation(self, room, invitation, htmx=False):
        return self._room_post(room, f"invitations/{invitation.id}/reset", htmx)

    def remove_invitation(self, room, invitation, htmx=False):
        return self._room_post(room, f"invitations/{invitation.id}/delete", htmx)

    def admit(self, room, participant, htmx=False):
        return self._room_post(room, f"waiting/{participant.id}/admit", htmx)

    def deny(self, room, participant, htmx=False, message=None):
        return self._room_post(room, f"waiting/{participant.id}/deny", htmx,
                               None if message is None else {"message": message})

    def admit_all(self, room, htmx=False):
        return self._room_post(room, "waiting/admit-all", htmx)

    # In the room
    def remove(self, room, participant, htmx=False):
        return self._room_post(room, f"inside/{participant.id}/remove", htmx)

    def move_to_waiting(self, room, participant, htmx=False):
        return self._room_post(room, f"inside/{participant.id}/move", htmx)

    def set_role(self, room, participant, role, htmx=False):
        return self._room_post(room, f"inside/{participant.id}/role", htmx, {"role": role})

    def allow_again(self, room, participant, htmx=False):
        return self._room_post(room, f"inside/{participant.id}/allow", htmx)


class GuestActions:
    """One guest in their own browser (their own test client, so their own session cookie).
    Anything else (`.get`, `.post`, `.get_cookie`...) is the client's own."""

    def __init__(self, app, client=None):
        self.app = app
        self.client = client or app.test_client()
        self.email = None

    def __getattr__(self, name):
        if name == "client":  # not set yet (copy, pickle): no endless recursion
            raise AttributeError(name)
        return getattr(self.client, name)

    def open(self, path):
        return self.client.get(path)

    def enter(self, path, name="Ada Guest", email="ada@example.com", **fields):
        """The lobby form sent: the response (303 to the room when let in)."""
        self.email = email
        return self.client.post(path, data={"name": name, "email": email, **fields})

    def place(self, room):
        return self.client.get(f"/s/{_room_id(room)}")

    def join(self, room):
        return self.client.get(f"/s/{_room_id(room)}/join")

    def leave(self, room):
        return self.client.post(f"/s/{_room_id(room)}/leave")

    @property
    def participant(self) -> Participant:
        """Their newest Participant row (by the email they entered with), read fresh."""
        email = self.email.strip().lower()  # as the lobby stores it
        return (Participant.select().where(Participant.email == email)
                .order_by(Participant.id.desc()).get())


def invited_guest(app, room, email, role="viewer") -> GuestActions:
    """A guest account invited to `room` with `role`, inside by its personal link in a browser
    of its own (`.invitation` is the row)."""
    user = make_user(email, access="guest")
    invitation = Invitation.create(room=room, user=user, email=email, role=role)
    guest = GuestActions(app)
    guest.invitation = invitation
    assert guest.enter(invitation_path(app, invitation), role.title(), email).status_code == 303
    return guest


def text_of(response) -> str:
    """The visible text of an HTML response, whitespace collapsed (for "the user reads ...")."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


class LiveServer:
    """The test's app on a real port, a thread per request. Stopping it waits for the requests
    still being answered — a page's last poll as its browser closed — so none of them uses the
    database while the next test makes its own (a request thread querying SQLite then crashed
    a worker: a segfault)."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app.config["BASE_URL"] = self.url
        self.in_flight = 0
        self.idle = threading.Condition()
        self.server = make_server("127.0.0.1", self.port, self._counted(app), threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _counted(self, app):
        def serve(environ, start_response):
            with self.idle:
                self.in_flight += 1
            try:
                body = app(environ, start_response)
                try:
                    return [b"".join(body)]  # the whole answer, and Flask's teardown, in here
                finally:
                    if hasattr(body, "close"):
                        body.close()
            finally:
                with self.idle:
                    self.in_flight -= 1
                    self.idle.notify_all()

        return serve

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)
        with self.idle:
            self.idle.wait_for(lambda: self.in_flight == 0, timeout=10)


# --- gunicorn: the real multi-process server, and guests talking to it over HTTP ----------------

GUNICORN = Path(sys.executable).parent / "gunicorn"
ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class GunicornServer:
    """gunicorn (gthread, `workers` x `threads`) serving create_app() on the test's database,
    with the test app's secret key, so tokens made in the test work there."""

    def __init__(self, app, database_url: str, log_dir: Path, workers: int = 4, threads: int = 4,
                 extra_args: tuple[str, ...] = (), env: dict | None = None):
        """`env` adds or overrides settings (a value of None removes the variable)."""
        self.port = free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url,
                    "SECRET_KEY": app.config["SECRET_KEY"] if app is not None else "",
                    "BASE_URL": f"http://127.0.0.1:{self.port}", "RATELIMIT_ENABLED": "false",
                    "PORT": str(self.port), "MAIL_OUTBOX": str(log_dir / "outbox")}
        self.env.pop("MAIL_SERVER", None)
        for name, value in (env or {}).items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        self.args = [str(GUNICORN), *extra_args, "--workers", str(workers), "--threads",
                     str(threads), "--worker-class", "gthread", "--bind",
                     f"127.0.0.1:{self.port}", "--log-level", "warning", "portal:create_app()"]
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        self.workers = workers
        self.proc = None

    def __enter__(self):
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        try:
            self.wait_until_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_until_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn didn't start:\n" + self.log_path.read_text())
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), read from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.proc.pid and fields[0] not in ("Z", "X"):
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def kill(self) -> None:
        """The whole instance gone at once, as when its host dies: master and workers SIGKILLed
        together (a worker outliving its master would finish what it had)."""
        for pid in [self.proc.pid, *self.worker_pids()]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def open_lobby(port: int, path: str) -> tuple[int, str, str]:
    """One guest's browser opens the link: (status, session cookie, CSRF token)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read().decode()
        cookies = [c.split(";", 1)[0] for c in response.msg.get_all("Set-Cookie") or []]
    finally:
        conn.close()
    match = CSRF.search(body)
    return response.status, "; ".join(cookies), match.group(1) if match else ""


def submit_lobby(port: int, path: str, cookie: str, csrf: str, name: str,
                 email: str) -> tuple[int, str]:
    """The guest submits the lobby form: (status, Location). A cut connection raises OSError or
    http.client.HTTPException (IncompleteRead)."""
    body = urlencode({"csrf_token": csrf, "name": name, "email": email})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", path, body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location") or ""
    finally:
        conn.close()


@contextmanager
def count_queries():
    """The SQL statements peewee runs inside the block: it logs each one on the 'peewee' logger
    at DEBUG (its connection pool logs on 'peewee.pool': not statements)."""
    statements: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.name == "peewee":
                statements.append(record.getMessage())

    logger = logging.getLogger("peewee")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def sign_in_in_browser(page, email="owner@example.com", password=PASSWORD):
    """Signing in on the real form in Chromium, until the page has left the form."""
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/sign-in" not in url)
