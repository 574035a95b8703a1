"""Registrants' reminders and follow-ups from the background loop, through a real SMTP server
(aiosmtpd): two loops at once send each reminder once; a loop started again sends nothing
twice; a loop that starts late skips reminders whose time is long past; the follow-up says one
thing to those who came and another to those who didn't; the owner sets it all per room."""

import threading
from datetime import timedelta

import pytest
from helpers import make_room, path_of, text_of
from test_email import body_of

from portal import background
from portal.models import Invitation, Participant, Registration, RegistrationSettings
from portal.services import registration as service
from portal.timeutil import utcnow


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings, "REMINDER_LATE_MINUTES": 30}


def with_registrants(app, room, *names, **settings):
    with app.test_request_context():
        service.save_settings(room, enabled=True, mode="open", capacity=None, opens_at=None,
                              closes_at=None)
        if settings:
            RegistrationSettings.update(**settings).where(
                RegistrationSettings.room == room.id).execute()
        for name in names:
            outcome = service.register(room, name, f"{name.lower()}@example.com", {})
            service.confirm(service.confirm_token(outcome.registration))


def subjects(smtp, starting):
    return sorted((m["To"], m["Subject"]) for m in smtp.messages()
                  if m["Subject"].startswith(starting))


def loop_once(app):
    """A background loop as a worker runs it, one turn (a new loop: nothing kept in memory)."""
    background.run(app, [background.reminder_job()], once=True)


def test_two_loops_send_each_reminder_once_and_again_never(app, db, owner, smtp):
    # 24 hours before the start was ten minutes ago; 1 hour before is still to come.
    room = make_room(owner, title="Quarterly review",
                     starts_in=timedelta(hours=24) - timedelta(minutes=10))
    names = ("Ada", "Bob", "Cy", "Dee", "Eve", "Fay")
    with_registrants(app, room, *names)
    loops = [threading.Thread(target=loop_once, args=(app,)) for _ in range(2)]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join(30)
    reminders = subjects(smtp, "Reminder:")
    assert reminders == sorted((f"{n.lower()}@example.com", "Reminder: Quarterly review")
                               for n in names)
    ada = next(m for m in smtp.messages() if m["To"] == "ada@example.com"
               and m["Subject"].startswith("Reminder:"))
    invitation = Invitation.get(Invitation.email == "ada@example.com")
    with app.test_request_context():
        assert path_of(app, invitation) in body_of(ada, "plain")
    assert "Cancel your registration" in body_of(ada, "plain")

    # Started again (a deploy, a crash): the reminders were sent, and stay sent.
    loop_once(app)
    loop_once(app)
    assert len(subjects(smtp, "Reminder:")) == len(names)


def test_a_late_loop_skips_stale_reminders(app, db, owner, smtp):
    # The loops were down: the 24-hour reminder was due two hours ago (its window is 30 min).
    room = make_room(owner, title="Stale", starts_in=timedelta(hours=22))
    with_registrants(app, room, "Ada")
    loop_once(app)
    assert subjects(smtp, "Reminder:") == []
    # ... and the 1-hour one, once its time comes, goes out.
    room.starts_at = utcnow() + timedelta(minutes=55)
    room.save()
    loop_once(app)
    assert subjects(smtp, "Reminder:") == [("ada@example.com", "Reminder: Stale")]
    # A room whose reminders are off sends none.
    quiet = make_room(owner, title="Quiet", starts_in=timedelta(minutes=50))
    with_registrants(app, quiet, "Bob", reminder_hours="")
    loop_once(app)
    assert subjects(smtp, "Reminder: Quiet") == []


def test_follow_up_for_those_who_came_and_those_who_didnt(app, db, owner, smtp):
    room = make_room(owner, title="Workshop", starts_in=-timedelta(hours=2),
                     duration=timedelta(hours=1, minutes=50))
    with_registrants(app, room, "Ada", "Bob", follow_up=True,
                     follow_up_came="Thanks for coming! The slides: https://example.com/s",
                     follow_up_missed="Sorry we missed you. The recording: https://example.com/r")
    reg = Registration.get(Registration.email == "ada@example.com")
    Participant.create(room=room, invitation=reg.invitation_id, name="Ada",
                       email="ada@example.com", status="left", device="d1",
                       created_at=room.starts_at, decided_at=room.starts_at)
    loop_once(app)
    loop_once(app)
    assert subjects(smtp, "Thank you:") == [("ada@example.com", "Thank you: Workshop"),
                                            ("bob@example.com", "Thank you: Workshop")]
    by_to = {m["To"]: body_of(m, "plain") for m in smtp.messages()
             if m["Subject"].startswith("Thank you:")}
    assert "The slides" in by_to["ada@example.com"] and "recording" not in by_to["ada@example.com"]
    assert "The recording" in by_to["bob@example.com"]


def test_follow_ups_are_off_by_default_and_the_owner_sets_them(app, client, signed_in_owner,
                                                                smtp):
    room = make_room(signed_in_owner, title="Default", starts_in=-timedelta(hours=2),
                     duration=timedelta(hours=1, minutes=50))
    with_registrants(app, room, "Ada")
    loop_once(app)
    assert subjects(smtp, "Thank you:") == []
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "Reminders and follow-ups" in page
    response = client.post(f"/rooms/{room.id}/registration/reminders",
                           data={"reminder_hours": "48, 0", "follow_up": "y"})
    assert response.status_code == 422 and "Give whole hours from 1" in text_of(response)
    response = client.post(f"/rooms/{room.id}/registration/reminders",
                           data={"reminder_hours": "48, 2", "follow_up": "y",
                                 "follow_up_missed": "We missed you."})
    assert response.status_code == 303
    settings = RegistrationSettings.get(RegistrationSettings.room == room.id)
    assert (settings.reminder_hours, settings.follow_up) == ("48,2", True)
    loop_once(app)
    assert subjects(smtp, "Thank you:") == [("ada@example.com", "Thank you: Default")]
