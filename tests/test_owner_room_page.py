"""The owner's room page: one query per list, not one per row, however many rows the lists
hold; only the rows listed are read; the lists' rows drawn from one pattern are the rows Jinja
draws."""

from datetime import timedelta

import pytest
from flask import url_for
from helpers import count_queries
from markupsafe import Markup

from portal.models import (
    GuestLink,
    Invitation,
    Participant,
    Registration,
    RegistrationSettings,
    Room,
    User,
)
from portal.timeutil import utcnow
from portal.web import RowPattern, slot, url_for_row


def _room_with(owner, links: int, invitations: int, waiting: int, registrants: int = 0) -> Room:
    now = utcnow()
    room = Room.create(owner=owner, title=f"Room with {waiting} waiting", require_approval=True,
                       guest_access_enabled=True, starts_at=now - timedelta(minutes=5),
                       ends_at=now + timedelta(hours=1))
    made = [GuestLink.create(room=room, name=f"Link {i}", max_uses=100) for i in range(links)]
    for i in range(invitations):
        email = f"invited{i}-{room.id}@example.com"
        user = User.create(email=email, password_hash="!", access="guest")
        Invitation.create(room=room, user=user, email=email, role="speaker")
    for i in range(waiting):
        Participant.create(room=room, link=made[i % links], name=f"Waiting guest {i}",
                           email=f"waiting{i}@example.org", status="waiting",
                           device=f"device-{room.id}-{i}")
    RegistrationSettings.create(room=room, enabled=True, mode="approval")
    Registration.insert_many([
        {"room": room.id, "email": f"registrant{i}@example.net", "name": f"Registrant {i}",
         "status": "pending", "created_at": now - timedelta(hours=1, seconds=-i)}
        for i in range(registrants)]).execute()
    return room


def test_each_view_of_the_room_makes_one_query_per_list_not_one_per_row(client, db,
                                                                        signed_in_owner):
    small = _room_with(signed_in_owner, links=1, invitations=1, waiting=1, registrants=1)
    full = _room_with(signed_in_owner, links=3, invitations=20, waiting=200, registrants=300)

    pages = {}
    for view in ("live", "access", "insights", "details"):
        with count_queries() as few:
            page = client.get(f"/rooms/{small.id}/{view}")
        assert page.status_code == 200
        with count_queries() as many:
            page = client.get(f"/rooms/{full.id}/{view}")
        assert page.status_code == 200
        pages[view] = page.get_data(as_text=True)
        # a full waiting list is counted: one more statement, whatever the crowd
        assert len(many) <= len(few) + 1, f"{view}:\n" + "\n".join(many)
        # 12: with the write that says a host is watching (host alerts; at most every 30 s a room)
        assert len(many) <= 12, f"{view}:\n" + "\n".join(many)

    # the first 50 waiting are listed, the rest counted
    live = pages["live"]
    assert "200 waiting" in live and "Waiting guest 49<" in live
    assert "Waiting guest 50<" not in live and "…and 150 more waiting" in live
    assert "invited19-" in pages["access"] and "Link 2" in pages["access"]
    # registration's list and attendance's: a page each, the rest counted
    assert "Registrant 49<" in pages["access"] and "Registrant 50<" not in pages["access"]
    assert "1–50 of 300" in pages["access"]
    assert "Registrant 49<" in pages["insights"] and "Registrant 50<" not in pages["insights"]
    assert "…and 450 more: the CSV file has everyone." in pages["insights"]


def _inside(room, doors: list, count: int, name: str) -> None:
    """`count` guests admitted through each of `doors` (a link, an invitation or None: a
    guest whose door was deleted from the database altogether)."""
    now = utcnow()
    Participant.insert_many([
        {"room": room, "link": door if isinstance(door, GuestLink) else None,
         "invitation": door if isinstance(door, Invitation) else None,
         "name": f"{name} {k}-{i}", "email": f"{name.lower()}{k}-{i}@example.org",
         "status": "admitted", "device": f"{name}-{room.id}-{k}-{i}", "door_version": 1,
         "created_at": now - timedelta(minutes=30), "decided_at": now - timedelta(minutes=i)}
        for k, door in enumerate(doors) for i in range(count)]).execute()


def test_the_live_view_with_200_waiting_lists_50_rows_and_counts_the_rest(client, db,
                                                                           signed_in_owner):
    room = _room_with(signed_in_owner, links=3, invitations=0, waiting=200)
    with count_queries() as statements:
        html = client.get(f"/rooms/{room.id}/live").get_data(as_text=True)
    assert html.count('<tr id="waiting-') == 50
    assert "…and 150 more waiting, in order of arrival" in html
    # only the 50 listed are read from the database: the rest are counted
    lists = [s for s in statements if '"moved_at"' in s]
    assert len(lists) == 1 and "LIMIT" in lists[0] and ", 50]" in lists[0], lists


def test_a_polled_sections_statements_dont_grow_with_its_rows(client, db, signed_in_owner):
    """The waiting room's and In the room's polls, as several hosts send them every few
    seconds: the same statements for one guest as for hundreds (the list, then one count)."""
    few = _room_with(signed_in_owner, links=1, invitations=0, waiting=1)
    many = _room_with(signed_in_owner, links=3, invitations=0, waiting=300)
    _inside(few, list(GuestLink.select().where(GuestLink.room == few)), 1, "Inside")
    _inside(many, list(GuestLink.select().where(GuestLink.room == many)), 100, "Inside")
    htmx = {"HX-Request": "true"}
    for section, rows in (("waiting", '<tr id="waiting-'), ("inside", '<tr id="inside-')):
        counted = {}
        for room in (few, many):
            with count_queries() as statements:
                answer = client.get(f"/rooms/{room.id}/{section}?seen=changed", headers=htmx)
            assert answer.status_code == 200
            counted[room.id] = statements
        html = answer.get_data(as_text=True)
        assert html.count(rows) == 50
        assert len(counted[many.id]) <= len(counted[few.id]) + 1, \
            f"{section}:\n" + "\n".join(counted[many.id])


def test_in_the_room_counts_exactly_those_whose_door_is_still_open(app, client, db,
                                                                   signed_in_owner):
    """The count past the listed rows (read by door, not row by row) agrees with the list:
    a deleted link, a removed invitation and a reset one close their doors, and so does a
    door gone from the database."""
    app.config["HOST_LIST_ROWS"] = 2
    room = _room_with(signed_in_owner, links=2, invitations=3, waiting=0)
    open_link, deleted_link = GuestLink.select().where(GuestLink.room == room).order_by(
        GuestLink.id)
    kept, removed, reset = Invitation.select().where(Invitation.room == room).order_by(
        Invitation.id)
    _inside(room, [open_link, deleted_link, kept, removed, reset, None], 3, "Guest")
    deleted_link.deleted_at = utcnow()
    deleted_link.save()
    Invitation.update(removed_at=utcnow()).where(Invitation.id == removed.id).execute()
    Invitation.update(version=2).where(Invitation.id == reset.id).execute()
    # one who came back by the reset invitation after it was reset is inside
    _inside(room, [reset], 1, "Back")
    Participant.update(door_version=2).where(Participant.name.startswith("Back")).execute()

    text = client.get(f"/rooms/{room.id}/live").get_data(as_text=True)
    assert "These are the last 2 to come in, of 7 inside." in text
    assert "7 inside" in text


ROW = ('<tr id="guest-{{ id }}" data-name="{{ name }}"><td>{{ name }}</td><td>{{ n }}</td>'
       '<td>{{ label }}</td><td><a href="{{ url }}">{{ _("Deny %(name)s?", name=name) }}</a>'
       '</td></tr>')


@pytest.mark.parametrize("name", ["Ada", "<script>alert(1)</script>", "O'Brien & \"Co\"",
                                  "100% {sure} %(id)s", "\ue000id\ue001 looks like a slot"])
def test_a_row_filled_from_its_pattern_is_the_row_jinja_draws(app, name):
    """The hosts' lists draw a row once with slots and fill it per guest (portal/web.py): the
    markup is what Jinja draws for the same values, escaped the same way."""
    template = app.jinja_env.from_string(ROW)
    label = Markup("<b>Invitation</b>")
    with app.test_request_context():
        pattern = RowPattern(template.render(
            id=slot.id, name=slot.name, n=slot.n, label=label,
            url=url_for_row("owner.admit", room_id=7)))
        for guest_id, n in ((1, 2.5), (12345, None)):
            assert pattern.fill(id=guest_id, name=name, n=n) == template.render(
                id=guest_id, name=name, n=n, label=label,
                url=url_for("owner.admit", room_id=7, participant_id=guest_id))
