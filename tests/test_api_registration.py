"""Registration through the API: the options (PUT, as the Access view's section sets them), the
registrations with their answers and waitlist places, and Approve and Decline in bulk — each
emailed through a real SMTP server (aiosmtpd) as when a host clicks, and refused input naming its
field with nothing changed. People register on the public page as visitors do."""

from datetime import datetime, timedelta

import pytest
from api_helpers import Api, token_for
from helpers import make_room
from test_registration import last_to, link_in

from portal.models import AuditEvent, Invitation, Registration, RegistrationSettings
from portal.services import registration as service
from portal.timeutil import utcnow


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Spring webinar", starts_in=timedelta(days=2),
                     timezone="Europe/Berlin")


@pytest.fixture
def api(app, owner):
    return Api(app, token_for(owner))


def registers(app, smtp, page, name, email, **answers):
    """A visitor on the public page, then the confirmation link from their email."""
    browser = app.test_client()
    assert browser.post(page, data={"name": name, "email": email, **answers}).status_code == 200
    assert browser.get(link_in(last_to(smtp, email), "r/confirm")).status_code == 200


def page_of(api, room):
    url = api.get(f"/api/v1/rooms/{room.id}/registration").json["page_url"]
    return url.replace("http://guestgate.test", "")


def test_turned_on_with_places_the_waitlist_fills_in_order(app, api, smtp, room):
    settings = api.get(f"/api/v1/rooms/{room.id}/registration").json
    assert settings["enabled"] is False and settings["page_url"] is None

    settings = api.put(f"/api/v1/rooms/{room.id}/registration",
                       json={"enabled": True, "capacity": 2}).json
    assert settings["enabled"] and settings["mode"] == "open"
    assert settings["capacity"] == 2 and settings["places_left"] == 2
    page = page_of(api, room)
    for name in ("Ada", "Bob", "Cy", "Di"):
        registers(app, smtp, page, name, f"{name.lower()}@example.com")

    everyone = api.get(f"/api/v1/rooms/{room.id}/registrations").json
    assert [(r["name"], r["status"], r["waitlist_position"]) for r in everyone["items"]] == [
        ("Ada", "registered", None), ("Bob", "registered", None),
        ("Cy", "waitlisted", 1), ("Di", "waitlisted", 2)]
    assert everyone["items"][0]["invitation_id"] == \
        Invitation.get(Invitation.email == "ada@example.com").id
    assert everyone["next_cursor"] is None
    waiting = api.get(f"/api/v1/rooms/{room.id}/registrations",
                      query_string={"status": "waitlisted"}).json
    assert [r["name"] for r in waiting["items"]] == ["Cy", "Di"]

    # One page at a time, by cursor: nothing skipped, nothing twice.
    first = api.get(f"/api/v1/rooms/{room.id}/registrations", query_string={"limit": 3}).json
    rest = api.get(f"/api/v1/rooms/{room.id}/registrations",
                   query_string={"limit": 3, "cursor": first["next_cursor"]}).json
    assert [r["name"] for r in first["items"] + rest["items"]] == ["Ada", "Bob", "Cy", "Di"]
    assert rest["next_cursor"] is None

    # A third place: the first on the waitlist moves up at once, and is emailed.
    settings = api.put(f"/api/v1/rooms/{room.id}/registration",
                       json={"enabled": True, "capacity": 3}).json
    assert settings["taken"] == 3 and settings["places_left"] == 0
    assert last_to(smtp, "cy@example.com")["Subject"] == \
        "A place became free — you're registered: Spring webinar"
    assert Registration.get(Registration.email == "di@example.com").status == "waitlisted"


def test_approve_and_decline_in_bulk(app, api, smtp, room):
    api.put(f"/api/v1/rooms/{room.id}/registration",
            json={"enabled": True, "mode": "approval", "capacity": 1})
    page = page_of(api, room)
    for name in ("Ada", "Bob", "Cy"):
        registers(app, smtp, page, name, f"{name.lower()}@example.com")
    pending = api.get(f"/api/v1/rooms/{room.id}/registrations",
                      query_string={"status": "pending"}).json["items"]
    ids = {r["name"]: r["id"] for r in pending}
    assert set(ids) == {"Ada", "Bob", "Cy"}

    # Ada gets the one place, Bob the waitlist; approving Ada again changes nothing.
    decided = api.post(f"/api/v1/rooms/{room.id}/registrations/approve",
                       json={"ids": [ids["Ada"], ids["Bob"]]}).json
    assert decided == {"done": [ids["Ada"], ids["Bob"]], "moved_up": []}
    assert last_to(smtp, "ada@example.com")["Subject"] == "You're registered: Spring webinar"
    personal = link_in(last_to(smtp, "ada@example.com"), "i")
    assert last_to(smtp, "bob@example.com")["Subject"] == \
        "You're on the waitlist: Spring webinar"
    assert api.post(f"/api/v1/rooms/{room.id}/registrations/approve",
                    json={"ids": [ids["Ada"]]}).json == {"done": [], "moved_up": []}

    # Declining Ada and Cy: Ada's link stops working, her place goes to Bob, both are emailed.
    decided = api.post(f"/api/v1/rooms/{room.id}/registrations/decline",
                       json={"ids": [ids["Ada"], ids["Cy"]]}).json
    assert sorted(decided["done"]) == sorted([ids["Ada"], ids["Cy"]])
    assert decided["moved_up"] == [ids["Bob"]]
    assert last_to(smtp, "ada@example.com")["Subject"] == \
        "Your registration wasn't approved: Spring webinar"
    assert app.test_client().get(personal).status_code == 410
    assert last_to(smtp, "bob@example.com")["Subject"] == \
        "A place became free — you're registered: Spring webinar"
    statuses = {r.name: r.status for r in Registration.select()}
    assert statuses == {"Ada": "declined", "Bob": "registered", "Cy": "declined"}
    # Audited as the token's account, as the screen's buttons are.
    who = {e.target: e.actor_email for e in AuditEvent.select().where(
        AuditEvent.action == "registration_declined")}
    assert who == {"ada@example.com": "owner@example.com", "cy@example.com": "owner@example.com"}


def test_times_without_an_offset_are_in_the_rooms_zone(api, room):
    settings = api.put(f"/api/v1/rooms/{room.id}/registration", json={
        "enabled": True, "opens_at": "2030-03-14T09:00:00",
        "closes_at": "2030-03-15T09:00:00+00:00"}).json
    assert settings["opens_at"] == "2030-03-14T08:00:00Z"  # Berlin, winter: UTC+1
    assert settings["closes_at"] == "2030-03-15T09:00:00Z"
    saved = RegistrationSettings.get(RegistrationSettings.room == room.id)
    assert saved.opens_at == datetime(2030, 3, 14, 8, 0)


@pytest.mark.parametrize("body, field", [
    ({"enabled": True, "capacity": 0}, "capacity"),
    ({"enabled": True, "capacity": 100_001}, "capacity"),
    ({"enabled": True, "capacity": "10"}, "capacity"),
    ({"enabled": True, "mode": "lottery"}, "mode"),
    ({"enabled": True, "opens_at": "2030-03-15T09:00:00Z",
      "closes_at": "2030-03-14T09:00:00Z"}, "closes_at"),
    ({"enabled": True, "places": 10}, "places"),
    ({"capacity": 10}, "enabled"),
])
def test_refused_options_name_their_field_and_change_nothing(api, room, body, field):
    api.put(f"/api/v1/rooms/{room.id}/registration", json={"enabled": False, "capacity": 5})
    before = RegistrationSettings.get(RegistrationSettings.room == room.id).__data__.copy()
    response = api.put(f"/api/v1/rooms/{room.id}/registration", json=body)
    assert response.status_code == 422 and field in response.json["errors"], response.json
    after = RegistrationSettings.get(RegistrationSettings.room == room.id).__data__
    assert after == before


def test_a_channel_has_no_registration(api, owner, db):
    channel = make_room(owner, kind="channel")
    response = api.put(f"/api/v1/rooms/{channel.id}/registration", json={"enabled": True})
    assert response.status_code == 422
    assert response.json["errors"] == {
        "enabled": ["Registration is for regular rooms (not channels)."]}
    assert not RegistrationSettings.select().where(
        RegistrationSettings.room == channel.id).exists()


def test_the_answers_come_with_each_registration(app, api, smtp, room):
    api.put(f"/api/v1/rooms/{room.id}/registration", json={"enabled": True})
    with app.test_request_context():
        service.add_question(room, "Company", "short", True, [])
        service.add_question(room, "Topics", "choices", False, ["Pricing", "Roadmap"])
    assert [(q["id"], q["kind"]) for q in api.get(
        f"/api/v1/rooms/{room.id}/registration").json["questions"]] == [
        ("q1", "short"), ("q2", "choices")]
    registers(app, smtp, page_of(api, room), "Ada", "ada@example.com", q1="=ACME",
              q2=["Pricing", "Roadmap"])
    [ada] = api.get(f"/api/v1/rooms/{room.id}/registrations").json["items"]
    assert ada["answers"] == {"q1": "=ACME", "q2": ["Pricing", "Roadmap"]}


def test_an_unconfirmed_registration_is_listed_as_such_then_expired(app, api, smtp, room):
    api.put(f"/api/v1/rooms/{room.id}/registration", json={"enabled": True})
    page = page_of(api, room)
    assert app.test_client().post(page, data={"name": "Ada", "email": "ada@example.com"}) \
        .status_code == 200
    [ada] = api.get(f"/api/v1/rooms/{room.id}/registrations").json["items"]
    assert ada["status"] == "unconfirmed" and ada["confirmed_at"] is None
    hours = app.config["REGISTRATION_CONFIRM_HOURS"]
    Registration.update(created_at=utcnow() - timedelta(hours=hours + 1)).execute()
    [ada] = api.get(f"/api/v1/rooms/{room.id}/registrations").json["items"]
    assert ada["status"] == "expired"
