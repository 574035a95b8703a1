"""Registration (issue 28, part A), through a real SMTP server (aiosmtpd): a visitor registers on
the room's public page, confirms from the email, gets a place and a personal link (with its
calendar file) or the waitlist; a cancellation from the email moves the first on the waitlist
up, who is emailed; approval in bulk; the window, domain rules, expired and forged links; the
owner's questions and the answers on the owner's screen. Capacity under a burst is
tests/test_registration_burst.py."""

import re
from datetime import timedelta

import pytest
from helpers import make_room, text_of
from test_email import body_of, calendar_of

from portal.models import DomainRule, Invitation, Registration, RegistrationSettings
from portal.services import registration as service
from portal.timeutil import utcnow


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Spring webinar", starts_in=timedelta(days=2),
                     description="All about spring.", speakers="Ada Lovelace")


def enable(client, room, **fields):
    data = {"enabled": "y", "mode": "open", **fields}
    response = client.post(f"/rooms/{room.id}/registration/settings", data=data)
    assert response.status_code == 303, text_of(response)
    with client.application.app_context():
        return service.page_url(room).replace("http://guestgate.test", "")


def register(client, page, name, email, **answers):
    return client.post(page, data={"name": name, "email": email, **answers})


def link_in(message, path):
    found = re.search(r"http://guestgate\.test(/" + path + r"/[^\s<\"]+)",
                      body_of(message, "plain"))
    assert found, body_of(message, "plain")
    return found.group(1)


def last_to(smtp, email):
    return [m for m in smtp.messages() if m["To"] == email][-1]


def test_register_confirm_waitlist_cancel_and_move_up(app, client, signed_in_owner, smtp, room):
    page = enable(client, room, capacity="1")
    response = client.get(page)
    assert response.status_code == 200
    text = text_of(response)
    assert "Spring webinar" in text and "Ada Lovelace" in text and "1 place left." in text

    response = register(client, page, "Ada", "ada@example.com")
    assert response.status_code == 200
    assert "Check your email" in text_of(response)
    message = last_to(smtp, "ada@example.com")
    assert message["Subject"] == "Confirm your registration: Spring webinar"
    # Not counted before it is confirmed.
    assert RegistrationSettings.get(RegistrationSettings.room == room.id).taken == 0
    response = client.get(link_in(message, "r/confirm"))
    assert response.status_code == 200 and "You're registered" in text_of(response)
    message = last_to(smtp, "ada@example.com")
    assert message["Subject"] == "You're registered: Spring webinar"
    personal = link_in(message, "i")
    assert "BEGIN:VEVENT" in calendar_of(message).get_content()
    ada_cancel = link_in(message, "r/cancel")
    # Her personal link is a viewer invitation, emailed (calendar updates follow it).
    invitation = Invitation.get(Invitation.email == "ada@example.com")
    assert invitation.role == "viewer" and invitation.email_status == "sent"
    assert client.get(personal).status_code == 200

    # Full: Bob goes on the waitlist.
    register(client, page, "Bob", "bob@example.com")
    response = client.get(link_in(last_to(smtp, "bob@example.com"), "r/confirm"))
    assert "You're on the waitlist" in text_of(response)
    assert last_to(smtp, "bob@example.com")["Subject"] == "You're on the waitlist: Spring webinar"
    assert not Invitation.select().where(Invitation.email == "bob@example.com").exists()

    # Opening the cancel link cancels nothing; the button does.
    response = client.get(ada_cancel)
    assert "Cancel my registration" in text_of(response)
    assert Registration.get(Registration.email == "ada@example.com").status == "registered"
    response = client.post(ada_cancel)
    assert response.status_code == 200 and "Registration cancelled" in text_of(response)
    assert Registration.get(Registration.email == "ada@example.com").status == "cancelled"
    # Her link dies and her calendar drops the event; Bob moved up and got his own link.
    assert client.get(personal).status_code == 410
    assert any(m["Subject"] == "Cancelled: Spring webinar" for m in smtp.messages()
               if m["To"] == "ada@example.com")
    moved = last_to(smtp, "bob@example.com")
    assert moved["Subject"] == "A place became free — you're registered: Spring webinar"
    assert client.get(link_in(moved, "i")).status_code == 200
    assert Registration.get(Registration.email == "bob@example.com").status == "registered"
    assert RegistrationSettings.get(RegistrationSettings.room == room.id).taken == 1

    # A cancellation is not a denial: Ada may register again (waitlisted now: Bob has the place).
    register(client, page, "Ada", "ada@example.com")
    response = client.get(link_in(last_to(smtp, "ada@example.com"), "r/confirm"))
    assert "You're on the waitlist" in text_of(response)
    # The old cancel link died with the old registration.
    assert client.post(ada_cancel).status_code == 404

    # The owner sees it all.
    text = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "Bob" in text and "Registered" in text and "On the waitlist" in text
    assert "1 of 1 places taken" in text


def test_approval_in_bulk(app, client, signed_in_owner, smtp, room):
    page = enable(client, room, mode="approval", capacity="2")
    for name in ("Ann", "Ben", "Cat"):
        register(client, page, name, f"{name.lower()}@example.com")
        response = client.get(link_in(last_to(smtp, f"{name.lower()}@example.com"),
                                      "r/confirm"))
        assert "Waiting for approval" in text_of(response)
    assert not Invitation.select().exists()
    ids = [r.id for r in Registration.select().order_by(Registration.id)]
    response = client.post(f"/rooms/{room.id}/registration/decide",
                           data={"action": "approve", "ids": ids})
    assert response.status_code == 303
    text = text_of(client.get(response.headers["Location"]))
    assert "Approved 3" in text and "1 went on the waitlist" in text
    assert last_to(smtp, "ann@example.com")["Subject"] == "You're registered: Spring webinar"
    assert last_to(smtp, "ben@example.com")["Subject"] == "You're registered: Spring webinar"
    assert last_to(smtp, "cat@example.com")["Subject"] == "You're on the waitlist: Spring webinar"
    # Declining Ann frees her place for Cat.
    client.post(f"/rooms/{room.id}/registration/decide", data={"action": "decline",
                                                                 "ids": [ids[0]]})
    assert last_to(smtp, "ann@example.com")["Subject"] == \
        "Your registration wasn't approved: Spring webinar"
    assert last_to(smtp, "cat@example.com")["Subject"].startswith("A place became free")
    assert [r.status for r in Registration.select().order_by(Registration.id)] == \
        ["declined", "registered", "registered"]


def test_window_domain_rules_and_bad_links(app, client, signed_in_owner, smtp, room, db):
    later = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = enable(client, room, opens_at=later)
    response = client.get(page)
    assert response.status_code == 403 and "hasn't opened yet" in text_of(response)
    page = enable(client, room)
    DomainRule.create(domain="blocked.example", mode="block")
    response = register(client, page, "Eve", "eve@blocked.example")
    assert response.status_code == 422 and "email domain can't be used" in text_of(response)
    assert smtp.envelopes == [] and not Registration.select().exists()
    assert client.get("/r/garbled.token").status_code == 404
    assert client.get("/r/confirm/garbled").status_code == 404
    assert client.get("/r/cancel/garbled").status_code == 404
    # Registration off: the page says so.
    client.post(f"/rooms/{room.id}/registration/settings", data={"mode": "open"})
    assert client.get(page).status_code == 403


def test_unconfirmed_registrations_expire(app, client, signed_in_owner, smtp, room):
    page = enable(client, room)
    register(client, page, "Ada", "ada@example.com")
    confirm = link_in(last_to(smtp, "ada@example.com"), "r/confirm")
    app.config["REGISTRATION_CONFIRM_HOURS"] = 0
    import time
    time.sleep(1.1)  # itsdangerous' timestamps are whole seconds
    response = client.get(confirm)
    assert response.status_code == 410 and "expired" in text_of(response)
    assert Registration.get().status == "unconfirmed"


def test_questions_are_asked_and_answers_shown(app, client, signed_in_owner, smtp, room):
    page = enable(client, room)
    for data in ({"label": "Company", "kind": "short", "required": "y"},
                 {"label": "Topics", "kind": "choices", "choices": "Pricing\nRoadmap"},
                 {"label": "Newsletter", "kind": "checkbox"}):
        assert client.post(f"/rooms/{room.id}/registration/questions",
                           data=data).status_code == 303
    response = client.post(f"/rooms/{room.id}/registration/questions",
                           data={"label": "Pick", "kind": "choice", "choices": "Only one"})
    assert response.status_code == 422 and "at least two choices" in text_of(response)
    text = text_of(client.get(page))
    assert "Company" in text and "Roadmap" in text and "Newsletter" in text
    response = register(client, page, "Ada", "ada@example.com")
    assert response.status_code == 422 and "Answer this question." in text_of(response)
    response = client.post(page, data={"name": "Ada", "email": "ada@example.com",
                                       "q1": "=ACME", "q2": ["Pricing", "Roadmap"]})
    assert response.status_code == 200
    client.get(link_in(last_to(smtp, "ada@example.com"), "r/confirm"))
    text = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "=ACME" in text and "Pricing; Roadmap" in text


def test_german_registration_page_and_email(app, client, signed_in_owner, smtp, room):
    page = enable(client, room)
    response = client.get(page + "?lang=de")
    assert "Registrieren" in text_of(response)
    client.post(page, data={"name": "Ada", "email": "ada@example.com"})
    assert last_to(smtp, "ada@example.com")["Subject"] == \
        "Bestätigen Sie Ihre Anmeldung: Spring webinar"


def test_registrations_export_as_csv_with_formulas_neutralised(app, client, signed_in_owner,
                                                                smtp, room):
    import csv
    import io

    page = enable(client, room)
    client.post(f"/rooms/{room.id}/registration/questions",
                data={"label": "Company", "kind": "short"})
    client.post(page, data={"name": "@Ada", "email": "ada@example.com", "q1": "=1+2"})
    client.get(link_in(last_to(smtp, "ada@example.com"), "r/confirm"))
    client.post(page, data={"name": "Zoë", "email": "zoe@example.com", "q1": "-ACME"})
    response = client.get(f"/rooms/{room.id}/registration/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [(r["name"], r["email"], r["status"], r["Company"]) for r in rows] == [
        ("'@Ada", "ada@example.com", "registered", "'=1+2"),
        ("Zoë", "zoe@example.com", "unconfirmed", "'-ACME")]
    # Nobody else's room.
    client.post("/sign-out")
    assert client.get(f"/rooms/{room.id}/registration/export.csv").status_code in (302, 303,
                                                                                   401, 404)


def test_a_registrant_enters_without_typing_their_email(app, client, signed_in_owner, smtp,
                                                         room):
    """The confirmation link proved the address: the personal link's lobby asks only the
    name, also when the room asks invited guests to confirm their email (the default); an
    invitation the owner made still asks."""
    from helpers import GuestActions, OwnerActions, invitation, path_of

    from portal.models import Participant

    assert room.require_email_match
    page = enable(client, room)
    register(client, page, "Ada", "ada@example.com")
    client.get(link_in(last_to(smtp, "ada@example.com"), "r/confirm"))
    personal = link_in(last_to(smtp, "ada@example.com"), "i")
    ada = GuestActions(app)
    lobby = ada.get(personal)
    assert lobby.status_code == 200
    html = lobby.get_data(as_text=True)
    assert 'name="name"' in html and 'name="email"' not in html
    assert "Enter the email address this invitation was sent to." not in text_of(lobby)
    response = ada.post(personal, data={"name": "Ada Lovelace"})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/s/{room.id}")
    assert ada.place(room).status_code == 200
    entered = Participant.get(Participant.email == "ada@example.com")
    assert (entered.name, entered.status, entered.email_source) == (
        "Ada Lovelace", "admitted", "confirmed")

    # The owner's own invitation still asks for the invited email.
    OwnerActions(client).invite(room, "bob@example.com")
    bob = GuestActions(app)
    path = path_of(app, invitation(room, "bob@example.com"))
    assert 'name="email"' in bob.get(path).get_data(as_text=True)
    assert bob.post(path, data={"name": "Bob"}).status_code == 422
    assert bob.enter(path, "Bob", "eve@example.com").status_code == 403
