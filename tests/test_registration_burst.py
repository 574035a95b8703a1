"""Capacity is exact under a burst: 500 people confirm at the same moment for 100 places —
exactly 100 registered (each with one personal link), the other 400 on the waitlist, in the
order they got there, nobody lost. Threads against the app; on the SQLite file and, with
DATABASE_URL naming a server, on PostgreSQL (the same test)."""

import threading
from datetime import timedelta

from helpers import make_room

from portal.db import database
from portal.models import Invitation, Registration, RegistrationSettings
from portal.services import registration as service

PEOPLE, PLACES, THREADS = 500, 100, 8


def test_500_confirm_at_once_for_100_places(app, owner, db):
    room = make_room(owner, starts_in=timedelta(days=1))
    with app.test_request_context():
        service.save_settings(room, enabled=True, mode="open", capacity=PLACES, opens_at=None,
                              closes_at=None)
        urls = []
        for i in range(PEOPLE):
            outcome = service.register(room, f"Person {i}", f"p{i}@example.com", {})
            urls.append("/r/confirm/" + service.confirm_token(outcome.registration))
    database.close()
    statuses, errors = [], []
    start = threading.Barrier(THREADS)

    def confirm(chunk):
        client = app.test_client()
        start.wait()
        for url in chunk:
            try:
                response = client.get(url)
                statuses.append(response.status_code)
            except Exception as exc:  # noqa: BLE001 (counted: nothing may be lost)
                errors.append(repr(exc))

    threads = [threading.Thread(target=confirm, args=(urls[i::THREADS],))
               for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and statuses == [200] * PEOPLE
    by_status = {}
    for reg in Registration.select():
        by_status.setdefault(reg.status, []).append(reg)
    assert len(by_status["registered"]) == PLACES
    assert len(by_status["waitlisted"]) == PEOPLE - PLACES
    assert set(by_status) == {"registered", "waitlisted"}
    assert RegistrationSettings.get(RegistrationSettings.room == room.id).taken == PLACES
    live = Invitation.select().where(Invitation.removed_at.is_null())
    assert sorted(i.email for i in live) == sorted(r.email for r in by_status["registered"])
    # The waitlist's order is the order they confirmed in; a cancellation moves up the first.
    with app.test_request_context():
        waitlist = service.waitlist(room)
        assert [r.confirmed_at for r in waitlist] == sorted(r.confirmed_at for r in waitlist)
        first = waitlist[0]
        service.cancel(service.cancel_token(by_status["registered"][0]))
    assert Registration.get_by_id(first.id).status == "registered"
    assert Registration.select().where(Registration.status == "registered").count() == PLACES
