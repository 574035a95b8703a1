"""Denials are kept bounded: exact daily counters, only the newest events of each room."""


import pytest
from helpers import count_queries, make_room, make_user, text_of
from peewee import fn

from portal import denials
from portal.models import DenialCount, DenialEvent


@pytest.fixture(params=[False, True], ids=["rate limits off", "rate limits on"])
def config(request, config):
    """Both ways: the bounds protect the database whether or not rate limits are on."""
    return {**config, "RATELIMIT_ENABLED": request.param}


def test_events_bounded_and_counters_exact(app, db):
    app.config["DENIAL_EVENTS_PER_ROOM"] = 50
    owner = make_user()
    room, other = make_room(owner, title="Room"), make_room(owner, title="Other")
    with app.app_context():
        for i in range(400):
            denials.record("link_expired" if i % 2 else "link_used_up", room=room,
                           email=f"g{i}@example.com")
        denials.record("guest_access_off", room=other)
        denials.record("link_invalid")  # no room: counted only
    assert DenialEvent.select().where(DenialEvent.room == room).count() == 50
    newest = DenialEvent.select().where(DenialEvent.room == room).order_by(
        DenialEvent.id.desc()).first()
    assert newest.email == "g399@example.com"
    assert DenialEvent.select().where(DenialEvent.room == other).count() == 1
    counts = dict(DenialCount.select(DenialCount.reason, fn.SUM(DenialCount.count))
                  .where(DenialCount.room_key == room.id).group_by(DenialCount.reason).tuples())
    assert counts == {"link_expired": 200, "link_used_up": 200}
    assert DenialCount.get(DenialCount.room_key == 0).count == 1
    assert DenialEvent.select().where(DenialEvent.room.is_null()).count() == 0


def test_a_flood_of_garbled_links_writes_only_up_to_its_bound(app, client, db):
    # Garbled tokens cost nothing to make and can't be tied to a room: each client address has
    # its denials recorded at most GARBLED_DENIALS_PER_MINUTE times a minute.
    bound = app.config["GARBLED_DENIALS_PER_MINUTE"]
    with count_queries() as statements:
        for i in range(1000):
            response = client.get(f"/{'gi'[i % 2]}/garbled-{i}")
            assert response.status_code == 404
            assert "This link isn't valid" in text_of(response)
    writes = [s for s in statements if s.lstrip("('\"").upper().startswith(
        ("INSERT", "UPDATE", "DELETE", "WITH"))]
    assert len(writes) == bound
    assert DenialCount.get((DenialCount.room_key == 0)
                           & (DenialCount.reason == "link_invalid")).count == bound
    # Another address has its own allowance.
    other = app.test_client()
    other.get("/g/garbled", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert DenialCount.get(DenialCount.room_key == 0).count == bound + 1
