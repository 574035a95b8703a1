"""Registration, the CSV import and attendance as sections of the room page's views (issue 28,
"on the owner's room page as sections like the others"): each form answers like the other
sections — htmx gets the section alone, a plain form the flash and the view at the section's
anchor, a refusal 422 with the message and nothing written; the host approves and declines on
the Access view, one or many at once, and whoever moves up from the waitlist is emailed
(through a real SMTP server); the lists stay a page long however many registered or came; and
a registrant the owner had invited already enters without typing their email."""

import io
import re
from datetime import timedelta

import pytest
from helpers import HTMX, GuestActions, OwnerActions, count_queries, make_room, path_of, text_of
from test_registration import enable, last_to, link_in, register
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.models import (
    AuditEvent,
    Invitation,
    Participant,
    Registration,
    RegistrationSettings,
)
from portal.services import registration as service
from portal.timeutil import utcnow


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Spring webinar", starts_in=timedelta(days=2))


def confirmed(app, client, smtp, page, *names):
    """Each registers and confirms from their email, as a visitor does."""
    for name in names:
        email = f"{name.lower()}@example.com"
        register(client, page, name, email)
        client.get(link_in(last_to(smtp, email), "r/confirm"))


def status_of(email):
    return Registration.get(Registration.email == email).status


def section_alone(response, section_id):
    html = response.get_data(as_text=True)
    assert "<html" not in html, html[:200]
    assert re.match(rf'\s*(<!--.*?-->\s*)?<section [^>]*id="{section_id}"', html, re.S) or \
        f'id="{section_id}"' in html.split(">", 1)[0], html[:300]
    return html


# --- every form of the Registration section, plain and htmx -------------------------------------

FORMS = {  # path after /rooms/<id>/registration, data, where a plain form lands, what it says
    "settings": ({"enabled": "y", "mode": "approval", "capacity": "2"}, "#registration",
                 "Registration settings saved."),
    "questions": ({"label": "Company", "kind": "short"}, "#registration-questions",
                  "Question added."),
    "reminders": ({"reminder_hours": "24, 2"}, "#registration-reminders",
                  "Reminders and follow-ups saved."),
    "link/reset": ({}, "#registration", "The registration link was reset"),
}


@pytest.mark.parametrize("form", FORMS)
def test_a_plain_form_lands_on_the_access_view_at_its_part(client, signed_in_owner, smtp, room,
                                                           form):
    data, anchor, says = FORMS[form]
    response = client.post(f"/rooms/{room.id}/registration/{form}", data=data)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/rooms/{room.id}/access{anchor}"
    assert says in text_of(client.get(response.headers["Location"]))


@pytest.mark.parametrize("form", FORMS)
def test_htmx_gets_the_section_alone_with_what_happened(client, signed_in_owner, smtp, room,
                                                        form):
    data, anchor, says = FORMS[form]
    response = client.post(f"/rooms/{room.id}/registration/{form}", data=data, headers=HTMX)
    assert response.status_code == 200
    html = section_alone(response, "registration")
    assert says in text_of(response)
    # Said in the section's status region (focused) and in the page's one live region.
    assert 'id="registration-status" role="status" aria-live="polite" tabindex="-1" autofocus' \
        in html
    assert 'hx-swap-oob="innerHTML:#live-announcer">' + says in html


REFUSED = {  # path, data, the message
    "settings": ({"enabled": "y", "mode": "open", "capacity": "0"},
                 "Enter 1 to 100,000 places"),
    "questions": ({"label": "Pick", "kind": "choice", "choices": "Only one"},
                  "Give at least two choices"),
    "reminders": ({"reminder_hours": "48, 0"}, "Give whole hours from 1"),
    "decide": ({"action": "approve"}, "Tick at least one registration"),
}


@pytest.mark.parametrize("form", REFUSED)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_refused_input_is_422_with_the_message_and_nothing_written(client, signed_in_owner,
                                                                   smtp, room, form, htmx):
    data, says = REFUSED[form]
    audit_before = AuditEvent.select().count()
    response = client.post(f"/rooms/{room.id}/registration/{form}", data=data,
                           headers=HTMX if htmx else None)
    assert response.status_code == 422
    assert says in text_of(response)
    html = response.get_data(as_text=True)
    if htmx:
        section_alone(response, "registration")
    else:  # the Access view, the part with the error open
        assert "<html" in html and 'aria-current="page"' in html and 'id="view-access"' in html
    if form in ("settings", "questions", "reminders"):
        assert re.search(r'<details class="part" open>\s*<summary>' +
                         {"settings": "Registration options", "questions": "Questions",
                          "reminders": "Reminders"}[form], html)
    assert AuditEvent.select().count() == audit_before
    assert not RegistrationSettings.select().exists() or form == "decide"
    assert smtp.envelopes == []


def test_removing_a_question_answers_in_the_section(client, signed_in_owner, smtp, room):
    client.post(f"/rooms/{room.id}/registration/questions", data={"label": "Company",
                                                                   "kind": "short"})
    response = client.post(f"/rooms/{room.id}/registration/questions/q1/delete", headers=HTMX)
    assert response.status_code == 200
    section_alone(response, "registration")
    assert "Question removed" in text_of(response) and "Questions (0 of 10)" in \
        text_of(response)


# --- approve and decline on the Access view -------------------------------------------------------

def test_bulk_approve_and_decline_move_the_waitlist_up_and_email(app, client, signed_in_owner,
                                                                 smtp, room):
    page = enable(client, room, mode="approval", capacity="2")
    confirmed(app, client, smtp, page, "Ann", "Ben", "Cat", "Dan")
    access = client.get(f"/rooms/{room.id}/access")
    text = text_of(access)
    assert "4 waiting for approval" in text
    html = access.get_data(as_text=True)
    for name in ("Ann", "Ben", "Cat", "Dan"):  # each row's own buttons
        assert f'>Approve<span class="visually-hidden"> {name}</span>' in html
    ids = [r.id for r in Registration.select().order_by(Registration.id)]

    # htmx: Approve selected (three ticked): two places, the third on the waitlist.
    response = client.post(f"/rooms/{room.id}/registration/decide", headers=HTMX,
                           data={"action": "approve", "ids": ids[:3]})
    assert response.status_code == 200
    section_alone(response, "registration")
    said = text_of(response)
    assert "Approved 3: ann@example.com, ben@example.com, cat@example.com (emailed)." in said
    assert "The room is full: 1 went on the waitlist." in said
    assert "2 of 2 places taken; 1 on the waitlist; 1 waiting for approval." in said
    assert [status_of(f"{n}@example.com") for n in ("ann", "ben", "cat", "dan")] == \
        ["registered", "registered", "waitlisted", "pending"]
    assert last_to(smtp, "cat@example.com")["Subject"] == "You're on the waitlist: " \
        "Spring webinar"

    # Plain: Decline one by its row's button: Cat moves up, and is emailed her link.
    response = client.post(f"/rooms/{room.id}/registration/decide",
                           data={"decide": f"decline:{ids[0]}"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/rooms/{room.id}/access#registrants"
    text = text_of(client.get(response.headers["Location"]))
    assert "Declined 1: ann@example.com (emailed)." in text
    assert "1 moved up from the waitlist (emailed)." in text
    assert last_to(smtp, "ann@example.com")["Subject"] == \
        "Your registration wasn't approved: Spring webinar"
    moved = last_to(smtp, "cat@example.com")
    assert moved["Subject"] == "A place became free — you're registered: Spring webinar"
    assert GuestActions(app).get(link_in(moved, "i")).status_code == 200
    assert status_of("cat@example.com") == "registered"

    # Bulk Decline selected, one already decided: said, and the rest done.
    response = client.post(f"/rooms/{room.id}/registration/decide", headers=HTMX,
                           data={"action": "decline", "ids": [ids[0], ids[3]]})
    said = text_of(response)
    assert "Declined 1: dan@example.com" in said
    assert "Not changed (already decided): ann@example.com." in said
    # Someone else's registration id changes nothing: 422.
    response = client.post(f"/rooms/{room.id}/registration/decide",
                           data={"action": "approve", "ids": ["987654"]})
    assert response.status_code == 422 and "None of those registrations" in text_of(response)


def test_the_registrants_list_is_a_page_long_whatever_the_crowd(app, client, signed_in_owner,
                                                                room):
    with app.test_request_context():
        service.save_settings(room, enabled=True, mode="approval", capacity=None,
                              opens_at=None, closes_at=None)
    small = make_room(signed_in_owner, title="Small", starts_in=timedelta(days=2))
    with app.test_request_context():
        service.save_settings(small, enabled=True, mode="approval", capacity=None,
                              opens_at=None, closes_at=None)
    now = utcnow()
    Registration.insert_many([
        {"room": room.id, "email": f"p{i:03d}@example.com", "name": f"Person {i:03d}",
         "status": "pending" if i < 110 else "waitlisted", "created_at": now,
         "confirmed_at": now, "waitlisted_at": now + timedelta(seconds=i) if i >= 110 else None}
        for i in range(120)]).execute()
    Registration.create(room=small.id, email="only@example.com", name="Only", status="pending",
                        confirmed_at=now)

    with count_queries() as few:
        client.get(f"/rooms/{small.id}/access")
    with count_queries() as many:
        page = client.get(f"/rooms/{room.id}/access")
    assert len(many) <= len(few), "\n".join(many)
    html, text = page.get_data(as_text=True), text_of(page)
    assert html.count('name="ids"') == 50
    assert "Person 049<" in html and "Person 050<" not in html
    assert "1–50 of 120" in text and "Registrants (120)" in text
    assert f'href="/rooms/{room.id}/access?page=2#registrants"' in html

    # The last page: the waitlist in its order, with each one's place in it.
    last = client.get(f"/rooms/{room.id}/access?page=3")
    html = last.get_data(as_text=True)
    assert html.count('name="ids"') == 20 and "101–120 of 120" in text_of(last)
    assert re.search(r"Person 110</td>.*?On the waitlist \(1\)", html, re.S)
    assert re.search(r"Person 119</td>.*?On the waitlist \(10\)", html, re.S)
    # Only the waitlist: the same places.
    only = client.get(f"/rooms/{room.id}/access?show=waitlisted")
    html = only.get_data(as_text=True)
    assert html.count('name="ids"') == 10 and "On the waitlist (3)" in html
    assert "Person 000<" not in html
    # A page past the end shows the last; nonsense shows the first.
    assert "101–120 of 120" in text_of(client.get(f"/rooms/{room.id}/access?page=99"))
    assert "1–50 of 120" in text_of(client.get(f"/rooms/{room.id}/access?page=x&show=zz"))
    # A decision keeps the page it was made on (htmx: the form carries it).
    third = Registration.get(Registration.email == "p105@example.com")
    response = client.post(f"/rooms/{room.id}/registration/decide", headers=HTMX,
                           data={"decide": f"approve:{third.id}", "page": "3"})
    assert "Approved 1: p105@example.com" in text_of(response)
    assert "101–120 of 120" in text_of(response)
    assert "Person 119<" in response.get_data(as_text=True)


# --- the CSV import beside the Guests -----------------------------------------------------------

def upload(client, room, content, headers=None):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(content.encode()),
                                                           "guests.csv")})
    return client.post(f"/rooms/{room.id}/invitations/import", data=body, headers=headers,
                       content_type=f"multipart/form-data; boundary={boundary}")


def test_the_import_previews_in_its_section_and_sends_into_the_guests(app, client,
                                                                      signed_in_owner, smtp,
                                                                      room):
    access = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert access.index('id="invitations"') < access.index('id="invitation-import"') \
        < access.index('id="registration"')

    # htmx: the preview, in the section alone.
    response = upload(client, room, "email,name\nada@example.com,Ada\nnot-an-email,X\n",
                      headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="invitation-import">') and "<html" not in html
    assert "1 new, 0 already invited, 1 invalid" in text_of(response)
    rows = re.search(r'name="rows"[^>]*value="([^"]*)"', html).group(1).replace("&#34;", '"')

    # Send all (htmx): the Guests section with the new guest and what happened, this one
    # emptied out of band.
    response = client.post(f"/rooms/{room.id}/invitations/import/send", data={"rows": rows},
                           headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and html.count('id="invitations"') == 1
    assert '<div id="invitation-import" hx-swap-oob="true">' in html
    assert 'data-import-kind' not in html
    assert "Invited 1 from the file:" in text_of(response) and "ada@example.com" in html
    assert [m["To"] for m in smtp.messages()] == ["ada@example.com"]

    # Plain: the preview is the Access view with it; a refusal the view with the message.
    response = upload(client, room, "email\nbob@example.com\n")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="view-access"' in html and 'aria-current="page"' in html
    assert 'data-import-kind="new"' in html
    response = upload(client, room, "mail\nbob@example.com\n")
    assert response.status_code == 422 and "must name the columns" in text_of(response)
    response = upload(client, room, "mail\nbob@example.com\n", headers=HTMX)
    assert response.status_code == 422 and "must name the columns" in text_of(response)
    assert "<html" not in response.get_data(as_text=True)
    assert Invitation.select().count() == 1


# --- attendance in Insights -----------------------------------------------------------------------

def test_attendance_lists_the_first_fifty_and_counts_everyone(app, client, signed_in_owner,
                                                              room):
    now = utcnow()
    Registration.insert_many([
        {"room": room.id, "email": f"r{i:02d}@example.com", "name": f"Reg {i:02d}",
         "status": "registered", "created_at": now + timedelta(seconds=i), "confirmed_at": now}
        for i in range(40)]).execute()
    later = now + timedelta(minutes=1)
    Participant.insert_many([
        {"room": room.id, "email": f"w{i:02d}@example.com", "name": f"Walk-in {i:02d}",
         "status": "admitted", "device": f"d{i}", "created_at": later + timedelta(seconds=i),
         "decided_at": later + timedelta(seconds=i)}
        for i in range(25)]).execute()
    insights = client.get(f"/rooms/{room.id}/insights")
    text, html = text_of(insights), insights.get_data(as_text=True)
    assert "40 registered, 40 with a place, 25 entered the room, 0 joined the live session." \
        in text
    assert "Reg 00<" in html and "Walk-in 09<" in html and "Walk-in 10<" not in html
    assert "…and 15 more: the CSV file has everyone." in text
    assert html.index("Reg 39<") < html.index("Walk-in 00<")  # in the order they appeared
    rows = client.get(f"/rooms/{room.id}/attendance/export.csv").data.decode("utf-8-sig")
    assert len(rows.strip().splitlines()) == 1 + 65


def test_a_deleted_rooms_attendance_is_still_a_page(app, client, signed_in_owner, room):
    Registration.create(room=room.id, email="ada@example.com", name="Ada", status="registered")
    room.deleted_at = utcnow()
    room.save()
    response = client.get(f"/rooms/{room.id}/attendance")
    assert response.status_code == 200 and "Ada" in text_of(response)
    assert client.get(f"/rooms/{room.id}/insights").status_code == 404


# --- a registrant the owner had invited -----------------------------------------------------------

def test_a_registrant_already_invited_enters_without_typing_their_email(app, client,
                                                                        signed_in_owner, smtp,
                                                                        room):
    """The owner invited Ada before she registered: she gets that invitation as her link, and
    her confirmation proved the address for it too."""
    assert room.require_email_match
    OwnerActions(client).invite(room, "ada@example.com")
    owners = Invitation.get(Invitation.email == "ada@example.com")
    assert not owners.email_confirmed
    ada = GuestActions(app)
    assert 'name="email"' in ada.get(path_of(app, owners)).get_data(as_text=True)

    page = enable(client, room)
    confirmed(app, client, smtp, page, "Ada")
    assert status_of("ada@example.com") == "registered"
    personal = link_in(last_to(smtp, "ada@example.com"), "i")
    assert Invitation.select().count() == 1  # the same invitation, not a second one
    assert Invitation.get_by_id(owners.id).email_confirmed
    lobby = ada.get(personal)
    assert lobby.status_code == 200
    assert 'name="name"' in lobby.get_data(as_text=True)
    assert 'name="email"' not in lobby.get_data(as_text=True)
    response = ada.post(personal, data={"name": "Ada Lovelace"})
    assert response.status_code == 303
    entered = Participant.get(Participant.email == "ada@example.com")
    assert (entered.status, entered.email_source) == ("admitted", "confirmed")
    # Someone else registering proves nothing for Bob's invitation.
    OwnerActions(client).invite(room, "bob@example.com")
    assert not Invitation.get(Invitation.email == "bob@example.com").email_confirmed


def test_the_access_view_has_each_id_once(app, client, signed_in_owner, smtp, room):
    """The sections' forms share one page: no field or part id twice (labels would point to
    the wrong field)."""
    page = enable(client, room, mode="approval")
    client.post(f"/rooms/{room.id}/registration/questions", data={"label": "Company",
                                                                   "kind": "short"})
    confirmed(app, client, smtp, page, "Ann")
    OwnerActions(client).invite(room, "old@example.com")
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert "registrants" in ids and "invitation-import" in ids and "invitations" in ids
    assert sorted({i for i in ids if ids.count(i) > 1}) == []
