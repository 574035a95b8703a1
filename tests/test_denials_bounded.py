"""100,000 denials in one room: the events stay within their bound, the counters are exact, and
the panel reads only counters and the newest events."""

import time
from datetime import timedelta

from helpers import PG_URL, count_queries, make_user
from peewee import fn

from portal import denials
from portal.db import database
from portal.models import DenialCount, DenialEvent, Room
from portal.owner import denials as panel
from portal.timeutil import utcnow

FLOOD = 100_000
# PostgreSQL keeps every version of the day's counter row until the transaction ends, so one
# transaction of 100,000 upserts on one row is quadratic there; in production every denial is
# its own request and transaction. SQLite takes them all in one.
BATCH = 100 if PG_URL else FLOOD


def test_a_flood_of_denials_stays_bounded_and_counted_exactly(app, db):
    keep = app.config["DENIAL_EVENTS_PER_ROOM"]
    now = utcnow()
    room = Room.create(owner=make_user(), title="Flooded", starts_at=now,
                       ends_at=now + timedelta(hours=1))
    reasons = ("link_expired", "link_used_up", "guest_access_off")
    started = time.monotonic()
    with app.test_request_context():
        for start in range(0, FLOOD, BATCH):
            with database.atomic():
                for i in range(start, start + BATCH):
                    denials.record(reasons[i % 3], room=room, email=f"g{i}@example.com")
                    if i % 10_000 == 0:
                        kept = DenialEvent.select().where(DenialEvent.room == room).count()
                        assert kept <= keep + denials.max_events_slack()
    elapsed = time.monotonic() - started
    print(f"\n{FLOOD:,} denials recorded in {elapsed:.1f} s")

    kept = DenialEvent.select().where(DenialEvent.room == room).count()
    assert keep <= kept <= keep + denials.max_events_slack()
    newest = DenialEvent.select().where(DenialEvent.room == room).order_by(
        DenialEvent.id.desc()).first()
    assert newest.email == f"g{FLOOD - 1}@example.com"
    counts = dict(DenialCount.select(DenialCount.reason, fn.SUM(DenialCount.count))
                  .where(DenialCount.room_key == room.id).group_by(DenialCount.reason).tuples())
    assert {r: int(n) for r, n in counts.items()} == {r: FLOOD // 3 + (r == reasons[0])
                                                     for r in reasons}
    assert DenialCount.select().where(DenialCount.room_key == room.id).count() == 3

    # The panel: grouped counter sums and a LIMIT on the events — a fixed, small number of
    # statements whatever the flood (its speed is measured by the benchmarks, not here).
    with app.test_request_context(), count_queries() as statements:
        context = panel.denials_context(room)
    assert len(statements) <= 4, statements
    assert all("LIMIT" in s for s in statements if "denialevent" in s), statements
    by_reason = {row.code: row.counts for row in context["denial_rows"]}
    assert by_reason["link_expired"] == {"day": 33_334, "week": 33_334, "all": 33_334}
    assert len(context["denial_events"]) == panel.RECENT_EVENTS


def test_pruning_keeps_exactly_the_newest_after_a_prune(app, db):
    app.config["DENIAL_EVENTS_PER_ROOM"] = 25
    now = utcnow()
    room = Room.create(owner=make_user(), title="R", starts_at=now,
                       ends_at=now + timedelta(hours=1))
    with app.test_request_context():
        for i in range(503):  # pruned on the 500th; three more since
            denials.record("link_expired", room=room, email=f"{i}")
            kept = DenialEvent.select().where(DenialEvent.room == room).count()
            assert kept <= 25 + denials.max_events_slack()
        # A prune drops exactly what is over the bound: everything but the newest 25.
        assert kept == 28
        assert denials.prune_room(room.id) == 3
        assert denials.prune_room(room.id) == 0
    emails = [e.email for e in DenialEvent.select().where(DenialEvent.room == room)
              .order_by(DenialEvent.id)]
    assert emails == [str(i) for i in range(478, 503)]
