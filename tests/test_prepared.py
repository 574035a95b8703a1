"""Prepared queries (portal.prepared) answer exactly as the plain peewee query each one replaces:
every prepared query the app makes, with parameters that find rows and ones that don't — same
rows, same models with their joined relations, same types, same changes — on SQLite, and on
PostgreSQL when DATABASE_URL names one. This is the check to run before raising peewee's pin
in pyproject.toml: the helper relies on peewee internals."""

import threading
from datetime import date, datetime

import pytest
from helpers import count_queries
from peewee import Insert, Model, SelectBase

from portal.models import (
    Attachment,
    DenialCount,
    DomainRule,
    GuestLink,
    Invitation,
    Participant,
    Room,
    User,
)
from portal.prepared import every_query, loaded, model_key

REGISTRY = every_query()


@pytest.fixture
def rows(app, db):
    """A room with guests through an invitation and links: admitted, waiting, denied, left
    (while moved to the waiting room), and one whose link was deleted altogether; a room with
    nobody; and domain rules."""
    owner = User.create(email="owner@example.com", password_hash="x", access="broadcaster")
    room = Room.create(owner=owner, title="Prepared", starts_at=datetime(2030, 1, 1, 10),
                       ends_at=datetime(2030, 1, 1, 11), guest_access_enabled=True,
                       require_approval=True, host_message="Soon")
    empty = Room.create(owner=owner, title="Empty", starts_at=datetime(2030, 1, 1, 10),
                        ends_at=datetime(2030, 1, 1, 11))
    invited = User.create(email="ada@example.com", password_hash="x", access="admin")
    invitation = Invitation.create(room=room, user=invited, email=invited.email,
                                   role="moderator", valid_once=True)
    link = GuestLink.create(room=room, name="Spare", max_uses=1)
    open_link = GuestLink.create(room=room, name="Open", expires_at=datetime(2031, 1, 1))
    gone = GuestLink.create(room=room, name="Gone")
    Participant.create(room=room, invitation=invitation, name="Ada", email=invited.email,
                       role="viewer", status="admitted", device="device-1")
    Participant.create(room=room, link=open_link, name="Bo", email="bo@example.com",
                       status="waiting", device="device-2")
    Participant.create(room=room, link=open_link, name="Cy", email="cy@example.com",
                       status="rejected", device="device-3")
    Participant.create(room=room, link=open_link, name="Di", email="di@example.com",
                       status="left", device="device-4", moved_at=datetime(2030, 1, 1, 10, 5))
    Participant.create(room=room, link=gone, name="Ed", email="ed@example.com",
                       status="admitted", device="device-5")
    gone.delete_instance()  # the participant's link reference is cleared
    Attachment.create(room=room, filename="slides.pdf", stored_name="abc.pdf",
                      content_type="application/pdf", size=9)
    DenialCount.create(room_key=room.id, reason="link_expired", day=date(2030, 1, 1), count=3)
    DomainRule.create(domain="example.com", mode="allow")
    DomainRule.create(domain="spam.test", mode="block")
    return {"room": room.id, "empty": empty.id, "invitation": invitation.id, "link": link.id,
            "open_link": open_link.id, "owner": owner.id}


def _presences(r):
    return [dict(room_id=room, device=f"device-{n}")
            for room in (r["room"], r["empty"]) for n in range(1, 7)]


def _entry(r, minute):
    at = datetime(2030, 1, 1, 9, minute)
    return dict(room=r["room"], link=r["open_link"], invitation=None, name=f"Guest {minute}",
                email=f"g{minute}@example.com", role="viewer", email_source="unverified",
                status="waiting", device=f"device-{minute}0", door_version=3, created_at=at,
                updated_at=at, decided_at=None, consented_at=None, consent_version=None,
                moved_at=None)


# Parameters for every prepared query of the app: each must find rows with some and not others.
CASES = {
    "portal.access._link_with_room": lambda r: [
        dict(link_id=r["link"]), dict(link_id=r["open_link"]), dict(link_id=r["link"] + 99)],
    "portal.access._invitation_with_room_and_user": lambda r: [
        dict(invitation_id=r["invitation"]), dict(invitation_id=r["invitation"] + 99)],
    "portal.access._domain_rules": lambda r: [{}],
    "portal.access._host_holds": lambda r: [
        dict(room_id=r["room"], device="device-4", email="new@example.com"),
        dict(room_id=r["room"], device="device-3", email="new@example.com"),
        dict(room_id=r["room"], device="device-9", email="cy@example.com"),
        dict(room_id=r["room"], device="device-2", email="bo@example.com"),
        dict(room_id=r["empty"], device="device-3", email="cy@example.com")],
    "portal.access._presence": _presences,
    "portal.access._presence_facts": _presences,
    "portal.models._current_presence": _presences,
    "portal.models._claim_link": lambda r: [
        dict(link_id=r["link"], room_id=r["room"], device="device-9", door_version=1),
        dict(link_id=r["open_link"], room_id=r["room"], device="device-9", door_version=1),
        # a browser back through the link it entered by: no new use
        dict(link_id=r["open_link"], room_id=r["room"], device="device-4", door_version=1),
        dict(link_id=r["link"] + 99, room_id=r["room"], device="device-9", door_version=1)],
    "portal.access._presence_or_left": lambda r: [
        dict(room_id=r["room"], device=f"device-{n}", link_id=door, invitation_id=invitation,
             door_version=1)
        for n in range(1, 7) for door, invitation in (
            (r["open_link"], 0), (0, r["invitation"]), (r["link"], 0))],
    "portal.models._bind_invitation": lambda r: [
        dict(invitation_id=r["invitation"], device="device-1"),
        dict(invitation_id=r["invitation"] + 99, device="device-1")],
    "portal.access._new_participant": lambda r: [_entry(r, 1), _entry(r, 2)],
    "portal.access._crowd": lambda r: [
        dict(room_id=r["room"], status="waiting"), dict(room_id=r["room"], status="left"),
        dict(room_id=r["empty"], status="waiting")],
    "portal.guest.room._attachments": lambda r: [dict(room_id=r["room"]), dict(room_id=r["empty"])],
    "portal.auth._signed_in_user": lambda r: [
        dict(user_id=r["owner"], version=1, generation=0),
        dict(user_id=r["owner"], version=2, generation=0),
        dict(user_id=r["owner"], version=1, generation=1)],
    "portal.denials._room_denied_since": lambda r: [
        dict(room_key=r["room"], day=date(2029, 12, 31)),
        dict(room_key=r["room"], day=date(2030, 1, 2)),
        dict(room_key=r["empty"], day=date(2029, 12, 31))],
    "portal.owner._room": lambda r: [dict(room_id=r["room"]), dict(room_id=r["empty"] + 99)],
    "portal.services.hosting._waiting_first": lambda r: [
        dict(room_id=r["room"], limit=50), dict(room_id=r["room"], limit=1),
        dict(room_id=r["empty"], limit=50)],
    "portal.services.hosting._inside_last": lambda r: [
        dict(room_id=r["room"], limit=50), dict(room_id=r["empty"], limit=50)],
    # the count of nothing is (0,): counted as a miss
    "portal.services.hosting._inside_count": lambda r: [
        dict(room_id=r["room"]), dict(room_id=r["empty"])],
    "portal.services.hosting._turned_away_last": lambda r: [
        dict(room_id=r["room"], limit=30), dict(room_id=r["empty"], limit=30)],
    "portal.access._ahead_in_line": lambda r: [
        dict(room_id=r["room"], participant_id=99, created_at=datetime(2031, 1, 1),
             counted=100),
        dict(room_id=r["room"], participant_id=1, created_at=datetime(2000, 1, 1), counted=1),
        dict(room_id=r["empty"], participant_id=99, created_at=datetime(2031, 1, 1),
             counted=100)],
}


def test_every_prepared_query_of_the_app_is_checked_here(app):
    assert set(REGISTRY) == set(CASES)


def snapshot(value):
    """A model as plain data, with the joined models it carries; dicts and tuples as they are."""
    if isinstance(value, Model):
        return (type(value).__name__, value.__data__,
                {name: snapshot(rel) for name, rel in value.__rel__.items()}, value.is_dirty())
    if isinstance(value, list):
        return [snapshot(v) for v in value]
    return value


def _tables():
    return {model.__name__: [tuple(row.values()) for row in
                             model.select().order_by(model.id).dicts()]
            for model in (GuestLink, Invitation, Participant)}


def _changes(db, run):
    """What `run` returns and the rows afterwards; then everything is rolled back."""
    with db.atomic() as transaction:
        answer = run()
        after = _tables()
        transaction.rollback()
    return answer, after


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_prepared_query_does_what_the_plain_query_does(rows, db, name):
    prepared = REGISTRY[name]
    params = CASES[name](rows)
    kind = type(prepared.query(**params[0]))
    found = set()
    if issubclass(kind, SelectBase):
        for values in params:
            plain_first = prepared.query(**values).first()
            plain_all = list(prepared.query(**values))
            for _ in range(2):  # the second run uses what the first one learnt
                with count_queries() as statements:
                    first = prepared.first(**values)
                assert len(statements) == 1
                assert snapshot(first) == snapshot(plain_first), values
                assert snapshot(prepared.all(**values)) == snapshot(plain_all), values
            found.add(first not in (None, (0,)))  # a count of nothing misses too
    elif issubclass(kind, Insert):
        for values in params:
            new_id, after = _changes(db, lambda v=values: prepared.insert(**v))
            plain_id, plain_after = _changes(db, lambda v=values: prepared.query(**v).execute())
            inserted = [row for row in after["Participant"] if row[0] == new_id]
            assert len(inserted) == 1 and inserted[0][1:] == next(
                row for row in plain_after["Participant"] if row[0] == plain_id)[1:]
            assert {k: v for k, v in after.items() if k != "Participant"} == \
                {k: v for k, v in plain_after.items() if k != "Participant"}
            found.add(True)
    else:  # an update: how many rows it changed, and how
        for values in params:
            changed, after = _changes(db, lambda v=values: prepared.execute(**v))
            plain_changed, plain_after = _changes(db, lambda v=values: prepared.query(**v)
                                                  .execute())
            assert (changed, after) == (plain_changed, plain_after), values
            found.add(changed > 0)
    assert found == ({True} if name.endswith(("_domain_rules", "_new_participant"))
                     else {True, False}), "the cases must find rows and miss them"


def test_joined_rows_come_back_as_models_with_real_types(rows, db):
    row = REGISTRY["portal.access._presence"].first(room_id=rows["room"], device="device-1")
    assert row.room.title == "Prepared" and row.room.starts_at == datetime(2030, 1, 1, 10)
    assert row.invitation.user.email == "ada@example.com" and row.link is None
    assert not row.is_dirty()


def test_a_prepared_insert_returns_each_new_id(rows, db):
    new_participant = REGISTRY["portal.access._new_participant"]
    ids = [new_participant.insert(**_entry(rows, minute)) for minute in (1, 2)]
    assert ids[1] == ids[0] + 1
    assert Participant.get_by_id(ids[1]).name == "Guest 2"


def test_a_prepared_query_refuses_a_value_it_does_not_name_or_a_missing_one(app):
    """Otherwise a column added to the row but not to the prepared insert would silently keep
    its default (as the email's source once did)."""
    with pytest.raises(TypeError, match="takes"):
        REGISTRY["portal.access._domain_rules"].all(extra=1)
    with pytest.raises(TypeError, match="takes"):
        REGISTRY["portal.access._new_participant"].insert(room=1)


def test_threads_running_one_prepared_query_each_get_their_own_rows(rows, db):
    """What the cursor wrapper learnt is shared by every thread: it must only be read."""
    prepared = REGISTRY["portal.access._presence"]
    devices = [f"device-{n}" for n in (1, 2, 3, 5)] * 8
    expected = {d: snapshot(prepared.query(room_id=rows["room"], device=d).first())
                for d in set(devices)}
    db.close()
    wrong, barrier = [], threading.Barrier(len(devices))

    def look(device):
        barrier.wait()
        try:
            for _ in range(20):
                if snapshot(prepared.first(room_id=rows["room"], device=device)) \
                        != expected[device]:
                    wrong.append(device)
        finally:
            db.close()

    threads = [threading.Thread(target=look, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_every_query_is_found_in_the_modules_that_hold_it(app):
    """Each found once, under the name its module gives it (not only those imported so far)."""
    assert "portal.access._presence" in REGISTRY
    assert all(query.name == name for name, query in REGISTRY.items())


def test_a_loaded_row_saves_only_what_changes_after(rows, db):
    participant = Participant.select().where(Participant.room == rows["room"]).first()
    copy = loaded(Participant, **participant.__data__)
    assert not copy.is_dirty()
    copy.name = "Renamed"
    assert copy.dirty_fields == [Participant.name]
    copy.save()
    assert Participant.get_by_id(participant.id).name == "Renamed"
    assert Participant.get_by_id(participant.id).email == participant.email


def test_a_model_key_changes_with_any_column(rows, db):
    room = Room.get_by_id(rows["room"])
    same = Room.get_by_id(rows["room"])
    assert model_key(room) == model_key(same)
    same.title = "Other"
    assert model_key(room) != model_key(same)
