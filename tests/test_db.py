"""The database layer: SQLite's pragmas, and the upgrade path — a database made by an older
version is brought to the latest schema on start, or with `flask init-db`, keeping its rows.
Runs on SQLite, and on PostgreSQL when DATABASE_URL names one."""

from contextlib import contextmanager
from datetime import datetime

import pytest
from peewee import IntegrityError
from playhouse.migrate import migrate

from portal import create_app
from portal import db as portal_db
from portal.db import LATEST_VERSION, database, make_database, schema_version
from portal.models import MODELS, Invitation, Participant, Room, SchemaVersion, User


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(tmp_path):
    sqlite = make_database(f"sqlite:///{tmp_path / 'pragmas.sqlite3'}")
    with sqlite.connection_context():
        assert sqlite.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert sqlite.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
        assert sqlite.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert sqlite.execute_sql("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    sqlite.close()


def test_the_app_database_enforces_foreign_keys(app, db):
    """A room can't point to an owner that doesn't exist — on SQLite as on PostgreSQL."""
    with pytest.raises(IntegrityError), db.atomic():
        Room.insert(owner=987654, title="Orphan", starts_at=datetime(2030, 1, 1),
                    ends_at=datetime(2030, 1, 2)).execute()


def test_the_app_uses_the_database_it_was_given(app, db, database_url):
    if database_url.startswith("sqlite"):
        assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    else:
        assert "PostgreSQL" in db.execute_sql("SELECT version()").fetchone()[0]


def test_unknown_database_url_is_refused_with_its_scheme():
    with pytest.raises(ValueError, match="mysql"):
        make_database("mysql://root@localhost/guestgate")


# --- the upgrade path --------------------------------------------------------------------------

V2_COLUMNS = {"join_url", "host_message"}
V4_COLUMNS = {"platform", "meeting_name"}
V6_COLUMNS = {"room": ["timezone", "consent_required", "consent_text", "consent_version"],
              "participant": ["consented_at", "consent_version"],
              "invitation": ["ics_sequence"]}


V7_COLUMNS = {"participant": ["removed_at", "moved_at"]}


def _drop_columns_since_v6(migrator):
    """The columns versions 6 and later added: a database as version 5 left it."""
    return [migrator.drop_column(table, c) for added in (V6_COLUMNS, V7_COLUMNS)
            for table, columns in added.items() for c in columns]


def _drop_meeting_name_index() -> None:
    """Version 11's index, which names meeting_name: without it, a database as before then."""
    database.execute_sql('DROP INDEX IF EXISTS "room_platform_meeting_name"')


def _room_columns() -> set[str]:
    return {c.name for c in database.get_columns("room")}


@pytest.fixture
def own_database(database_url):
    """The database alone, as an upgrade finds it: each test makes it, then starts the app on
    it. Every connection is closed after, pooled ones too."""
    database.initialize(make_database(database_url))
    yield
    portal_db.close_pool()


@contextmanager
def _latest_tables():
    """Every table as the latest version makes it, to take columns away from (dropped first: the
    PostgreSQL test database is shared by the session)."""
    with database.connection_context():
        database.drop_tables(MODELS)
        database.create_tables(MODELS)
        yield


def _app_without_upgrade(config):
    return create_app({**config, "AUTO_UPGRADE": False})


def _init_db(app) -> str:
    """`flask init-db`, which must succeed: what it said."""
    result = app.test_cli_runner().invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    return result.output


def make_version_1_database(record_version: bool = True) -> None:
    """The schema as version 1 of Guestgate made it — rooms had no join URL and no host message —
    with an owner and a room in it. Version 1 wrote no schema_version table at all; the
    `record_version` case covers a database that has one saying 1."""
    with _latest_tables():
        owner = User.create(email="early@example.com", password_hash="x", access="broadcaster")
        _drop_meeting_name_index()
        migrator = portal_db._migrator()
        migrate(*[migrator.drop_column("room", c) for c in sorted(V2_COLUMNS | V4_COLUMNS)],
                migrator.drop_column("participant", "email_source"),
                migrator.drop_column("user", "session_generation"),
                *_drop_columns_since_v6(migrator))
        if record_version:
            SchemaVersion.create(version=1)
        else:
            database.drop_tables([SchemaVersion])
        p = database.param
        database.execute_sql(
            "INSERT INTO room (owner_id, title, description, speakers, starts_at, ends_at, kind, "
            "guest_access_enabled, require_approval, require_email_match, created_at, updated_at)"
            f" VALUES ({', '.join([p] * 12)})",
            (owner.id, "Made by version 1", "Kept across the upgrade", "Ada",
             "2030-01-15 09:00:00", "2030-01-15 10:00:00", "regular", True, False, True,
             "2029-12-01 12:00:00", "2029-12-01 12:00:00"))
        assert not (V2_COLUMNS | V4_COLUMNS) & _room_columns()
        assert schema_version() == 1


def assert_upgraded_with_rows_kept() -> None:
    with database.connection_context():
        assert _room_columns() >= V2_COLUMNS | V4_COLUMNS
        assert schema_version() == LATEST_VERSION
        room = Room.get(Room.title == "Made by version 1")
        assert room.description == "Kept across the upgrade"
        assert room.starts_at == datetime(2030, 1, 15, 9, 0)
        assert room.guest_access_enabled is True
        assert room.owner.email == "early@example.com"
        assert room.join_url is None and room.host_message == ""
        # version 4: rooms made before platforms keep their join URL and get a stable name
        assert room.platform == "other" and room.meeting == f"room-{room.id}"
        assert "email_source" in {c.name for c in database.get_columns("participant")}
        # the new columns are usable
        Room.update(join_url="https://meet.example.org/r/1", host_message="Starting soon").where(
            Room.id == room.id).execute()
        assert Room.get_by_id(room.id).host_message == "Starting soon"
        assert User.select().count() == 1
        assert User.get().session_generation == 1  # version 5's column, there for every user


@pytest.mark.parametrize("record_version", [True, False],
                         ids=["schema-version-1", "before-schema-versions"])
def test_an_older_database_upgrades_on_start(config, own_database, record_version):
    make_version_1_database(record_version)
    create_app(config)
    assert_upgraded_with_rows_kept()
    with database.connection_context():
        assert [v.version for v in SchemaVersion.select()] == [LATEST_VERSION]


def test_an_older_database_upgrades_with_init_db(config, own_database):
    make_version_1_database()
    app = _app_without_upgrade(config)
    with database.connection_context():
        assert schema_version() == 1  # nothing happened on start
    assert f"upgraded to schema version {LATEST_VERSION}" in _init_db(app)
    assert_upgraded_with_rows_kept()
    assert f"schema is up to date (version {LATEST_VERSION})" in _init_db(app)


def test_init_db_creates_a_fresh_database_at_the_latest_version(config, own_database):
    with database.connection_context():
        database.drop_tables(MODELS)
    assert f"created schema version {LATEST_VERSION}" in _init_db(_app_without_upgrade(config))
    with database.connection_context():
        assert {m._meta.table_name for m in MODELS} <= set(database.get_tables())
        assert schema_version() == LATEST_VERSION


def test_make_run_style_start_then_init_db_reports_what_start_did(config, own_database):
    """`make run` calls `flask init-db`, whose app has already upgraded on start: the command
    still says what was done rather than claiming the schema was already up to date."""
    make_version_1_database()
    assert f"upgraded to schema version {LATEST_VERSION}" in _init_db(create_app(config))
    assert_upgraded_with_rows_kept()


def test_a_version_3_database_upgrades_through_every_later_version(config, own_database):
    with _latest_tables():
        User.create(email="host@example.com", password_hash="x", access="broadcaster")
        _drop_meeting_name_index()
        migrator = portal_db._migrator()
        migrate(*[migrator.drop_column("room", c) for c in sorted(V4_COLUMNS)],
                migrator.drop_column("participant", "email_source"),
                migrator.drop_column("user", "session_generation"),
                *_drop_columns_since_v6(migrator))
        SchemaVersion.create(version=3)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 4: room: meeting platform" in output
    assert "upgraded to schema version 5: user: session generation" in output
    assert "upgraded to schema version 8: rate-limit counters" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        user = User.get(User.email == "host@example.com")
        assert user.session_generation == 1
        User.update(session_generation=User.session_generation + 1).execute()
        assert User.get_by_id(user.id).session_generation == 2


def test_a_version_5_database_upgrades_to_6_with_the_owners_zone_and_no_consent(
        config, own_database):
    """Version 6: rooms keep the zone their owner gave the times in (the owner's zone, for rooms
    made before), ask for no agreement, and invitations start their calendar sequence at 0."""
    with _latest_tables():
        owner = User.create(email="berlin@example.com", password_hash="x",
                            access="broadcaster", timezone="Europe/Berlin")
        guest = User.create(email="guest@example.com", password_hash="x", access="guest")
        migrate(*_drop_columns_since_v6(portal_db._migrator()))
        SchemaVersion.create(version=5)
        p = database.param
        database.execute_sql(
            "INSERT INTO room (owner_id, title, description, speakers, starts_at, ends_at, kind, "
            "guest_access_enabled, require_approval, require_email_match, join_url, platform, "
            "meeting_name, host_message, created_at, updated_at)"
            f" VALUES ({', '.join([p] * 16)})",
            (owner.id, "Made by version 5", "", "", "2030-01-15 09:00:00",
             "2030-01-15 10:00:00", "regular", True, False, True, None, "other", "", "",
             "2029-12-01 12:00:00", "2029-12-01 12:00:00"))
        room_id = database.execute_sql("SELECT id FROM room").fetchone()[0]
        database.execute_sql(
            "INSERT INTO invitation (room_id, user_id, email, role, valid_once, version, "
            "email_status, email_error, created_at)"
            f" VALUES ({', '.join([p] * 9)})",
            (room_id, guest.id, guest.email, "viewer", False, 1, "sent", "",
             "2029-12-01 12:00:00"))
        database.execute_sql(
            "INSERT INTO participant (room_id, name, email, role, email_source, status, device, "
            "door_version, created_at, updated_at)"
            f" VALUES ({', '.join([p] * 10)})",
            (room_id, "Early guest", "early@example.com", "viewer", "unverified", "admitted",
             "device-1", 1, "2029-12-01 12:00:00", "2029-12-01 12:00:00"))
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 6: room: time zone and consent text" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        room = Room.get(Room.title == "Made by version 5")
        assert room.timezone == "Europe/Berlin"
        assert (room.consent_required, room.consent_text, room.consent_version) == (
            False, "", 0)
        assert room.starts_at == datetime(2030, 1, 15, 9, 0)
        assert Invitation.get().ics_sequence == 0
        early = Participant.get()
        assert early.consented_at is None and early.consent_version is None
        # The new columns are usable.
        Room.update(consent_required=True, consent_text="Recorded.",
                    consent_version=1).where(Room.id == room.id).execute()
        Invitation.update(ics_sequence=Invitation.ics_sequence + 1).execute()
        assert Room.get_by_id(room.id).consent_version == 1
        assert Invitation.get().ics_sequence == 1


def test_a_version_6_database_gets_the_hosts_remove_and_move_times(config, own_database):
    from portal.models import Participant

    with _latest_tables():
        owner = User.create(email="host@example.com", password_hash="x", access="broadcaster")
        room = Room.create(owner=owner, title="Kept", starts_at=datetime(2030, 1, 1, 10),
                           ends_at=datetime(2030, 1, 1, 11))
        Participant.create(room=room, name="Ada", email="ada@example.com", device="d",
                           status="admitted")
        migrate(*[portal_db._migrator().drop_column(table, c)
                  for table, columns in V7_COLUMNS.items() for c in columns])
        SchemaVersion.create(version=6)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 7: participant: when a host removed a guest" \
        in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        ada = Participant.get(Participant.email == "ada@example.com")
        assert ada.status == "admitted" and ada.removed_at is None and ada.moved_at is None


# Indexes the participant table gained after version 8 (9: a host's Remove or Deny by email;
# 10: the hosts' lists read the latest first).
INDEXES_SINCE_V8 = ("participant_room_id_email", "participant_room_status_since",
                    "participant_room_status_updated_at")


def _participant_indexes() -> set[tuple[str, bool]]:
    return {(i.name, i.unique) for i in database.get_indexes("participant")}


def test_a_version_8_database_gets_every_index_a_fresh_one_has(config, own_database):
    """Lists that stay fast at 16,000 guests need their indexes on upgraded databases too."""
    with _latest_tables():
        fresh = _participant_indexes()
        assert {name for name, _ in fresh} >= set(INDEXES_SINCE_V8)
        for name in INDEXES_SINCE_V8:
            database.execute_sql(f'DROP INDEX "{name}"')
        SchemaVersion.create(version=8)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 9: participant: entries find" in output
    assert "upgraded to schema version 10: participant: the hosts' lists" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        assert _participant_indexes() == fresh


def test_a_version_10_database_renames_the_later_rooms_that_shared_a_meeting_name(
        config, own_database):
    """Version 11: a meeting name belongs to one room on its platform. Rooms that shared one
    (a way to another owner's meeting), or held one their platform refuses, are all kept; the
    first room keeps the name, each later one gets a new name, and the audit log says so."""
    from portal import meetings
    from portal.models import AuditEvent

    with _latest_tables():
        _drop_meeting_name_index()
        alice = User.create(email="alice@example.com", password_hash="x", access="broadcaster")
        bob = User.create(email="bob@example.com", password_hash="x", access="broadcaster")

        def room(owner, title, platform, name, **fields):
            return Room.create(owner=owner, title=title, platform=platform, meeting_name=name,
                               starts_at=datetime(2031, 1, 1, 10), ends_at=datetime(2031, 1, 1, 11),
                               **fields)

        kept = [room(alice, "Alice's launch", "jitsi", "launch-1"),
                room(bob, "Bob's launch", "livekit", "launch-1"),  # another platform
                room(alice, "Alice's old board", "jitsi", "board", deleted_at=datetime(2030, 1, 1))]
        renamed = [room(bob, "Bob's copy", "jitsi", "launch-1"),
                   room(bob, "Bob's shouting copy", "jitsi", "LAUNCH-1"),  # Jitsi: the same
                   room(bob, "Bob's board", "jitsi", "board"),  # held by the deleted room
                   room(alice, "Q", "bigbluebutton", "q")]  # BigBlueButton wants 2 or more
        unnamed = room(alice, "Made before platforms", "other", "")  # its name was room-<id>
        renamed.append(room(bob, "Bob's room-N", "other", f"room-{unnamed.id}"))
        before = {r.id: r.meeting_name for r in kept + renamed}
        SchemaVersion.create(version=10)

    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 11: room: a meeting name belongs to one room" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        assert Room.select().count() == 9
        for r in kept:
            assert Room.get_by_id(r.id).meeting_name == before[r.id]
        assert Room.get_by_id(unnamed.id).meeting_name == f"room-{unnamed.id}"
        events = {e.room_id: e for e in AuditEvent.select().where(
            AuditEvent.action == "meeting_renamed")}
        assert set(events) == {r.id for r in renamed}
        for r in renamed:
            now = Room.get_by_id(r.id)
            assert now.title == r.title and now.owner_id == r.owner_id
            assert now.meeting_name != before[r.id] and meetings.fits(now.platform, now.meeting)
            assert before[r.id] in events[r.id].detail and now.meeting in events[r.id].detail
            assert events[r.id].actor is None and events[r.id].actor_email == ""
        names = [(r.platform, r.meeting.lower()) for r in Room.select()]
        assert len(set(names)) == len(names)
        # From now on the database itself refuses a second room with a name on a platform.
        with pytest.raises(IntegrityError), database.atomic():
            Room.create(owner=bob, title="Another copy", platform="jitsi",
                        meeting_name="Launch-1", starts_at=datetime(2031, 1, 1, 10),
                        ends_at=datetime(2031, 1, 1, 11))


def test_a_version_11_database_names_its_guest_moderators_in_the_audit_log(config, own_database):
    """Version 12: the audit log says who acted as what. Events recorded before keep their
    rows; a moderator's action with an email but no account was a shared-link guest made
    moderator, who typed that email, and now reads so; the others stay as they were."""
    from portal.audit import who
    from portal.models import AuditEvent

    with _latest_tables():
        owner = User.create(email="host@example.com", password_hash="x", access="broadcaster")
        room = Room.create(owner=owner, title="Kept", starts_at=datetime(2030, 1, 1, 10),
                           ends_at=datetime(2030, 1, 1, 11))
        migrate(*[portal_db._migrator().drop_column("audit_event", c)
                  for c in ("actor_name", "actor_source")])
        p = database.param
        for actor_id, email, action in ((owner.id, owner.email, "link_created"),
                                        (None, "admin@example.com", "guest_removed"),
                                        (None, "guestgate", "calendar_updated"),
                                        (None, "ada@example.com", "guest_left"),
                                        (None, "", "room_deleted")):
            database.execute_sql(
                "INSERT INTO audit_event (room_id, actor_id, actor_email, action, target, detail, "
                f"created_at) VALUES ({', '.join([p] * 7)})",
                (room.id, actor_id, email, action, "", "", "2029-12-01 12:00:00"))
        SchemaVersion.create(version=11)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 12: audit log: a guest moderator is named" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        events = {e.action: e for e in AuditEvent.select()}
        assert who(events["link_created"]) == "host@example.com"
        assert who(events["guest_removed"]) == \
            "guest moderator <admin@example.com> (typed email, unverified)"
        assert who(events["calendar_updated"]) == "guestgate"
        assert who(events["room_deleted"]) == "System"
        assert who(events["guest_left"]) == "ada@example.com"  # not a moderator's action
        assert AuditEvent.select().count() == 5


def test_a_version_12_database_upgrades_to_single_sign_on_with_its_accounts_kept(
        config, own_database):
    """Version 13: accounts get the provider's issuer and subject (one account each), the roles
    it gave and the last sign-in; the accounts there were sign in with their passwords as
    before."""
    from peewee import IntegrityError

    with _latest_tables():
        User.create(email="host@example.com", password_hash="x", access="admin")
        database.execute_sql('DROP INDEX IF EXISTS "user_oidc_issuer_oidc_subject"')
        migrate(*[portal_db._migrator().drop_column("user", c)
                  for c in ("oidc_issuer", "oidc_subject", "sso_roles", "last_sign_in_at")])
        SchemaVersion.create(version=12)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 13: user: single sign-on" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        host = User.get(User.email == "host@example.com")
        assert (host.access, host.signs_on, host.sso_roles, host.last_sign_in_at) == \
            ("admin", False, "", None)
        User.create(email="ada@example.com", password_hash="!", oidc_issuer="https://idp",
                    oidc_subject="ada")
        with pytest.raises(IntegrityError), database.atomic():
            User.create(email="eve@example.com", password_hash="!", oidc_issuer="https://idp",
                        oidc_subject="ada")


def test_a_version_12_database_gets_the_api_tokens_table(config, own_database):
    """Version 14: API tokens, kept as hashes; everything already there stays."""
    from portal.models import ApiToken
    from portal.services import api_tokens

    with _latest_tables():
        owner = User.create(email="host@example.com", password_hash="x", access="broadcaster")
        database.drop_tables([ApiToken])
        SchemaVersion.create(version=12)
    app = _app_without_upgrade(config)
    output = _init_db(app)
    assert "upgraded to schema version 14: API tokens" in output
    with app.app_context(), database.connection_context():
        assert schema_version() == LATEST_VERSION
        assert "api_token" in database.get_tables()
        row, token = api_tokens.create(User.get_by_id(owner.id), "after the upgrade", "read", 1)
        assert ApiToken.get_by_id(row.id).token_hash == api_tokens.hash_token(token)


def test_a_version_12_database_gets_the_webhook_tables(config, own_database):
    """Version 16: endpoints, the outbox and its deliveries (after 13 and 14)."""
    from portal.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    with _latest_tables():
        owner = User.create(email="host@example.com", password_hash="x", access="broadcaster")
        database.drop_tables([WebhookDelivery, WebhookEvent, WebhookEndpoint])
        SchemaVersion.create(version=12)
    output = _init_db(_app_without_upgrade(config))
    assert "upgraded to schema version 16: webhooks" in output
    with database.connection_context():
        assert schema_version() == LATEST_VERSION
        assert {"webhook_endpoint", "webhook_event", "webhook_delivery"} <= set(
            database.get_tables())
        endpoint = WebhookEndpoint.create(owner=owner, url="https://example.org/h",
                                          events="guest.waiting", secret="whsec_x")
        event = WebhookEvent.create(event_id="msg_1", type="guest.waiting", payload="{}")
        assert WebhookDelivery.create(endpoint=endpoint, event=event).status == "pending"
