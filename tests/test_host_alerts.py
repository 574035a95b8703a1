"""Host alerts by email, through a real SMTP server (aiosmtpd): guests waiting with nobody
watching reach the room's hosts once; a host watching (their page polls the waiting list)
holds the alert; a burst of arrivals is one digest; a guest who left is never named; two
workers checking at the same moment send one; preferences, quiet hours and who the room
alerts are honoured; and the background loop sends it by itself.

The checks are run with an explicit `now` (what the background loop does every
HOST_ALERT_CHECK_SECONDS): no test waits for a real interval."""

import json
import threading
import time
from datetime import timedelta

import pytest
from helpers import (
    HTMX,
    GuestActions,
    GunicornServer,
    invitation_path,
    link_path,
    make_room,
    make_user,
)
from servers import wait_for
from test_email import body_of

from portal import background, host_alerts, timeutil
from portal.cli import DEMO_OWNER
from portal.db import database
from portal.models import GuestLink, Invitation, Participant, Room, RoomAlertState, User
from portal.services.invitations import invite

AFTER, WATCHING, EVERY = 30, 90, 300


@pytest.fixture
def config(config, mail_settings, tmp_path):
    return {**config, **mail_settings,
            "HOST_ALERT_AFTER_SECONDS": AFTER, "HOST_WATCHING_SECONDS": WATCHING,
            "HOST_ALERT_EVERY_SECONDS": EVERY,
            "VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid.pem")}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", require_approval=True,
                     guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


@pytest.fixture
def check(app):
    """check(seconds): the alert check, as the background loop runs it, that many seconds
    after the test's first check (so every guest who came before it has waited that long)."""
    clock = []

    def check(seconds: float) -> int:
        if not clock:
            clock.append(timeutil.utcnow())
        with app.app_context():
            try:
                return host_alerts.alert_due(clock[0] + timedelta(seconds=seconds))
            finally:
                database.close()

    return check


def subjects(smtp):
    return [m["Subject"] for m in smtp.messages()]


def test_a_guest_waiting_with_nobody_watching_brings_one_email(app, smtp, room, arrive, check):
    arrive("Ada Guest", "ada@example.com")
    assert check(AFTER - 5) == 0  # not waited long enough yet
    assert smtp.envelopes == []
    assert check(AFTER + 1) == 1
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    [message] = smtp.messages()
    assert message["Subject"] == "Ada Guest is waiting in “Round-table”"
    text = body_of(message, "plain")
    assert "Ada Guest" in text and "no host has the room's page open" in text
    assert f"http://guestgate.test/rooms/{room.id}#waiting-room" in text
    assert "http://guestgate.test/account/alerts" in text
    html = body_of(message, "html")
    assert f'href="http://guestgate.test/rooms/{room.id}#waiting-room"' in html
    # Nobody new: no second email, however long she waits.
    assert check(AFTER + EVERY + 10) == 0
    assert len(smtp.envelopes) == 1


def test_a_host_watching_holds_the_alert_until_they_stop(app, client, signed_in_owner, smtp,
                                                        room, arrive, check):
    arrive()
    assert client.get(f"/rooms/{room.id}/waiting", headers=HTMX).status_code == 200
    assert check(AFTER + 1) == 0
    assert smtp.envelopes == []
    # The page closed (no poll since): she still waits, unseen now.
    assert check(WATCHING + 1) == 1
    assert subjects(smtp) == ["Ada is waiting in “Round-table”"]


@pytest.mark.parametrize("view", ["live", "access"])
def test_the_room_page_itself_counts_as_watching(app, client, signed_in_owner, smtp, room,
                                                 arrive, check, view):
    """Any view of it: its nav counts who waits."""
    arrive()
    assert client.get(f"/rooms/{room.id}/{view}").status_code == 200
    assert check(AFTER + 1) == 0
    assert smtp.envelopes == []


def test_the_nav_poll_of_another_view_counts_as_watching(app, client, signed_in_owner, smtp,
                                                         room, arrive, check):
    arrive()
    assert client.get(f"/rooms/{room.id}/views?view=details",
                      headers=HTMX).status_code in (200, 204)
    assert check(AFTER + 1) == 0


def test_another_owners_poll_does_not_count(app, client, smtp, room, arrive, check, auth):
    make_user("other@example.com")
    auth.sign_in("other@example.com")
    assert client.get(f"/rooms/{room.id}/waiting", headers=HTMX).status_code == 404
    arrive()
    assert check(AFTER + 1) == 1


def test_a_burst_of_fifty_is_one_digest(app, smtp, room, link, arrive, check):
    arrive("First Guest", "first@example.com")
    assert check(AFTER + 1) == 1
    for i in range(50):
        guest = GuestActions(app)
        assert guest.enter(link_path(app, link), f"Guest {i:02d}",
                           f"g{i}@example.com").status_code == 303
    # Within the throttle: nothing, however often the check runs.
    for seconds in (AFTER + 40, AFTER + 100, AFTER + 200, AFTER + EVERY - 1):
        assert check(seconds) == 0
    assert len(smtp.envelopes) == 1
    assert check(AFTER + EVERY + 1) == 1
    assert check(AFTER + EVERY + 30) == 0
    first, digest = smtp.messages()
    assert digest["Subject"] == "50 guests are waiting in “Round-table”"
    text = body_of(digest, "plain")
    assert "Guest 00" in text and "Guest 09" in text and "Guest 10" not in text
    assert "…and 40 more" in text
    assert "Waiting now: 51." in text
    assert "First Guest" not in text  # named in the first one


def test_a_guest_who_left_is_never_named(app, smtp, room, arrive, check):
    guest = arrive()
    assert guest.leave(room).status_code in (200, 303)
    assert check(AFTER + 1) == 0
    assert smtp.envelopes == []
    # Admitted or denied before the alert: not named either.
    admitted = arrive("Bea", "bea@example.com")
    Participant.update(status="admitted").where(
        Participant.id == admitted.participant.id).execute()
    assert check(AFTER + 2) == 0
    assert smtp.envelopes == []


def test_two_workers_checking_at_once_send_one_email(app, smtp, room, arrive):
    arrive()
    at = timeutil.utcnow() + timedelta(seconds=AFTER + 1)
    barrier = threading.Barrier(4)
    results = []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                results.append(host_alerts.alert_due(at))
            finally:
                database.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [0, 0, 0, 1]
    assert len(smtp.envelopes) == 1


def test_the_background_loop_sends_it(app, smtp, room, arrive):
    """What each gunicorn worker's thread does (portal/background.py), one turn of it."""
    guest = arrive()
    Participant.update(created_at=timeutil.utcnow() - timedelta(seconds=AFTER + 1)).where(
        Participant.id == guest.participant.id).execute()  # she came a while ago
    background.run(app, [background.alert_job()], once=True)
    assert subjects(smtp) == ["Ada is waiting in “Round-table”"]


def test_the_room_decides_who_is_alerted(app, smtp, owner, room, arrive, check, client, auth):
    moderator = make_user("mod@example.com", access="guest")
    with app.app_context():
        invite(room, ["mod@example.com"], "moderator")
        invite(room, ["viewer@example.com"], "viewer")
    # The moderator opts in on their Alerts screen.
    auth.sign_in("mod@example.com")
    assert client.post("/account/alerts", data={"email": "y", "push": "y",
                                                "moderated_rooms": "y"}).status_code == 303
    arrive()
    assert check(AFTER + 1) == 1
    by_rcpt = {e.rcpt_tos[0]: m for e, m in zip(smtp.envelopes, smtp.messages(), strict=True)}
    assert sorted(by_rcpt) == ["mod@example.com", "owner@example.com"]
    assert f"http://guestgate.test/s/{room.id}#waiting-room" in body_of(
        by_rcpt["mod@example.com"], "plain")

    Room.update(alert_hosts="owner").where(Room.id == room.id).execute()
    arrive("Bea", "bea@example.com")
    assert check(AFTER + EVERY + 2) == 1
    assert [e.rcpt_tos for e in smtp.envelopes[2:]] == [["owner@example.com"]]

    Room.update(alert_hosts="nobody").where(Room.id == room.id).execute()
    arrive("Cy", "cy@example.com")
    assert check(2 * (AFTER + EVERY) + 3) == 0
    assert len(smtp.envelopes) == 3
    assert moderator.id  # the moderator's account was used above


def test_a_moderator_who_did_not_opt_in_is_not_emailed(app, smtp, room, arrive, check):
    make_user("mod@example.com", access="guest")
    with app.app_context():
        invite(room, ["mod@example.com"], "moderator")
    arrive()
    assert check(AFTER + 1) == 1
    assert [e.rcpt_tos for e in smtp.envelopes] == [["owner@example.com"]]


def test_email_off_and_quiet_hours_are_honoured(app, client, signed_in_owner, smtp, room,
                                                arrive, check):
    assert client.post("/account/alerts", data={"push": "y"}).status_code == 303  # email off
    arrive()
    check(AFTER + 1)
    assert smtp.envelopes == []

    # Email on, quiet all day but a minute: held.
    now = timeutil.utcnow()
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    until = (now + timedelta(hours=2)).strftime("%H:%M")
    assert client.post("/account/alerts", data={"email": "y", "quiet_from": start,
                                                "quiet_until": until}).status_code == 303
    arrive("Bea", "bea@example.com")
    assert check(AFTER + EVERY + 2) == 0
    assert smtp.envelopes == []


def test_quiet_hours_span_midnight():
    at = timeutil.utcnow().replace(hour=23, minute=30)
    assert host_alerts.in_quiet_hours("22:00", "07:00", "UTC", at)
    assert host_alerts.in_quiet_hours("22:00", "07:00", "UTC", at.replace(hour=6, minute=59))
    assert not host_alerts.in_quiet_hours("22:00", "07:00", "UTC", at.replace(hour=7, minute=0))
    assert not host_alerts.in_quiet_hours("", "", "UTC", at)
    assert host_alerts.in_quiet_hours("09:00", "17:00", "Europe/Berlin",
                                      at.replace(month=1, day=15, hour=8, minute=30))


def test_no_alert_in_a_room_where_guests_do_not_wait_or_that_has_not_started(
        app, smtp, owner, check):
    later = make_room(owner, title="Later", starts_in=timedelta(hours=1),
                      require_approval=True, guest_access_enabled=True)
    Participant.create(room=later, name="Early", email="early@example.com", device="d1",
                       created_at=timeutil.utcnow() - timedelta(minutes=10))
    assert check(AFTER + 1) == 0
    assert smtp.envelopes == []


def test_the_email_in_german(app, smtp, owner, check):
    """The email is in the site's language (BABEL_DEFAULT_LOCALE), as the other emails to
    accounts."""
    app.config["BABEL_DEFAULT_LOCALE"] = "de"
    room = make_room(owner, title="Sprechstunde", require_approval=True,
                     guest_access_enabled=True)
    Participant.create(room=room, name="Ada", email="ada@example.com", device="d",
                       created_at=timeutil.utcnow() - timedelta(minutes=5))
    assert check(0) == 1
    [message] = smtp.messages()
    assert message["Subject"] == "Ada wartet in „Sprechstunde“"
    assert "zugelassen" in body_of(message, "plain")


def test_an_alert_state_row_per_room(app, smtp, room, arrive, check):
    """What the workers share: the throttle and the last guest named, in the database."""
    guest = arrive()
    check(AFTER + 1)
    state = RoomAlertState.get(RoomAlertState.room == room.id)
    assert state.alerted_through == guest.participant.id and state.last_alert_at is not None
    assert Invitation.select().count() == 0 and User.select().count() == 1


def test_a_moderator_watching_counts(app, smtp, room, arrive, check):
    make_user("mod@example.com", access="guest")
    with app.app_context():
        [inv] = invite(room, ["mod@example.com"], "moderator").invitations
    moderator = GuestActions(app)
    assert moderator.enter(invitation_path(app, inv), "Mo", "mod@example.com").status_code == 303
    arrive()
    assert moderator.get(f"/s/{room.id}/waiting", headers=HTMX).status_code == 200
    assert check(AFTER + 1) == 0
    assert smtp.envelopes == []


def test_the_demo_owner_gets_the_alert_from_the_served_app(app, runner, smtp, smtp_port,
                                                           database_url, tmp_path):
    """make run's path: seed-demo, then gunicorn with its config (two workers, each running
    the background loop) and SMTP configured: the demo owner gets one email about the guests
    already waiting in the demo room that is live now — one, though both workers look."""
    demo = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    [waiting] = [r for r in demo["rooms"] if r.get("waiting")]
    env = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(smtp_port),
           "MAIL_DEFAULT_SENDER": "Guestgate <gate@example.com>",
           "HOST_ALERT_CHECK_SECONDS": "0.1", "WEBHOOK_POLL_SECONDS": "0.1",
           "VAPID_PRIVATE_KEY_FILE": str(tmp_path / "served-vapid.pem")}
    with GunicornServer(app, database_url, tmp_path, workers=2, threads=2, env=env,
                        extra_args=("--config", "python:portal.gunicorn_conf")) as server:
        wait_for(lambda: smtp.envelopes, "the host alert email")
        # Many more turns of both workers' loops: still the one email.
        wait_for(lambda: server.proc.poll() is None and len(server.worker_pids()) == 2,
                 "the workers")
        time.sleep(2)  # twenty check intervals: a second email would have gone by now
    assert [e.rcpt_tos for e in smtp.envelopes] == [[DEMO_OWNER]]
    [message] = smtp.messages()
    assert message["Subject"] == f"2 guests are waiting in “{waiting['title']}”"
    text = body_of(message, "plain")
    assert "Marie Curie" in text and "Alan Turing" in text
    assert f"/rooms/{waiting['id']}#waiting-room" in text


def test_the_room_form_and_the_api_say_who_is_alerted(app, client, signed_in_owner, room):
    from api_helpers import Api, token_for
    from test_rooms import room_data

    form = client.get(f"/rooms/{room.id}/edit").get_data(as_text=True)
    assert "Who is alerted when guests wait unseen" in form
    assert '<input checked id="alert_hosts-0" name="alert_hosts"' in form  # hosts, the default
    assert client.post(f"/rooms/{room.id}/edit",
                       data=room_data(alert_hosts="owner")).status_code == 303
    assert Room.get_by_id(room.id).alert_hosts == "owner"

    api = Api(app, token_for(signed_in_owner))
    assert api.get(f"/api/v1/rooms/{room.id}").get_json()["alert_hosts"] == "owner"
    changed = api.patch(f"/api/v1/rooms/{room.id}", json={"alert_hosts": "nobody"})
    assert changed.status_code == 200 and changed.get_json()["alert_hosts"] == "nobody"
    refused = api.patch(f"/api/v1/rooms/{room.id}", json={"alert_hosts": "everyone"})
    assert refused.status_code == 422
    assert Room.get_by_id(room.id).alert_hosts == "nobody"
