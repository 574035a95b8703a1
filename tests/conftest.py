"""Fixtures: a real SQLite file per test (or a real PostgreSQL database when DATABASE_URL names
one), the Flask test client, CLI runner, and helpers that keep tests short."""

import os
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
from bbb_server import TEST_SECRET as BBB_SECRET
from bbb_server import FakeBigBlueButton
from helpers import PG_URL, GuestActions, LiveServer, OwnerActions, free_port, link_path, make_user
from servers import RedisServer, require_program

from portal import create_app, mail
from portal.db import close_pool, database
from portal.models import MODELS, SchemaVersion

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# --- PostgreSQL: one fresh database per test session, emptied between tests -------------------

@pytest.fixture(scope="session")
def pg_database_url():
    if not PG_URL:
        yield None
        return
    import psycopg

    name = f"guestgate_test_{uuid.uuid4().hex[:10]}"
    def admin_connection():
        # Fresh each time: the outage test stops and starts the server in between.
        return psycopg.connect(PG_URL, autocommit=True)

    admin = admin_connection()
    with admin.cursor() as cur:
        # UTF8 whatever the cluster's default (initdb --no-locale gives SQL_ASCII)
        cur.execute(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0')
    admin.close()
    parsed = urlparse(PG_URL)
    url = urlunparse(parsed._replace(path="/" + name))
    yield url
    close_pool()
    admin = admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def database_url(tmp_path, pg_database_url):
    if pg_database_url:
        return pg_database_url
    return f"sqlite:///{tmp_path / 'guestgate.sqlite3'}"


def _empty_postgres():
    """Every table emptied. A background thread left by the test before (a webhook loop
    finishing its turn) can hold a row lock in the other order: PostgreSQL then ends one side
    of the deadlock, and if that is the TRUNCATE it is simply done again."""
    tables = ", ".join(f'"{m._meta.table_name}"' for m in MODELS if m is not SchemaVersion)
    for attempt in range(5):
        try:
            with database.atomic():
                database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            return
        except Exception as exc:  # peewee's wrapper of psycopg's DeadlockDetected
            if "deadlock detected" not in str(exc) or attempt == 4:
                raise


@pytest.fixture
def config(tmp_path, database_url):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "DATABASE_URL": database_url,
        "BASE_URL": "http://guestgate.test",
        "MAIL_OUTBOX": str(tmp_path / "outbox"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        "RATELIMIT_ENABLED": False,
        "WTF_CSRF_ENABLED": False,
        "START_SPREAD_SECONDS": 0,  # a test waiting for the start doesn't wait a random while
    }


@pytest.fixture
def app(config):
    app = create_app(config)
    if PG_URL:
        _empty_postgres()
        database.close()
    yield app
    # Mail a test's requests left to send in the background (password resets, calendar updates)
    # goes before the database does: a thread still at it while the next test sets up its own
    # database brought a worker down.
    mail.wait_for_background(app)
    close_pool()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """The database for the test body itself (rows made or checked directly). peewee connects
    on first use; requests made by the test client close the connection when they end, and the
    next query simply connects again."""
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def auth(client):
    return OwnerActions(client)


@pytest.fixture
def owner(app):
    return make_user()


@pytest.fixture
def signed_in_owner(owner, auth):
    auth.sign_in()
    return owner


@pytest.fixture
def owner_browser(signed_in_owner, auth):
    """The signed-in owner's browser, with the room screen's actions (tests/helpers.py)."""
    return auth


# --- a BigBlueButton API server that checks every checksum (tests/bbb_server.py) -------------

@pytest.fixture
def arrive(app, link):
    """arrive(name, email): a guest in a browser of their own enters through the test module's
    `link` fixture (and lands in the room, or waits, as the room says)."""
    def arrive(name="Ada", email="ada@example.com"):
        guest = GuestActions(app)
        assert guest.enter(link_path(app, link), name, email).status_code == 303
        return guest

    return arrive


@pytest.fixture
def bbb():
    with FakeBigBlueButton(BBB_SECRET) as server:
        yield server
    assert server.errors == []  # nothing went wrong inside the fake itself


@pytest.fixture
def bbb_settings(bbb):
    """The settings that put Guestgate on that server."""
    return {"BIGBLUEBUTTON_ENDPOINT": bbb.endpoint, "BIGBLUEBUTTON_SECRET": BBB_SECRET}


# --- a real server for the browser and for multi-process tests ---------------------------------

@pytest.fixture
def live_server(app):
    with LiveServer(app) as server:
        yield server



# --- email: a real SMTP server (aiosmtpd) for the tests that send mail ---------------------------

@pytest.fixture
def renders(app):
    """The names of the templates the app renders during the test, in order."""
    from flask import template_rendered

    seen = []

    def record(sender, template, context, **extra):
        seen.append(template.name)

    template_rendered.connect(record, app)
    yield seen
    template_rendered.disconnect(record, app)


@pytest.fixture
def smtp_port():
    return free_port()


@pytest.fixture
def mail_settings(smtp_port):
    """What sends the app's mail to `smtp`: a test module's `config` adds these (Flask-Mail
    reads MAIL_* once, in create_app, so they must be in the app's config from the start)."""
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port, "MAIL_SUPPRESS_SEND": False,
            "MAIL_TIMEOUT": 5, "MAIL_DEFAULT_SENDER": "Guestgate <gate@example.com>"}


@pytest.fixture
def smtp(smtp_port):
    """The server's recorder: the emails received (tests/test_email.py's SMTPServer)."""
    from test_email import SMTPServer

    server = SMTPServer(smtp_port).start()
    yield server.handler
    server.stop()

# --- real servers from Debian's packages: skipped, saying why, when missing (a failure in CI) ----

@pytest.fixture(scope="module")
def redis_server():
    """A real redis-server for the module's tests, emptied before each by `redis_url`."""
    require_program("redis-server", "redis-server")
    pytest.importorskip("redis", reason="pip install redis (the test extra has it)")
    with RedisServer(free_port()) as server:
        yield server


@pytest.fixture
def redis_url(redis_server):
    if redis_server.proc is None:  # a test that stopped it failed before starting it again
        redis_server.start()
    redis_server.flush()
    return redis_server.url


# --- CI: a skipped test is a failure there ------------------------------------------------------

def pytest_sessionfinish(session, exitstatus):
    if not IN_CI:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; in CI every browser, "
                            "PostgreSQL, Redis, nginx and SMTP test must run.", red=True)
        session.exitstatus = 1
