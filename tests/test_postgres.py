"""A real PostgreSQL server: the portal creates its schema there, enforces its constraints, and a
burst of concurrent claims on a link never overshoots. Runs in both CI passes — against
DATABASE_URL when the suite runs on PostgreSQL, otherwise against GUESTGATE_TEST_PG (exported by
.ci/run) — and skips, with the reason, only when neither names a server."""

import os
import threading
import uuid
from datetime import datetime
from urllib.parse import urlparse, urlunparse

import pytest
from peewee import IntegrityError

from portal import create_app
from portal.db import LATEST_VERSION, close_pool, database, schema_version
from portal.models import MODELS, GuestLink, Participant, Room, User


def _server_url() -> str | None:
    for name in ("DATABASE_URL", "GUESTGATE_TEST_PG"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return None


@pytest.fixture
def fresh_pg_database():
    """A database of its own on the server, dropped afterwards."""
    url = _server_url()
    if url is None:
        pytest.skip("set DATABASE_URL=postgresql://... to run the suite on PostgreSQL")
    import psycopg

    name = f"guestgate_pg_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(url, autocommit=True)
    with admin.cursor() as cur:
        # UTF8 whatever the cluster's default (initdb --no-locale gives SQL_ASCII)
        cur.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    try:
        yield urlunparse(urlparse(url)._replace(path="/" + name))
    finally:
        close_pool()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.mark.postgres
def test_the_portal_runs_on_postgresql(fresh_pg_database, tmp_path):
    create_app({"TESTING": True, "SECRET_KEY": "pg-test", "DATABASE_URL": fresh_pg_database,
                "UPLOAD_FOLDER": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False})
    with database.connection_context():
        assert "PostgreSQL" in database.execute_sql("SELECT version()").fetchone()[0]
        assert {m._meta.table_name for m in MODELS} <= set(database.get_tables())
        assert schema_version() == LATEST_VERSION

        owner = User.create(email="pg@example.com", password_hash="x", access="broadcaster")
        room = Room.create(owner=owner, title="On PostgreSQL", starts_at=datetime(2031, 1, 1, 9),
                           ends_at=datetime(2031, 1, 1, 10))
        link = GuestLink.create(room=room, name="Guests", max_uses=25)
        with pytest.raises(IntegrityError), database.atomic():
            Room.create(owner=424242, title="No such owner", starts_at=datetime(2031, 1, 1),
                        ends_at=datetime(2031, 1, 2))
        with pytest.raises(IntegrityError), database.atomic():
            User.create(email="x@example.com", password_hash="x", access="superuser")

    # 8 threads, 80 claims, 25 uses: exactly 25 succeed (one conditional UPDATE each)
    wins = []

    def claim():
        for _ in range(10):
            with database.connection_context():
                if GuestLink.get_by_id(link.id).claim():
                    wins.append(1)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(wins) == 25
    with database.connection_context():
        assert GuestLink.get_by_id(link.id).uses == 25


@pytest.mark.postgres
def test_a_guests_poll_is_planned_once_per_connection(fresh_pg_database, tmp_path):
    """A poll's presence lookup is a five-table join that PostgreSQL took four times longer to
    plan than to run: after a connection's first few polls it is prepared on the server, and a
    crowd's polls reuse its plan (docs/operations.md, PostgreSQL)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "pg-test", "DATABASE_URL": fresh_pg_database,
                      "UPLOAD_FOLDER": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False})
    with database.connection_context():
        owner = User.create(email="pg@example.com", password_hash="x", access="broadcaster")
        room = Room.create(owner=owner, title="Polled", starts_at=datetime(2031, 1, 1, 9),
                           ends_at=datetime(2031, 1, 1, 10), guest_access_enabled=True,
                           require_approval=True)
        link = GuestLink.create(room=room, name="Guests")
        Participant.create(room=room, link=link, name="Bo", email="bo@example.com",
                           status="waiting", device="device-bo")
    client = app.test_client()
    with client.session_transaction() as session:
        session["device"] = "device-bo"
    for _ in range(8):
        assert client.get(f"/s/{room.id}/status?state=waiting").status_code == 200
    with database.connection_context():  # the same pooled connection, in the same thread
        prepared = [row[0] for row in database.execute_sql(
            "SELECT statement FROM pg_prepared_statements").fetchall()]
    assert any('"t1"."device" = $' in sql and "participant" in sql for sql in prepared), prepared
