"""The one place for the database: a deferred peewee database chosen from DATABASE_URL,
per-request connections, schema creation and upgrades, and the `init-db` command.

The models are handed in (`init_app(app, models)`, `upgrade(models)`): this module never imports
portal.models, which imports it for the database. Prepared queries are in portal.prepared."""

import os
from contextlib import contextmanager, suppress
from urllib.parse import unquote, urlparse

import click
from flask import Flask
from peewee import DatabaseProxy, SqliteDatabase
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
            # psycopg 3 prepares a query on the server once a connection has run it five
            # times: PostgreSQL plans a poll's five-table join once, not on every poll
            # (0.63 ms to plan, 0.14 ms to run; psycopg2 sends plain SQL each time).
            prefer_psycopg3=True,
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


# --- schema versions ---------------------------------------------------------------------------
# A fresh database is created at the latest version. An older database is brought forward by the
# migrations after its recorded version, each in its own transaction. A database made before
# versioning existed (tables but no schema_version row) counts as version 1. Each migration gets
# the migrator and the models module, and takes the fields it adds from the models.


def _add_missing_columns(migrator, *fields, allow_not_null: bool = False) -> None:
    """Adds the fields' columns that their tables lack (a database someone half-upgraded by hand
    has some already). `allow_not_null`: a NOT NULL column comes with its DEFAULT in one
    statement; SQLite would otherwise rebuild the table, which others refer to."""
    have: dict[str, set[str]] = {}
    steps = []
    for field in fields:
        table = field.model._meta.table_name
        if table not in have:
            have[table] = {c.name for c in database.get_columns(table)}
        if field.column_name not in have[table]:
            steps.append(migrator.add_column(table, field.column_name, field,
                                             allow_not_null=allow_not_null))
    migrate(*steps)


def _v2_room_join_url_and_message(migrator, models):
    _add_missing_columns(migrator, models.Room.join_url, models.Room.host_message)


def _v3_drop_participant_room_index(migrator, models):
    database.execute_sql('DROP INDEX IF EXISTS "participant_room_id"')


def _as_added(field, default):
    """`field` with the default its version added it with (the model's own has changed since:
    a callable default would give every existing row the same value)."""
    added = field.clone()
    added.default = default
    return added


def _v4_meeting_platforms(migrator, models):
    _add_missing_columns(migrator, models.Room.platform, _as_added(models.Room.meeting_name, ""),
                         models.Participant.email_source)


def _v5_user_session_generation(migrator, models):
    _add_missing_columns(migrator, models.User.session_generation, allow_not_null=True)


def _v6_consent_and_calendar_updates(migrator, models):
    Invitation, Participant, Room = models.Invitation, models.Participant, models.Room
    _add_missing_columns(migrator, Room.timezone, Room.consent_required, Room.consent_text,
                         Room.consent_version, Participant.consented_at,
                         Participant.consent_version, Invitation.ics_sequence,
                         allow_not_null=True)
    # Rooms made before the zone was kept: their owner's zone, the one the form showed them.
    database.execute_sql('UPDATE room SET timezone = (SELECT "user".timezone FROM "user" '
                         'WHERE "user".id = room.owner_id)')


def _v7_participant_removed_and_moved(migrator, models):
    _add_missing_columns(migrator, models.Participant.removed_at, models.Participant.moved_at)


def _v8_rate_limit_counters(migrator, models):
    # Made with the other missing tables just before (upgrade); here only if that was skipped.
    if models.RateLimitCounter._meta.table_name not in database.get_tables():
        database.create_tables([models.RateLimitCounter])


def _v12_audit_guest_moderators(migrator, models):
    AuditEvent = models.AuditEvent
    _add_missing_columns(migrator, AuditEvent.actor_name, AuditEvent.actor_source,
                         allow_not_null=True)
    # Events recorded before: a moderator's action with an email but no account can only have
    # been a shared-link guest's made moderator, who typed that email.
    moderators_do = ("guest_admitted", "guest_denied", "guest_removed", "guest_moved_to_waiting",
                     "role_changed", "guest_allowed_again")
    AuditEvent.update(actor_source="unverified").where(
        AuditEvent.actor.is_null() & (AuditEvent.actor_email != "")
        & AuditEvent.action.in_(moderators_do) & (AuditEvent.actor_source == "")).execute()


def _v13_single_sign_on(migrator, models):
    User = models.User
    _add_missing_columns(migrator, User.oidc_issuer, User.oidc_subject, User.last_sign_in_at)
    _add_missing_columns(migrator, User.sso_roles, allow_not_null=True)
    User._schema.create_indexes(safe=True)  # one account per (issuer, subject)


def _v14_api_tokens(migrator, models):
    # Made with the other missing tables just before (upgrade); here only if that was skipped.
    if models.ApiToken._meta.table_name not in database.get_tables():
        database.create_tables([models.ApiToken])


def _v16_webhooks(migrator, models):
    # Made with the other missing tables just before (upgrade); here only if that was skipped.
    have = set(database.get_tables())
    database.create_tables([m for m in (models.WebhookEndpoint, models.WebhookEvent,
                                        models.WebhookDelivery)
                            if m._meta.table_name not in have])


def _v17_deny_with_a_message(migrator, models):
    _add_missing_columns(migrator, models.Participant.host_note)


def _v18_host_alerts(migrator, models):
    # The tables are made with the other missing ones just before (upgrade); here if skipped.
    have = set(database.get_tables())
    database.create_tables([m for m in (models.AlertPreference, models.PushSubscription,
                                        models.RoomAlertState)
                            if m._meta.table_name not in have])
    _add_missing_columns(migrator, models.Room.alert_hosts, allow_not_null=True)


def _v19_registration(migrator, models):
    # The tables are made with the other missing ones just before (upgrade); here if skipped.
    have = set(database.get_tables())
    database.create_tables([m for m in (models.RegistrationSettings, models.Registration)
                            if m._meta.table_name not in have])


def _v20_confirmed_invitations_and_attendance(migrator, models):
    _add_missing_columns(migrator, models.Invitation.email_confirmed, allow_not_null=True)
    _add_missing_columns(migrator, models.Participant.joined_live_at)
    S = models.RegistrationSettings
    _add_missing_columns(migrator, S.reminder_hours, S.follow_up, S.follow_up_came,
                         S.follow_up_missed, allow_not_null=True)
    # The claims' table is made with the other missing ones just before (upgrade); if skipped:
    if models.ReminderClaim._meta.table_name not in database.get_tables():
        database.create_tables([models.ReminderClaim])


def _v21_start_announced(migrator, models):
    if models.StartAnnounced._meta.table_name not in database.get_tables():
        database.create_tables([models.StartAnnounced])


def _participant_indexes(migrator, models):
    """Versions 9, 10 and 22 add indexes only: every index the model declares that is
    missing."""
    models.Participant._schema.create_indexes(safe=True)


def _v11_one_room_per_meeting_name(migrator, models):
    """A meeting name names one room's meeting on its platform (portal.services.rooms). Rooms that
    shared one — a way into another owner's meeting as its moderator — are all kept: the first
    (lowest id: it had the name first, or is the oldest) keeps it, each later one gets a new
    name, and so does a room whose platform refuses its name (BigBlueButton: one letter).
    Compared lower-cased, as the unique index compares. Deleted rooms keep their names too.
    Rooms made before there were platforms get the name they were using, `room-<id>`. Each
    rename goes into the audit log (plain SQL: later versions may add columns to the models)."""
    from .meetings import LABELS, derive_name, fits
    from .timeutil import utcnow

    p, now = database.param, utcnow()
    taken = set()
    rows = database.execute_sql(
        "SELECT id, platform, meeting_name, title FROM room ORDER BY id").fetchall()
    for room_id, platform, stored, title in rows:
        name = old = stored or f"room-{room_id}"
        if (platform, name.lower()) in taken or not fits(platform, name):
            why = "another room had it first" if (platform, name.lower()) in taken \
                else "the platform may refuse it"
            while name == old or (platform, name) in taken:
                name = derive_name(title)
            database.execute_sql(
                f'INSERT INTO "{models.AuditEvent._meta.table_name}" (room_id, actor_id, '
                f"actor_email, action, target, detail, created_at) VALUES ({p}, NULL, '', "
                f"'meeting_renamed', {p}, {p}, {p})",
                (room_id, title[:255], f"{old} → {name} on {LABELS.get(platform, platform)}: "
                 f"{why}", now))
        taken.add((platform, name.lower()))
        if name != stored:
            database.execute_sql(f"UPDATE room SET meeting_name = {p} WHERE id = {p}",
                                 (name, room_id))
    models.Room._schema.create_indexes(safe=True)


MIGRATIONS = {
    2: ("room: join URL for the hand-off and the host's message to waiting guests",
        _v2_room_join_url_and_message),
    3: ("participant: presence lookups use the (device, room) index",
        _v3_drop_participant_room_index),
    4: ("room: meeting platform and meeting name; participant: how the email was established",
        _v4_meeting_platforms),
    5: ("user: session generation, so signing out ends every copy of a session",
        _v5_user_session_generation),
    6: ("room: time zone and consent text; participant: consent; invitation: calendar sequence",
        _v6_consent_and_calendar_updates),
    7: ("participant: when a host removed a guest or moved them to the waiting room",
        _v7_participant_removed_and_moved),
    8: ("rate-limit counters in the database, shared by every worker and host",
        _v8_rate_limit_counters),
    9: ("participant: entries find a host's Remove or Deny by email through an index",
        _participant_indexes),
    10: ("participant: the hosts' lists read the latest in and the latest turned away through "
         "indexes", _participant_indexes),
    11: ("room: a meeting name belongs to one room on its platform (rooms that shared one keep "
         "the first's, the later ones get new names, written to the audit log)",
         _v11_one_room_per_meeting_name),
    12: ("audit log: a guest moderator is named as one, with how their email was established",
         _v12_audit_guest_moderators),
    13: ("user: single sign-on — the provider's issuer and subject, the roles it gave, the last "
         "sign-in", _v13_single_sign_on),
    14: ("API tokens: personal access tokens for the REST API, kept as hashes",
         _v14_api_tokens),
    16: ("webhooks: endpoints, the outbox of events and their deliveries", _v16_webhooks),
    17: ("participant: the host's message to a guest they denied", _v17_deny_with_a_message),
    18: ("host alerts: who is told when guests wait unseen, account preferences, Web Push "
         "subscriptions, and each room's watching and throttle state", _v18_host_alerts),
    19: ("registration: a room's registration settings and questions, and its registrants",
         _v19_registration),
    20: ("invitation: the address is confirmed already (a registrant's), so the lobby doesn't "
         "ask for it; participant: when they first joined the live session (attendance); "
         "registration: reminders and follow-ups, each claimed once",
         _v20_confirmed_invitations_and_attendance),
    21: ("push: each room's start announced once to the guests' pages", _v21_start_announced),
    22: ("participant: the host's In the room counts those inside through an index",
         _participant_indexes),
}
LATEST_VERSION = max(MIGRATIONS)


def _migrator():
    return SqliteMigrator(database) if is_sqlite() else PostgresqlMigrator(database)


def schema_version() -> int | None:
    """The database's recorded schema version (read as plain SQL: no model needed)."""
    tables = database.get_tables()
    row = database.execute_sql("SELECT MAX(version) FROM schema_version").fetchone() \
        if "schema_version" in tables else None
    if row and row[0] is not None:
        return row[0]
    return 1 if "room" in tables else None


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


def upgrade(models) -> list[str]:
    """Create or upgrade the schema of `models` (the module: its MODELS, SchemaVersion and
    whatever the migrations add); returns what was done, in words."""
    MODELS, SchemaVersion = models.MODELS, models.SchemaVersion
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
                step(_migrator(), models)
                SchemaVersion.delete().execute()
                SchemaVersion.create(version=version)
            done.append(f"upgraded to schema version {version}: {description}")
        if current == 1 and not done:
            SchemaVersion.create(version=LATEST_VERSION)
    return done


def close_pool() -> None:
    """Close this thread's connection and every pooled one of the database in use, if any
    (psycopg warns of a connection collected while open)."""
    if database.obj is None:
        return
    if not database.is_closed():
        database.close()
    if hasattr(database.obj, "close_all"):
        database.obj.close_all()


def init_app(app: Flask, models) -> None:
    # An app made again in the same process (the tests, a command) closes the connections of the
    # database it replaces.
    close_pool()
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
        steps = app.extensions.pop("guestgate_schema_steps", []) + upgrade(models)
        click.echo("\n".join(steps) or f"schema is up to date (version {LATEST_VERSION})")

    if app.config.get("AUTO_UPGRADE", True):
        app.extensions["guestgate_schema_steps"] = upgrade(models)
