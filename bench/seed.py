"""Seeding the benchmark database: filler rows at the size asked for (rooms, their links and
invitations, participants, denials), then the few fixed rooms the routes are measured on.

Filler goes in with bulk inserts (executemany on SQLite, execute_values on PostgreSQL), in chunks,
inside transactions; SQLite runs with synchronous=off while seeding. Ids are given explicitly so
rows can refer to each other without reading them back."""

import itertools
import random
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import timedelta

from peewee import SqliteDatabase

from portal import models, passwords, tokens
from portal.db import close_pool, database, is_sqlite, make_database, upgrade
from portal.models import (
    DenialCount,
    DenialEvent,
    GuestLink,
    Invitation,
    Participant,
    Room,
    User,
)
from portal.timeutil import utcnow

OWNER_EMAIL = "bench-owner@bench.example"
OWNER_PASSWORD = "bench owner password"
LINKS_PER_ROOM = 3
INVITATIONS_PER_ROOM = 20
OWNER_ROOM_WAITING = 200  # the owner's room page is measured with this many guests waiting
BURST_LIMIT = 500  # the harness sets it to half the entries of its burst before firing it
REASONS = ("guest_access_off", "link_expired", "link_used_up", "session_ended", "link_invalid")
STATUSES = ("admitted",) * 14 + ("left",) * 3 + ("rejected",) * 2 + ("waiting",)
CHUNK = 5000


@dataclass(frozen=True)
class Size:
    name: str
    rooms: int
    participants: int
    denials: int
    # Past guests added to each measured room after the measured guests entered (add_crowd).
    crowd: int = 0


SIZES = {
    "small": Size("small", rooms=10, participants=1_000, denials=1_000),
    "large": Size("large", rooms=10_000, participants=1_000_000, denials=1_000_000,
                  crowd=50_000),
    # QUICK=1: enough rows to exercise the same code, seeded in about a second
    "large-quick": Size("large-quick", rooms=50, participants=5_000, denials=5_000, crowd=5_000),
}


def connect_for_seeding(url: str):
    """The portal's own database choice, but SQLite without fsyncs and with a big cache."""
    db = make_database(url)
    if isinstance(db, SqliteDatabase):
        db = SqliteDatabase(db.database, pragmas={
            "journal_mode": "wal", "synchronous": "off", "foreign_keys": 0,
            "cache_size": -262144, "temp_store": "memory", "busy_timeout": 5000})
    database.initialize(db)
    return db


def _ts(value):
    # sqlite3's implicit datetime adapter is deprecated; peewee stores "YYYY-MM-DD HH:MM:SS".
    if value is None or not is_sqlite():
        return value
    return value.isoformat(" ")


def bulk_insert(model, columns: list[str], rows) -> int:
    """Insert an iterable of tuples in chunks, each chunk one statement batch. Columns not
    named get their field's constant default (peewee's defaults live in Python, not in the
    schema), so a column added to a model needs no change here."""
    table = model._meta.table_name
    defaults = [f for f in model._meta.sorted_fields
                if f.name not in columns and f.default is not None and not callable(f.default)]
    columns = [*columns, *(f.name for f in defaults)]
    names = ", ".join(f'"{model._meta.fields[c].column_name}"' for c in columns)
    rows = (tuple(row) + tuple(f.db_value(f.default) for f in defaults) for row in rows)
    count = 0
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            return count
        count += len(chunk)
        if is_sqlite():
            sql = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
            database.cursor().executemany(sql, chunk)
        else:  # PostgreSQL's bulk load
            with database.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in chunk:
                    copy.write_row(row)


def seed_filler(size: Size, rng: random.Random) -> dict:
    now = utcnow()
    n_rooms = size.rooms
    owners = max(1, n_rooms // 100)
    guests = n_rooms * INVITATIONS_PER_ROOM
    unusable = "!bench-no-password"
    counts = {}
    with database.atomic():
        counts["users"] = bulk_insert(User, ["id", "email", "name", "password_hash", "access",
                                             "timezone", "password_version", "created_at"],
            ((i, f"{kind}{i}@bench.example", f"{kind.title()} {i}", unusable, access, "UTC", 1,
              _ts(now))
             for i, kind, access in itertools.chain(
                 ((i, "owner", "broadcaster") for i in range(1, owners + 1)),
                 ((owners + i, "guest", "guest") for i in range(1, guests + 1)))))

        def rooms():
            for r in range(1, n_rooms + 1):
                start = now + timedelta(hours=rng.randint(-24 * 30, 24 * 30))
                yield (r, 1 + r % owners, f"Room {r}", "", "", _ts(start),
                       _ts(start + timedelta(hours=2)), "regular", r % 5 != 0, r % 3 == 0, True,
                       "", _ts(now), _ts(now), f"bench-room-{r}")

        # meeting_name: its default is made in Python (derive_name), which bulk_insert can't
        # give; each room needs one of its own (the unique index since schema version 11).
        counts["rooms"] = bulk_insert(Room, [
            "id", "owner", "title", "description", "speakers", "starts_at", "ends_at", "kind",
            "guest_access_enabled", "require_approval", "require_email_match", "host_message",
            "created_at", "updated_at", "meeting_name"], rooms())
        counts["links"] = bulk_insert(GuestLink, [
            "id", "room", "name", "max_uses", "uses", "version", "created_at"],
            ((r * LINKS_PER_ROOM + k + 1 - LINKS_PER_ROOM, r, f"Link {k + 1}",
              (None, 100, 1000)[k], rng.randint(0, 100), 1, _ts(now))
             for r in range(1, n_rooms + 1) for k in range(LINKS_PER_ROOM)))
        counts["invitations"] = bulk_insert(Invitation, [
            "id", "room", "user", "email", "role", "valid_once", "version", "email_status",
            "email_error", "created_at"],
            ((i, r, owners + i, f"guest{owners + i}@bench.example",
              ("viewer", "speaker", "moderator")[k % 3],
              k % 4 == 0, 1, "sent", "", _ts(now))
             for r in range(1, n_rooms + 1) for k in range(INVITATIONS_PER_ROOM)
             for i in [(r - 1) * INVITATIONS_PER_ROOM + k + 1]))

    def participants(lo, hi):
        for p in range(lo + 1, min(hi, size.participants) + 1):
            room = 1 + p % n_rooms
            created = now - timedelta(seconds=rng.randint(0, 90 * 86400))
            yield (p, room, (room - 1) * LINKS_PER_ROOM + 1 + p % LINKS_PER_ROOM,
                   f"Visitor {p}", f"visitor{p}@example.org", "viewer", rng.choice(STATUSES),
                   secrets.token_urlsafe(24), 1, _ts(created), _ts(created))

    def denials(lo, hi):
        for d in range(lo + 1, min(hi, size.denials) + 1):
            room = 1 + d % n_rooms
            yield (d, room, rng.choice(REASONS), (room - 1) * LINKS_PER_ROOM + 1,
                   f"denied{d}@example.org", _ts(now - timedelta(seconds=d)))

    p_cols = ["id", "room", "link", "name", "email", "role", "status", "device", "door_version",
              "created_at", "updated_at"]
    d_cols = ["id", "room", "reason", "link", "email", "created_at"]
    counts["participants"] = counts["denials"] = 0
    # One transaction per 100,000 rows: big enough to be fast, small enough for the WAL.
    for start in range(0, max(size.participants, size.denials), 100_000):
        with database.atomic():
            counts["participants"] += bulk_insert(Participant, p_cols,
                                                  participants(start, start + 100_000))
            counts["denials"] += bulk_insert(DenialEvent, d_cols, denials(start, start + 100_000))
    with database.atomic():
        counts["denial_counts"] = bulk_insert(DenialCount, ["room_key", "reason", "day", "count"],
            ((r, reason, (now - timedelta(days=day)).date().isoformat(), rng.randint(1, 50))
             for r in range(1, n_rooms + 1) for reason in REASONS[:3] for day in range(3)))
    if not is_sqlite():
        # explicit ids: move each sequence past them, as the app's inserts need
        for model in (User, Room, GuestLink, Invitation, Participant, DenialEvent):
            table = model._meta.table_name
            database.execute_sql(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                                 f"(SELECT MAX(id) FROM \"{table}\"))")
    return counts


@dataclass
class Fixtures:
    """What the routes are measured on. Tokens are computed from SECRET_KEY when the run starts."""
    owner_email: str
    owner_password: str
    open_room: int  # guest access on, no approval: lobby GET/POST, the guest room page
    open_link_get: int
    open_link_post: int
    owner_room: int  # approval on: 3 links, 20 invitations, 200 waiting (one of them polls)
    owner_room_poll_link: int
    burst_room: int
    burst_link: int  # limited to BURST_LIMIT uses

    def to_json(self) -> dict:
        return asdict(self)


def seed_fixtures(size: Size) -> Fixtures:
    now = utcnow()
    with database.atomic():
        owner = User.create(email=OWNER_EMAIL, name="Bench Owner", access="broadcaster",
                            password_hash=passwords.hash_password(OWNER_PASSWORD))

        def room(title, **kw):
            return Room.create(owner=owner, title=title, description="Measured by bench/.",
                               speakers="Ada Lovelace\nGrace Hopper",
                               starts_at=now - timedelta(minutes=10),
                               ends_at=now + timedelta(days=7), guest_access_enabled=True, **kw)

        open_room = room("Bench open room")
        get_link = GuestLink.create(room=open_room, name="Lobby GET", created_by=owner)
        post_link = GuestLink.create(room=open_room, name="Lobby POST", created_by=owner)

        owner_room = room("Bench owner room", require_approval=True)
        links = [GuestLink.create(room=owner_room, name=f"Guests {k}", created_by=owner,
                                  max_uses=(None, 1000, 5000)[k]) for k in range(LINKS_PER_ROOM)]
        first_guest = User.select().where(User.access == "guest").order_by(User.id).first().id
        for k in range(INVITATIONS_PER_ROOM):
            user = User.get_by_id(first_guest + k)
            Invitation.create(room=owner_room, user=user, email=user.email,
                              role=("viewer", "speaker", "moderator")[k % 3],
                              valid_once=k % 2 == 0, created_by=owner,
                              email_status=("sent", "not_sent", "failed")[k % 3],
                              emailed_at=now if k % 3 == 0 else None,
                              email_error="Mailbox unavailable" if k % 3 == 2 else "")
        # One waiting guest fewer than the target: the polling guest enters through the lobby.
        for i in range(OWNER_ROOM_WAITING - 1):
            Participant.create(room=owner_room, link=links[i % LINKS_PER_ROOM],
                               name=f"Waiting guest {i}", email=f"waiting{i}@example.org",
                               status="waiting", device=secrets.token_urlsafe(24),
                               created_at=now - timedelta(seconds=OWNER_ROOM_WAITING - i))

        burst_room = room("Bench burst room")
        burst_link = GuestLink.create(room=burst_room, name="Burst", max_uses=BURST_LIMIT,
                                      created_by=owner)
    return Fixtures(OWNER_EMAIL, OWNER_PASSWORD, open_room.id, get_link.id, post_link.id,
                    owner_room.id, links[0].id, burst_room.id, burst_link.id)


def add_crowd(fixtures: Fixtures, size: Size) -> int:
    """Past guests (admitted, rejected, left) arriving in the measured rooms after the guests the
    routes are measured as: a presence lookup that walks a room's participants newest first
    instead of using the (device, room) index has all of them to step over."""
    now = utcnow()
    with database.atomic():
        for room_id in (fixtures.open_room, fixtures.owner_room):
            link = GuestLink.select().where(GuestLink.room == room_id).first()
            bulk_insert(Participant, ["room", "link", "name", "email", "role", "status", "device",
                                      "door_version", "created_at", "updated_at"],
                        ((room_id, link.id, f"Past guest {i}", f"past{i}@example.org", "viewer",
                          ("admitted", "rejected", "left")[i % 3], secrets.token_urlsafe(24), 1,
                          _ts(now), _ts(now)) for i in range(size.crowd)))
    return 2 * size.crowd


def seed(url: str, size: Size, seed_value: int = 8) -> tuple[Fixtures, dict]:
    """Create the schema and every row; returns the fixtures and what was seeded."""
    connect_for_seeding(url)
    started = time.perf_counter()
    upgrade(models)
    with database.connection_context():
        counts = seed_filler(size, random.Random(seed_value))
        fixtures = seed_fixtures(size)
        if is_sqlite():
            database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            database.execute_sql("ANALYZE")  # what autovacuum does within a minute anyway
    close_pool()
    counts["seconds"] = round(time.perf_counter() - started, 1)
    return fixtures, counts


def token_of(secret_keys: list[str], link_id: int) -> str:
    return tokens.make_token(secret_keys, tokens.LINK, link_id, 1)
