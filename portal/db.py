"""The one place for the database: a deferred peewee database chosen from DATABASE_URL,
per-request connections, schema creation and upgrades, and the `init-db` command."""

import inspect
import os
from contextlib import contextmanager, suppress
from urllib.parse import unquote, urlparse

import click
from flask import Flask
from peewee import DatabaseProxy, Insert, SqliteDatabase, Value
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
    "synchronous": "normal",
}


def make_database(url: str, busy_timeout_ms: int = 5000):
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(url[len("sqlite:///") :]) if url.startswith("sqlite:///") else ":memory:"
        # IMMEDIATE: a transaction takes the write lock when it begins, so one that reads before
        # it writes waits its turn (busy_timeout) instead of failing with "database is locked".
        # Pooled: a new SQLite connection costs more than most requests' queries (the schema is
        # parsed again on its first statement). The pool's `timeout` is how long to wait for a
        # free connection; SQLite's own wait for a lock is the busy_timeout pragma.
        pragmas = {**SQLITE_PRAGMAS, "busy_timeout": busy_timeout_ms}
        if path not in ("", ":memory:"):
            _private_file(path)
        return PooledSqliteDatabase(path, pragmas=pragmas, lock_type="IMMEDIATE",
                                    check_same_thread=False, max_connections=64,
                                    stale_timeout=300, timeout=10)
    if parsed.scheme in {"postgres", "postgresql"}:
        return PooledPostgresqlDatabase(
            unquote(parsed.path.lstrip("/")) or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname,
            port=parsed.port or 5432,
            max_connections=32,
            stale_timeout=300,
            timeout=10,
        )
    raise ValueError(f"Unsupported DATABASE_URL scheme: {parsed.scheme!r}")


def _private_file(path: str) -> None:
    """The SQLite file holds password hashes and personal data: owner-only (0600), whatever the
    umask, made so before SQLite opens it, which gives its -wal and -shm files the database
    file's permissions. Those of an earlier, world-readable install are made private too."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            os.chmod(path + suffix, 0o600)


def discard_connection() -> None:
    """After a database error, drop this connection instead of handing it back to the pool:
    after a server restart, the pool's old connections are all dead."""
    if database.obj is None or database.is_closed():
        return
    try:
        if hasattr(database.obj, "manual_close"):
            database.manual_close()
            database.close_idle()  # the idle ones likely died with the same server
        else:
            database.close()
    except Exception:  # already broken: nothing more to release
        pass


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


# --- prepared queries --------------------------------------------------------------------------
# peewee builds a query's SQL text anew on every execution, walking its whole expression tree:
# for the five-table join a waiting guest's poll makes, that walk costs several times more than
# SQLite takes to answer. The hottest lookups are therefore built once per kind of database,
# with named placeholders, and then run with new parameters; peewee still turns the rows into
# models (with their joined relations), exactly as the query would have.


class Placeholder:
    """Where a prepared query's parameter goes; see `prepared`."""
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"Placeholder({self.name!r})"


class Prepared:
    """A query whose SQL text is built once per database class and reused: `first` and `all`
    for a select, `execute` for an update or delete, `insert` for an insert of one row.

    `build` takes the parameters as keyword arguments and returns the peewee query; it is called
    once with placeholders, so it must use them only as values (never in Python logic). Values
    are passed to the database as given, unconverted: ints, strs, datetimes and None."""

    # What a peewee cursor wrapper learns from the first row of a result (columns, converters,
    # how joined rows nest): the same for every run of the same SQL, so it is learnt once.
    _PER_CURSOR = frozenset({"cursor", "count", "index", "initialized", "populated", "row_cache"})

    def __init__(self, build):
        self._build = build
        self._names = tuple(inspect.signature(build).parameters)
        # per database class: [query, sql, parameter template, what the wrapper learnt]
        self._compiled: dict[type, list] = {}

    def _compile(self):
        kind = type(database.obj)
        compiled = self._compiled.get(kind)
        if compiled is None:
            query = self._build(**{name: Value(Placeholder(name), converter=False)
                                   for name in self._names})
            sql, params = query.sql()
            compiled = self._compiled[kind] = [query, sql, tuple(params), None]
        return compiled

    def _run(self, values: dict):
        if values.keys() != set(self._names):  # a value passed but never used is a bug
            raise TypeError(f"prepared query takes {self._names}, got {tuple(values)}")
        compiled = self._compile()
        params = [values[p.name] if isinstance(p, Placeholder) else p for p in compiled[2]]
        return compiled, database.execute_sql(compiled[1], params)

    def _wrapper(self, compiled, cursor):
        """ModelSelect's own cursor wrapper, which turns rows into models (or dicts, tuples),
        taught once what it learns from a result's columns. tests/test_db.py pins the peewee
        API this relies on (_get_cursor_wrapper, initialize, process_row)."""
        wrapper = compiled[0]._get_cursor_wrapper(cursor)
        learnt = compiled[3]
        if learnt is None:
            wrapper.initialize()
            compiled[3] = {k: v for k, v in vars(wrapper).items() if k not in self._PER_CURSOR}
        else:
            vars(wrapper).update(learnt)
        return wrapper

    def first(self, **values):
        """The first row as the query itself would return it (a model with its joined
        relations), or None."""
        compiled, cursor = self._run(values)
        try:
            row = cursor.fetchone()
            return None if row is None else self._wrapper(compiled, cursor).process_row(row)
        finally:
            cursor.close()

    def all(self, **values) -> list:
        compiled, cursor = self._run(values)
        try:
            rows = cursor.fetchall()
            if not rows:
                return []
            wrapper = self._wrapper(compiled, cursor)
            return [wrapper.process_row(row) for row in rows]
        finally:
            cursor.close()

    def execute(self, **values) -> int:
        """For an update or delete: how many rows it changed."""
        _compiled, cursor = self._run(values)
        return database.rows_affected(cursor)

    def insert(self, **values) -> int:
        """For an insert of one row: the new row's id. Pass every column the insert names:
        defaults were fixed when it was built, so a callable default (a time) must be a
        parameter."""
        _compiled, cursor = self._run(values)
        if database.returning_clause:  # PostgreSQL: peewee's insert ends RETURNING its id
            return cursor.fetchone()[0]
        return database.last_insert_id(cursor, Insert.SIMPLE)


def prepared(build) -> Prepared:
    return Prepared(build)


# --- schema versions ---------------------------------------------------------------------------
# A fresh database is created at the latest version. An older database is brought forward by the
# migrations after its recorded version, each in its own transaction. A database made before
# versioning existed (tables but no schema_version row) counts as version 1.


def _v2_room_join_url_and_message(migrator):
    from .models import Room

    have = {c.name for c in database.get_columns("room")}
    migrate(*[migrator.add_column("room", name, field)
              for name, field in (("join_url", Room.join_url),
                                  ("host_message", Room.host_message)) if name not in have])


def _v3_drop_participant_room_index(migrator):
    database.execute_sql('DROP INDEX IF EXISTS "participant_room_id"')


def _v4_meeting_platforms(migrator):
    from .models import Participant, Room

    have = {c.name for c in database.get_columns("room")}
    steps = [migrator.add_column("room", name, field)
             for name, field in (("platform", Room.platform),
                                 ("meeting_name", Room.meeting_name)) if name not in have]
    if "email_source" not in {c.name for c in database.get_columns("participant")}:
        steps.append(migrator.add_column("participant", "email_source",
                                         Participant.email_source))
    migrate(*steps)


def _v5_user_session_generation(migrator):
    from .models import User

    if "session_generation" not in {c.name for c in database.get_columns("user")}:
        # NOT NULL DEFAULT 1 in one statement: SQLite would otherwise rebuild the user table,
        # which every room refers to.
        migrate(migrator.add_column("user", "session_generation", User.session_generation,
                                    allow_not_null=True))


MIGRATIONS = {
    2: ("room: join URL for the hand-off and the host's message to waiting guests",
        _v2_room_join_url_and_message),
    3: ("participant: presence lookups use the (device, room) index",
        _v3_drop_participant_room_index),
    4: ("room: meeting platform and meeting name; participant: how the email was established",
        _v4_meeting_platforms),
    5: ("user: session generation, so signing out ends every copy of a session",
        _v5_user_session_generation),
}
LATEST_VERSION = max(MIGRATIONS)


def _migrator():
    return SqliteMigrator(database) if is_sqlite() else PostgresqlMigrator(database)


def schema_version() -> int | None:
    from .models import SchemaVersion

    if not SchemaVersion.table_exists():
        return 1 if "room" in database.get_tables() else None
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else (1 if "room" in database.get_tables() else None)


SCHEMA_LOCK_KEY = 0x6775657374  # "guest": one advisory lock for schema changes


@contextmanager
def _schema_lock():
    """Workers starting together on a database that needs creating or upgrading take turns:
    on PostgreSQL an advisory lock; on SQLite the write lock of each IMMEDIATE transaction."""
    if is_sqlite():
        yield
        return
    database.execute_sql("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
    try:
        yield
    finally:
        database.execute_sql("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))


def upgrade() -> list[str]:
    """Create or upgrade the schema; returns what was done, in words."""
    from .models import MODELS, SchemaVersion

    done = []
    with database.connection_context(), _schema_lock():
        current = schema_version()
        if current is None:
            with database.atomic():
                database.create_tables(MODELS)
                SchemaVersion.create(version=LATEST_VERSION)
            return [f"created schema version {LATEST_VERSION}"]
        # Only the tables that are missing, and no DDL at all when none is: every worker runs
        # this when it starts, also next to live traffic (a worker respawned on PostgreSQL),
        # and CREATE INDEX IF NOT EXISTS still takes its table lock, which deadlocks there.
        existing = set(database.get_tables())
        missing = [m for m in MODELS if m._meta.table_name not in existing]
        if missing:
            with database.atomic():
                database.create_tables(missing)
        for version in sorted(v for v in MIGRATIONS if v > current):
            description, step = MIGRATIONS[version]
            with database.atomic():
                step(_migrator())
                SchemaVersion.delete().execute()
                SchemaVersion.create(version=version)
            done.append(f"upgraded to schema version {version}: {description}")
        if current == 1 and not done:
            SchemaVersion.create(version=LATEST_VERSION)
    return done


def init_app(app: Flask) -> None:
    database.initialize(make_database(app.config["DATABASE_URL"],
                                      app.config.get("SQLITE_BUSY_TIMEOUT_MS", 5000)))

    # peewee connects on a request's first query (routes that need none, such as files and
    # health checks, never open a connection); the connection ends with the request.
    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()

    @app.cli.command("init-db")
    def init_db_command():
        """Create the database, or upgrade it to the latest schema."""
        # The app has usually upgraded on start already: report that too, not "up to date".
        steps = app.extensions.pop("guestgate_schema_steps", []) + upgrade()
        click.echo("\n".join(steps) or f"schema is up to date (version {LATEST_VERSION})")

    if app.config.get("AUTO_UPGRADE", True):
        app.extensions["guestgate_schema_steps"] = upgrade()
