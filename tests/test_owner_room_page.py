"""The owner's room page: one query per list, not one per row, however many rows the lists
hold."""

from datetime import timedelta

from helpers import count_queries

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
