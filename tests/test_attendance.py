"""A room's attendance (/rooms/ID/attendance and its CSV, read back with the csv module): who
registered, who got a place, who entered, when they entered and left the room page and joined
the live session, and how long they were inside — from the registrations and the guests'
presences Guestgate records anyway."""

import csv
import io
from datetime import datetime, timedelta

from helpers import GuestActions, link_path, make_room, path_of, text_of

from portal.models import GuestLink, Invitation, Participant, Registration
from portal.services import registration as service


def registered(app, room, name, email):
    """Registered and confirmed (as from the email's link); their personal link's path."""
    with app.test_request_context():
        outcome = service.register(room, name, email, {})
        service.confirm(service.confirm_token(outcome.registration))
        reg = Registration.get_by_id(outcome.registration.id)
        if reg.invitation_id is None:
            return None
        return path_of(app, Invitation.get_by_id(reg.invitation_id))


def read_csv(response):
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    return {r["email"]: r for r in csv.DictReader(io.StringIO(response.data.decode("utf-8-sig")))}


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_attendance_screen_and_csv(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, title="Town hall", join_url="https://meet.example/town")
    with app.test_request_context():
        service.save_settings(room, enabled=True, mode="open", capacity=1, opens_at=None,
                              closes_at=None)
    ada_path = registered(app, room, "Ada Lovelace", "ada@example.com")
    assert registered(app, room, "Bob Waits", "bob@example.com") is None  # the waitlist

    # Ada enters through her personal link, joins the live session, and leaves.
    ada = GuestActions(app)
    assert ada.post(ada_path, data={"name": "Ada Lovelace"}).status_code == 303
    assert ada.join(room).status_code == 303
    assert ada.leave(room).status_code in (200, 303)
    # She had been inside for half an hour (her entry moved back; no clock to wait for).
    visit = Participant.get(Participant.email == "ada@example.com")
    Participant.update(decided_at=visit.updated_at - timedelta(minutes=30)).where(
        Participant.id == visit.id).execute()

    # Cy comes by the shared link without registering, and is still inside.
    room.guest_access_enabled = True
    room.save()
    link = GuestLink.create(room=room, name="Everyone")
    cy = GuestActions(app)
    assert cy.enter(link_path(app, link), "Cy Walkin", "cy@example.com").status_code == 303

    page = client.get(f"/rooms/{room.id}/insights")
    assert page.status_code == 200
    text = text_of(page)
    assert "2 registered, 1 with a place, 2 entered the room, 1 joined the live session." in text
    assert "still inside" in text and "30 min" in text

    response = client.get(f"/rooms/{room.id}/attendance/export.csv")
    assert response.status_code == 200
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = read_csv(response)
    assert list(rows) == ["ada@example.com", "bob@example.com", "cy@example.com"]
    ada_row, bob_row, cy_row = rows["ada@example.com"], rows["bob@example.com"], \
        rows["cy@example.com"]
    assert (ada_row["name"], ada_row["registration"], ada_row["approved"], ada_row["entered"],
            ada_row["minutes_in_room"], ada_row["visits"]) == (
        "Ada Lovelace", "registered", "yes", "yes", "30", "1")
    assert when(ada_row["entered_at"]) < when(ada_row["joined_live_at"]) \
        <= when(ada_row["left_at"])
    assert ada_row["registered_at"] and ada_row["approved_at"]
    assert (bob_row["registration"], bob_row["approved"], bob_row["entered"],
            bob_row["entered_at"], bob_row["minutes_in_room"]) == (
        "on the waitlist", "not yet", "no", "", "")
    assert (cy_row["name"], cy_row["registration"], cy_row["entered"], cy_row["left_at"],
            cy_row["joined_live_at"]) == ("Cy Walkin", "", "yes", "", "")
    assert cy_row["entered_at"]


def test_attendance_csv_neutralises_formulas_and_is_the_owners_alone(app, client,
                                                                     signed_in_owner, db):
    room = make_room(signed_in_owner, guest_access_enabled=True)
    link = GuestLink.create(room=room, name="Everyone")
    GuestActions(app).enter(link_path(app, link), "=HYPERLINK(\"x\")", "eve@example.com")
    rows = read_csv(client.get(f"/rooms/{room.id}/attendance/export.csv"))
    assert rows["eve@example.com"]["name"] == "'=HYPERLINK(\"x\")"
    client.post("/sign-out")
    assert client.get(f"/rooms/{room.id}/attendance").status_code in (302, 303, 401, 404)
    assert client.get(f"/rooms/{room.id}/attendance/export.csv").status_code in (302, 303,
                                                                                 401, 404)
