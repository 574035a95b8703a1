"""The guest's place after the lobby: countdown, status polling, the room page, attachments,
Leave, and the hand-off to the live session."""

import re
from datetime import timedelta

import pytest
from helpers import GuestActions, OwnerActions, link_path, make_room, text_of

from portal import poll
from portal.models import Attachment, GuestLink, Participant, Room
from portal.timeutil import utcnow


@pytest.fixture
def room(db):
    return make_room(title="Launch", description="All about it", speakers="Ada\nGrace",
                     guest_access_enabled=True, join_url="https://meet.example/r/7?lang=en")


@pytest.fixture
def guest(app, client):
    return GuestActions(app, client)


def link_url(app, room, **kw):
    link = GuestLink.create(room=room, name="Guests", **kw)
    return link_path(app, link), link


def test_countdown_then_enter_when_the_start_comes(app, guest, room):
    Room.update(starts_at=utcnow() + timedelta(minutes=10)).where(Room.id == room.id).execute()
    url, _ = link_url(app, room)
    response = guest.enter(url)
    assert response.status_code == 303 and response.location.endswith(f"/s/{room.id}")
    page = guest.place(room)
    assert "Waiting for the start" in text_of(page)
    assert 'http-equiv="refresh"' in page.get_data(as_text=True)  # without JavaScript
    status = guest.get(f"/s/{room.id}/status?state=countdown")
    assert status.status_code == 204 and status.headers["Cache-Control"] == "no-store"
    # The host moves the start earlier: the poll notices and the page reloads into the room.
    Room.update(starts_at=utcnow() - timedelta(seconds=1)).where(Room.id == room.id).execute()
    status = guest.get(f"/s/{room.id}/status?state=countdown")
    assert status.status_code == 200 and status.headers["HX-Refresh"] == "true"
    assert status.get_data(as_text=True) == "enter"
    page = guest.place(room)
    assert "You're in" in text_of(page) and "Your role: Viewer" in text_of(page)


@pytest.mark.parametrize("starts_in, every", [(3600, 60), (600, 30), (240, 15), (20, 15)])
def test_a_countdown_far_from_its_start_asks_seldom_and_all_ask_at_the_start(
        app, guest, room, starts_in, every):
    """The page is told its interval (a change still reaches it within one), and when to ask
    just after the start: each page at its own moment within START_SPREAD_SECONDS."""
    app.config["START_SPREAD_SECONDS"] = 3
    Room.update(starts_at=utcnow() + timedelta(seconds=starts_in)).where(
        Room.id == room.id).execute()
    url, _ = link_url(app, room)
    guest.enter(url)
    delays = set()
    for _ in range(12):
        html = guest.place(room).get_data(as_text=True)
        trigger = re.search(r'hx-trigger="every ([0-9.]+)s, load delay:([0-9.]+)s"', html)
        assert float(trigger.group(1)) == every
        delays.add(float(trigger.group(2)))
    assert all(starts_in - 2 <= d <= starts_in + 3.3 for d in delays), delays
    assert len(delays) > 1  # spread, not one moment for everyone


def test_a_full_rooms_pages_are_told_to_ask_less_often(app, guest, room, monkeypatch):
    """Inside, the page asks whether a host removed or moved the guest: a crowd's pages
    together at most ROOM_POLLS_PER_SECOND (8 inside at 1 a second: every 8 s)."""
    app.config.update(ROOM_POLLS_PER_SECOND=1, POLL_WAITING_SECONDS=5)
    monkeypatch.setattr(poll, "CROWD_COUNTED_FOR", 0)  # count afresh each time
    url, link = link_url(app, room)
    guest.enter(url)

    def every():
        html = guest.place(room).get_data(as_text=True)
        return float(re.search(r'hx-trigger="every ([0-9.]+)s"', html).group(1))

    assert every() == 5
    Participant.insert_many([{"room": room, "link": link, "name": f"G{i}", "device": f"d{i}",
                              "email": f"g{i}@example.com", "status": "admitted"}
                             for i in range(7)]).execute()
    assert every() == 8


def test_room_page_shows_details_and_role(app, guest, room):
    url, _ = link_url(app, room)
    guest.enter(url)
    text = text_of(guest.place(room))
    for words in ("Launch", "All about it", "Ada", "Grace", "live session, chat",
                  "Join the live session", "Leave"):
        assert words in text


def test_attachments_only_for_admitted_participants(app, guest, room, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir(exist_ok=True)
    (folder / "abc.pdf").write_bytes(b"%PDF-1.4 slides")
    item = Attachment.create(room=room, filename="slides.pdf", stored_name="abc.pdf",
                             content_type="application/pdf", size=15)
    download = f"/s/{room.id}/attachments/{item.id}"
    assert guest.get(download).status_code == 403  # not in the room

    url, link = link_url(app, room)
    guest.enter(url)
    response = guest.get(download)
    assert response.status_code == 200 and response.data == b"%PDF-1.4 slides"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    response.close()

    # Another room's attachment is not reachable through this room.
    other = make_room(room.owner, title="Other", starts_at=room.starts_at,
                      ends_at=room.ends_at)
    foreign = Attachment.create(room=other, filename="x.pdf", stored_name="abc2.pdf",
                                content_type="application/pdf", size=1)
    assert guest.get(f"/s/{room.id}/attachments/{foreign.id}").status_code == 404

    # The link is deleted: the next download is refused.
    GuestLink.update(deleted_at=utcnow()).where(GuestLink.id == link.id).execute()
    assert guest.get(download).status_code == 403
    assert "This link is no longer available" in text_of(guest.place(room))


def test_waiting_guest_cannot_download(app, guest, room, tmp_path):
    Room.update(require_approval=True).where(Room.id == room.id).execute()
    item = Attachment.create(room=room, filename="s.pdf", stored_name="zz.pdf",
                             content_type="application/pdf", size=1)
    url, _ = link_url(app, room)
    guest.enter(url)
    assert "Waiting to be admitted" in text_of(guest.place(room))
    assert guest.get(f"/s/{room.id}/attachments/{item.id}").status_code == 403


def test_leave_then_come_back_through_the_link(app, guest, room, tmp_path):
    url, link = link_url(app, room, max_uses=5)
    guest.enter(url)
    response = guest.leave(room)
    assert response.status_code == 303
    assert Participant.get().status == "left"
    page = guest.place(room)
    assert page.status_code == 403 and "You're not in this session" in text_of(page)
    assert guest.join(room).status_code == 303  # back to /s: not a ticket
    # The link brings them back: the same browser is the same guest — no form, no new use.
    again = guest.open(url)
    assert again.status_code == 303 and again.location.endswith(f"/s/{room.id}")
    assert GuestLink.get_by_id(link.id).uses == 1
    assert "You're in" in text_of(guest.place(room))


def test_leave_on_a_one_click_link_then_open_it_again(app, guest, room):
    """"To come back, open your link again" is true on a link with one click: the browser that
    spent it comes back without the form and spends nothing (a lobby page left open and sent
    again, too); anyone else reads that the link has been used. The owner's page still says
    "1 so far"."""
    url, link = link_url(app, room, max_uses=1)
    assert guest.enter(url, "Ada", "ada@example.com").status_code == 303
    left = guest.leave(room)
    assert "To come back, open your link again." in text_of(guest.get(left.location))
    back = guest.open(url)
    assert back.status_code == 303 and back.location.endswith(f"/s/{room.id}")
    page = guest.place(room)
    assert page.status_code == 200 and "You're in" in text_of(page)

    guest.leave(room)
    again = guest.enter(url, "Ada", "ada@example.com")
    assert again.status_code == 303 and "You're in" in text_of(guest.place(room))
    stranger = GuestActions(app).enter(url, "Bo", "bo@example.com")
    assert stranger.status_code == 410 and "This link has already been used" in text_of(stranger)
    assert GuestLink.get_by_id(link.id).uses == 1
    assert [p.status for p in Participant.select().order_by(Participant.id)] == \
        ["left", "left", "admitted"]
    owner = OwnerActions(app.test_client())
    owner.sign_in()
    assert "1 so far, 0 left of 1" in text_of(owner.client.get(f"/rooms/{room.id}/access"))


def test_back_on_a_used_up_link_a_newer_text_is_agreed_to_without_a_use(app, guest, room):
    """The host changed what guests agree to: a guest coming back after Leave (and one still
    inside) is asked again in the lobby, and agreeing brings them in on a link that has no
    click left, because the click is theirs."""
    Room.update(consent_required=True, consent_text="We record.", consent_version=1).where(
        Room.id == room.id).execute()
    url, link = link_url(app, room, max_uses=1)
    assert guest.enter(url, "Ada", "ada@example.com", consent="y",
                       consent_version="1").status_code == 303
    guest.leave(room)
    Room.update(consent_text="We record the chat too.", consent_version=2).where(
        Room.id == room.id).execute()
    asked = guest.open(url)
    assert asked.status_code == 200 and "The host changed what guests agree to" in text_of(asked)
    assert 'value="Ada"' in asked.get_data(as_text=True)
    refused = guest.post(url, data={"name": "Ada", "email": "ada@example.com"})
    assert refused.status_code == 422 and "tick “I agree”" in text_of(refused)
    assert guest.enter(url, "Ada", "ada@example.com", consent="y",
                       consent_version="2").status_code == 303  # the text it showed
    assert "You're in" in text_of(guest.place(room))
    assert guest.participant.consent_version == 2

    Room.update(consent_text="And the Q&A.", consent_version=3).where(
        Room.id == room.id).execute()
    assert guest.open(url).status_code == 200  # still inside, asked again
    assert guest.enter(url, "Ada", "ada@example.com", consent="y",
                       consent_version="3").status_code == 303
    assert guest.participant.consent_version == 3
    assert GuestLink.get_by_id(link.id).uses == 1 and Participant.select().count() == 2


def test_a_guest_who_left_while_moved_comes_back_to_the_waiting_room(app, guest, room):
    """Leave doesn't skip a host's Move to waiting room: opening the link again brings them
    back to wait, without the form or a new use, and Admit lets them in."""
    url, link = link_url(app, room, max_uses=1)
    guest.enter(url, "Ada", "ada@example.com")
    owner = OwnerActions(app.test_client())
    owner.sign_in()
    owner.move_to_waiting(room, guest.participant)
    guest.leave(room)
    assert guest.open(url).status_code == 303
    assert "Waiting to be admitted" in text_of(guest.place(room))
    assert GuestLink.get_by_id(link.id).uses == 1
    owner.admit(room, guest.participant)
    assert "You're in" in text_of(guest.place(room))


def test_a_guest_on_the_countdown_can_leave(app, guest, room):
    """The countdown has Leave: the guest is off the host's list (they were in the room to
    come), with an audit event; their link brings them back to the countdown."""
    from portal.models import AuditEvent

    Room.update(starts_at=utcnow() + timedelta(minutes=10)).where(Room.id == room.id).execute()
    url, link = link_url(app, room)
    guest.enter(url)
    page = guest.place(room)
    assert "Waiting for the start" in text_of(page) and "Leave" in text_of(page)
    assert f'action="/s/{room.id}/leave"' in page.get_data(as_text=True)
    assert guest.leave(room).status_code == 303
    assert Participant.get().status == "left"
    assert AuditEvent.get().action == "guest_left"
    assert guest.open(url).status_code == 303
    assert "Waiting for the start" in text_of(guest.place(room))
    assert GuestLink.get_by_id(link.id).uses == 1


def test_returning_browser_is_not_asked_again_and_costs_no_click(app, guest, room):
    url, link = link_url(app, room, max_uses=3)
    guest.enter(url)
    again = guest.open(url)
    assert again.status_code == 303 and again.location.endswith(f"/s/{room.id}")
    assert GuestLink.get_by_id(link.id).uses == 1


def test_session_ended_turns_the_guest_away(app, guest, room):
    url, _ = link_url(app, room)
    guest.enter(url)
    Room.update(starts_at=utcnow() - timedelta(hours=2), ends_at=utcnow() - timedelta(
        seconds=1)).where(Room.id == room.id).execute()
    page = guest.place(room)
    assert page.status_code == 410 and "This session has ended" in text_of(page)
    assert guest.get(f"/s/{room.id}/status?state=enter").get_data(as_text=True) == \
        "session_ended"


def test_add_to_calendar(app, guest, room):
    Room.update(starts_at=utcnow() + timedelta(hours=1)).where(Room.id == room.id).execute()
    assert guest.get(f"/s/{room.id}/calendar.ics").status_code == 403  # not in the room
    url, _ = link_url(app, room)
    guest.enter(url)
    assert "Add to calendar" in text_of(guest.place(room))
    response = guest.get(f"/s/{room.id}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.get_data(as_text=True)
    start = Room.get_by_id(room.id).starts_at
    assert "BEGIN:VEVENT" in body and f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in body
    assert "SUMMARY:Launch" in body and "\r\n" in body
    assert url.split("/g/")[1] not in body  # the .ics never carries the link token


def test_a_refused_submission_records_the_email_tried(app, guest, room):
    from portal.models import DenialEvent

    url, link = link_url(app, room, max_uses=1)
    guest.enter(url)
    response = GuestActions(app).enter(url, "Late", " Late@Example.com ")
    assert response.status_code == 410
    event = DenialEvent.get(DenialEvent.reason == "link_used_up")
    assert event.email == "late@example.com" and event.link_id == link.id
