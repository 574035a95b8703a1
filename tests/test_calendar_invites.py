"""Calendar invites that stay right, read as a calendar client reads them: the .ics of each
email that reaches a real SMTP server (aiosmtpd), parsed with icalendar. One UID per invitation
across the invitation, its updates and its cancellation; SEQUENCE growing; METHOD REQUEST or
CANCEL (on the MIME part too); the room's zone written out as a VTIMEZONE, times right across a
daylight-saving change; nothing for guests who were never emailed; the owner never waits for
the mail server and never gets a 500."""

from datetime import UTC, datetime
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
from helpers import invitation, invite, make_room, text_of
from icalendar import Calendar
from test_email import MAIL_TIMEOUT, SMTPServer, calendar_of

from portal import mail
from portal.models import AuditEvent, Invitation, Room

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings, "MAIL_TIMEOUT": MAIL_TIMEOUT}


@pytest.fixture
def berlin_room(signed_in_owner, db):
    """A room in Berlin on the Friday before the clocks go forward (CET, UTC+1)."""
    signed_in_owner.name = "Olga Owner"
    signed_in_owner.save()
    return make_room(signed_in_owner, title="Spring launch", timezone="Europe/Berlin",
                     starts_at=datetime(2031, 3, 28, 9, 0), ends_at=datetime(2031, 3, 28, 10, 0))


def edit(client, room, **overrides):
    """The owner's Edit room form, times in the room's zone."""
    data = {"title": room.title, "starts_at": "2031-03-28T10:00", "ends_at": "2031-03-28T11:00",
            "timezone": "Europe/Berlin", "kind": "regular", "require_email_match": "y",
            **overrides}
    return client.post(f"/rooms/{room.id}/edit", data=data)


def arrived(smtp):
    """What reached the server: (message, its calendar part, the parsed calendar)."""
    found = []
    for envelope in smtp.envelopes:
        message = message_from_bytes(envelope.content, policy=policy.default)
        part = calendar_of(message)
        found.append((message, part, Calendar.from_ical(part.get_payload(decode=True))))
    return found


def event_of(calendar):
    [event] = calendar.walk("VEVENT")
    return event


def assert_zone_written_out(calendar, event):
    """DTSTART and DTEND name a TZID, and that zone is in the file as a VTIMEZONE."""
    zones = {str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")}
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin" in zones
    assert event["DTEND"].params["TZID"] == "Europe/Berlin"


def test_invite_update_and_cancel_keep_one_uid_and_count_up(app, client, berlin_room, smtp):
    response = invite(client, berlin_room, "ada@example.com", send_now=True, htmx=True)
    assert "Emailed 1 guest" in text_of(response)
    [(message, part, calendar)] = arrived(smtp)
    assert part.get_param("method") == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    first = event_of(calendar)
    uid = str(first["UID"])
    assert uid.startswith(f"guestgate-room-{berlin_room.id}-invitation-") \
        and uid.endswith("@guestgate.test")
    assert first["SEQUENCE"] == 0 and first["STATUS"] == "CONFIRMED"
    assert str(first["ORGANIZER"]) == "mailto:owner@example.com"
    assert first["ORGANIZER"].params["CN"] == "Olga Owner"
    assert str(first["ATTENDEE"]) == "mailto:ada@example.com"
    assert first["ATTENDEE"].params["RSVP"] == "FALSE"
    assert_zone_written_out(calendar, first)
    # 10:00 in Berlin, as the owner gave it; 09:00 UTC.
    start = first.decoded("DTSTART")
    assert start == datetime(2031, 3, 28, 10, 0, tzinfo=BERLIN)
    assert start.astimezone(UTC) == datetime(2031, 3, 28, 9, 0, tzinfo=UTC)
    assert "Starts: Fri 28 Mar 2031, 10:00 CET (Europe/Berlin)" in message.get_body(
        ("plain",)).get_content()

    # The owner moves the session a week on, past the change to summer time.
    response = edit(client, berlin_room, starts_at="2031-04-04T10:00",
                    ends_at="2031-04-04T11:30")
    assert response.status_code == 303
    mail.wait_for_background(app)
    [_, (message, part, calendar)] = arrived(smtp)
    assert message["Subject"] == "Updated invitation: Spring launch"
    assert message["To"] == "ada@example.com"
    assert part.get_param("method") == "REQUEST" and calendar["METHOD"] == "REQUEST"
    update = event_of(calendar)
    assert str(update["UID"]) == uid and update["SEQUENCE"] == 1
    assert_zone_written_out(calendar, update)
    # Still 10:00 on the wall in Berlin, which is now 08:00 UTC (CEST).
    assert update.decoded("DTSTART") == datetime(2031, 4, 4, 10, 0, tzinfo=BERLIN)
    assert update.decoded("DTSTART").astimezone(UTC) == datetime(2031, 4, 4, 8, 0, tzinfo=UTC)
    assert update.decoded("DTEND").astimezone(UTC) == datetime(2031, 4, 4, 9, 30, tzinfo=UTC)
    assert "/i/" in str(update["DESCRIPTION"])  # the personal link comes along again

    # Saving without a change to the time or title sends nothing.
    assert edit(client, berlin_room, starts_at="2031-04-04T10:00", ends_at="2031-04-04T11:30",
                description="More details").status_code == 303
    mail.wait_for_background(app)
    assert len(smtp.envelopes) == 2

    # The owner deletes the invitation: a cancellation of the same event.
    inv = invitation(berlin_room, "ada@example.com")
    assert client.post(f"/rooms/{berlin_room.id}/invitations/{inv.id}/delete",
                       headers={"HX-Request": "true"}).status_code == 200
    mail.wait_for_background(app)
    [*_, (message, part, calendar)] = arrived(smtp)
    assert message["Subject"] == "Cancelled: Spring launch"
    assert "withdrew your invitation" in message.get_body(("plain",)).get_content()
    assert part.get_param("method") == "CANCEL" and calendar["METHOD"] == "CANCEL"
    cancel = event_of(calendar)
    assert str(cancel["UID"]) == uid and cancel["SEQUENCE"] == 2
    assert cancel["STATUS"] == "CANCELLED"
    assert "/i/" not in cancel.get("DESCRIPTION", "")  # a dead link isn't handed out again
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]
    assert actions.count("calendar_updated") == 1 and actions.count("calendar_cancelled") == 1

    # Invited again: the same UID comes back above the cancellation's sequence.
    invite(client, berlin_room, "ada@example.com", send_now=True, htmx=True)
    [*_, (message, part, calendar)] = arrived(smtp)
    again = event_of(calendar)
    assert str(again["UID"]) == uid and again["SEQUENCE"] == 3
    assert calendar["METHOD"] == "REQUEST"


def test_deleting_the_room_cancels_every_emailed_invitation(app, client, berlin_room, smtp):
    invite(client, berlin_room, "ada@example.com, bob@example.com", send_now=True, htmx=True)
    invite(client, berlin_room, "later@example.com", htmx=True)  # added, never emailed
    assert len(smtp.envelopes) == 2
    uids = {m["To"]: str(event_of(c)["UID"]) for m, _, c in arrived(smtp)}

    response = client.post(f"/rooms/{berlin_room.id}/delete")
    assert response.status_code == 303
    mail.wait_for_background(app)
    cancellations = arrived(smtp)[2:]
    assert sorted(m["To"] for m, _, _ in cancellations) == ["ada@example.com", "bob@example.com"]
    for message, part, calendar in cancellations:
        event = event_of(calendar)
        assert calendar["METHOD"] == "CANCEL" and part.get_param("method") == "CANCEL"
        assert str(event["UID"]) == uids[message["To"]] and event["SEQUENCE"] == 1
        assert event["STATUS"] == "CANCELLED"
        assert "was cancelled" in message.get_body(("plain",)).get_content()
    assert invitation(berlin_room, "later@example.com").ics_sequence == 0


def test_a_new_title_is_an_update_too_and_unsent_invitations_get_nothing(app, client,
                                                                         berlin_room, smtp):
    invite(client, berlin_room, "ada@example.com", send_now=True, htmx=True)
    invite(client, berlin_room, "quiet@example.com", htmx=True)
    assert edit(client, berlin_room, title="Spring launch, part 1").status_code == 303
    mail.wait_for_background(app)
    [_, (message, _, calendar)] = arrived(smtp)
    assert message["To"] == "ada@example.com"
    assert str(event_of(calendar)["SUMMARY"]) == "Spring launch, part 1"
    assert invitation(berlin_room, "quiet@example.com").ics_sequence == 0


def test_a_utc_room_writes_utc_times_without_a_vtimezone(app, client, signed_in_owner, smtp, db):
    room = make_room(signed_in_owner, starts_at=datetime(2031, 3, 28, 9, 0),
                     ends_at=datetime(2031, 3, 28, 10, 0))
    invite(client, room, "ada@example.com", send_now=True, htmx=True)
    [(_, part, calendar)] = arrived(smtp)
    assert calendar.walk("VTIMEZONE") == []
    raw = part.get_payload(decode=True).decode()
    assert "DTSTART:20310328T090000Z" in raw.split("\r\n")
    assert event_of(calendar).decoded("DTSTART") == datetime(2031, 3, 28, 9, 0, tzinfo=UTC)


def test_the_mail_server_down_never_fails_the_owners_change(app, client, berlin_room, smtp_port,
                                                            db):
    server = SMTPServer(smtp_port).start()
    try:
        invite(client, berlin_room, "ada@example.com", send_now=True, htmx=True)
    finally:
        server.stop()
    # Nobody listens now: the owner's save still goes through at once.
    response = edit(client, berlin_room, starts_at="2031-04-04T10:00", ends_at="2031-04-04T11:00")
    assert response.status_code == 303
    assert Room.get_by_id(berlin_room.id).starts_at == datetime(2031, 4, 4, 8, 0)
    mail.wait_for_background(app)
    failed = AuditEvent.get(AuditEvent.action == "calendar_updated")
    assert "failed: The email server refused the connection" in failed.detail
    assert failed.target == "ada@example.com"
    # The invitation itself is fine: its link email went out, and it is still listed as sent.
    assert Invitation.get().email_status == "sent" and Invitation.get().ics_sequence == 1
    assert "Sent a calendar update" in text_of(client.get(f"/rooms/{berlin_room.id}/audit"))
