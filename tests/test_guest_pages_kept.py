"""The pages a whole audience loads at once — the countdown, the waiting page and the room — are
rendered once for every guest of a room, role and language, and kept until the room changes;
each guest's own part (their name, place in line, poll, CSRF token) is theirs alone, and a
change to the room shows at the next load."""

import re
from datetime import timedelta

import pytest
from helpers import GuestActions, invited_guest, link_path, make_room, text_of
from jinja2 import ChoiceLoader, DictLoader

from portal import pagecache
from portal.models import Attachment, GuestLink, Room
from portal.timeutil import iso_utc, utcnow

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
EVIL = '<script>alert("pwned")</script> & "Bob"'




def _room(**fields):
    return make_room(title="Town hall", description="About the town", speakers="Ada\nGrace",
                     guest_access_enabled=True, join_url="https://meet.example/r/1", **fields)


def _guests(app, room, names, **headers):
    link = GuestLink.create(room=room, name="Everyone")
    guests = []
    for i, name in enumerate(names):
        guest = GuestActions(app)
        if headers:
            guest.client.environ_base.update(headers)
        assert guest.enter(link_path(app, link), name, f"guest{i}@example.com").status_code == 303
        guests.append(guest)
    return guests


def _update(room, **columns):
    Room.update(**columns).where(Room.id == room.id).execute()


@pytest.mark.parametrize("starts_in, template", [
    (timedelta(minutes=-10), "guest/room.html"),
    (timedelta(minutes=30), "guest/countdown.html"),
])
def test_many_guests_one_rendering(app, db, renders, starts_in, template):
    room = _room(starts_in=starts_in)
    guests = _guests(app, room, ["Ann", "Ben", "Cy"])
    renders.clear()
    pages = [guest.place(room) for guest in guests for _ in range(2)]
    assert all(page.status_code == 200 for page in pages)
    assert renders == [template]  # for the first guest only
    assert "Town hall" in text_of(pages[-1])


def test_the_waiting_page_is_rendered_once_and_each_guest_reads_their_own_name_and_place(
        app, db, renders):
    room = _room(require_approval=True)
    ann, evil = _guests(app, room, ["Ann", EVIL])
    renders.clear()
    first, second = ann.place(room), evil.place(room)
    assert renders == ["guest/waiting.html"]
    ann_html, evil_html = first.get_data(as_text=True), second.get_data(as_text=True)
    assert "Hi Ann —" in text_of(first) and "You're next in line." in text_of(first)
    assert "Bob" not in ann_html
    assert f"Hi {EVIL} —" in text_of(second) and "You're 2nd in line." in text_of(second)
    assert "<script>" not in evil_html and "&lt;script&gt;alert(&#34;pwned&#34;)" in evil_html
    assert "Hi Ann" not in evil_html
    # Each page polls with its own place in line.
    assert "place=1&amp;" in ann_html and "place=2&amp;" in evil_html
    # Ann's page again, after Bob's: still her own.
    again = ann.place(room).get_data(as_text=True)
    assert "Hi Ann —" in again and "pwned" not in again


def test_each_guest_gets_their_own_csrf_token_in_a_shared_page(app, db):
    app.config["WTF_CSRF_ENABLED"] = True
    room = _room()
    link = GuestLink.create(room=room, name="Everyone")
    guests = []
    for i in range(3):
        guest = GuestActions(app)
        lobby = guest.get(link_path(app, link)).get_data(as_text=True)
        assert guest.post(link_path(app, link), data={
            "csrf_token": CSRF.search(lobby).group(1), "name": f"G{i}",
            "email": f"g{i}@example.com"}).status_code == 303
        guests.append(guest)
    pages = [guest.place(room).get_data(as_text=True) for guest in guests]
    tokens = [CSRF.search(page).group(1) for page in pages]
    assert len(set(tokens)) == 3
    # in the Leave form and in the htmx header
    assert all(page.count(token) == 2 for page, token in zip(pages, tokens, strict=True))
    # Each guest's Leave works with their own token.
    for guest, token in zip(guests, tokens, strict=True):
        assert guest.post(f"/s/{room.id}/leave", data={"csrf_token": token}).status_code == 303


def test_guests_of_two_roles_each_see_their_own_role(app, db):
    room = _room()
    viewer = _guests(app, room, ["Vera"])[0]
    speaker = invited_guest(app, room, "speaker@example.com", role="speaker")
    for _ in range(2):  # the second round from the kept pages
        seen_by_viewer, seen_by_speaker = text_of(viewer.place(room)), text_of(speaker.place(room))
        assert "Your role: Viewer" in seen_by_viewer and "Your role: Speaker" not in seen_by_viewer
        assert "Your role: Speaker" in seen_by_speaker and "Viewer" not in seen_by_speaker
        assert "You can use Q&A and the backchannel." in seen_by_speaker
        assert "backchannel" not in seen_by_viewer
        assert "Join the live session" in seen_by_viewer
        assert "Join the live session" in seen_by_speaker


def test_german_and_english_pages_dont_mix(app, db):
    room = _room(starts_in=timedelta(minutes=30), host_message="Hello")
    english, german = _guests(app, room, ["En"]) + _guests(
        app, room, ["De"], HTTP_ACCEPT_LANGUAGE="de")
    for _ in range(2):
        seen_in_english, seen_in_german = text_of(english.place(room)), \
            text_of(german.place(room))
        assert "Add to calendar" in seen_in_english and "Zum Kalender" not in seen_in_english
        assert "Zum Kalender hinzufügen" in seen_in_german
        assert "Add to calendar" not in seen_in_german
    # The English guest switches to German and back: the page follows.
    assert "Zum Kalender hinzufügen" in text_of(english.get(f"/s/{room.id}?lang=de"))
    assert "Zum Kalender hinzufügen" in text_of(english.place(room))
    assert "Add to calendar" in text_of(english.get(f"/s/{room.id}?lang=en"))
    assert "Add to calendar" in text_of(german.get(f"/s/{room.id}?lang=en"))


@pytest.mark.parametrize("change, shown", [
    ({"title": "Town hall (moved)"}, "Town hall (moved)"),
    ({"description": "Now with <b>cake</b>"}, "Now with <b>cake</b>"),
    ({"speakers": "Ada\nGrace\nKatherine"}, "Katherine"),
])
@pytest.mark.parametrize("starts_in", [timedelta(minutes=-10), timedelta(hours=3)])
def test_a_change_to_the_room_shows_at_the_next_load(app, db, change, shown, starts_in):
    """On the room page (started) and the countdown (not yet), for every guest."""
    room = _room(starts_in=starts_in)
    guests = _guests(app, room, ["Ann", "Ben"])
    for guest in guests:
        assert shown not in text_of(guest.place(room))
    _update(room, **change)
    for guest in guests:
        assert shown in text_of(guest.place(room))


@pytest.mark.parametrize("starts_in, moved_by", [
    (timedelta(minutes=-10), timedelta(minutes=7)),  # started: shown on the room page
    (timedelta(hours=3), timedelta(days=2)),  # the countdown counts to the new start
])
def test_a_new_start_time_shows_at_the_next_load(app, db, starts_in, moved_by):
    room = _room(starts_in=starts_in, duration=timedelta(days=30))
    guest = _guests(app, room, ["Ann"])[0]
    new_start = Room.get_by_id(room.id).starts_at + moved_by
    shown = f'datetime="{iso_utc(new_start)}"'
    assert shown not in guest.place(room).get_data(as_text=True)
    _update(room, starts_at=new_start)
    assert shown in guest.place(room).get_data(as_text=True)


def test_a_new_host_message_shows_at_the_next_load(app, db):
    for room in (_room(starts_in=timedelta(minutes=30)), _room(require_approval=True)):
        guest = _guests(app, room, ["Ann"])[0]
        assert "Message from the host" not in text_of(guest.place(room))
        _update(room, host_message="Ten minutes late")
        assert "Message from the host: Ten minutes late" in text_of(guest.place(room))
        _update(room, host_message="")
        assert "Message from the host" not in text_of(guest.place(room))


def test_an_attachment_added_or_removed_shows_at_the_next_load(app, db):
    room = _room()
    guest = _guests(app, room, ["Ann"])[0]
    assert "Attachments" not in text_of(guest.place(room))
    first = Attachment.create(room=room, filename="slides.pdf", stored_name="a",
                              content_type="application/pdf", size=1)
    assert "slides.pdf" in text_of(guest.place(room))
    Attachment.create(room=room, filename="notes.txt", stored_name="b", content_type="text/plain",
                      size=1)
    assert "notes.txt" in text_of(guest.place(room))
    Attachment.update(filename="slides-v2.pdf").where(Attachment.id == first.id).execute()
    page = text_of(guest.place(room))
    assert "slides-v2.pdf" in page and "slides.pdf" not in page
    Attachment.delete().execute()
    assert "Attachments" not in text_of(guest.place(room))


def test_the_join_button_follows_the_room(app, db):
    room = _room()
    guest = _guests(app, room, ["Ann"])[0]
    assert "Join the live session" in text_of(guest.place(room))
    _update(room, join_url=None)
    assert "Join the live session" not in text_of(guest.place(room))


def test_a_new_consent_text_shows_at_the_next_load(app, db):
    room = _room(consent_required=True, consent_text="You may be recorded.", consent_version=1)
    link = GuestLink.create(room=room, name="Everyone")
    assert "You may be recorded." in text_of(app.test_client().get(link_path(app, link)))
    _update(room, consent_text="You will be recorded and streamed.", consent_version=2)
    assert "You will be recorded and streamed." in text_of(
        app.test_client().get(link_path(app, link)))


def test_the_start_moved_up_turns_the_countdown_into_the_room(app, db):
    room = _room(starts_in=timedelta(minutes=30))
    guest = _guests(app, room, ["Ann"])[0]
    assert "Waiting for the start" in text_of(guest.place(room))
    _update(room, starts_at=utcnow() - timedelta(seconds=1))
    assert "Your role: Viewer" in text_of(guest.place(room))


def test_a_flashed_message_and_a_signed_in_header_are_the_guests_own(app, db):
    room = _room()
    ann, ben = _guests(app, room, ["Ann", "Ben"])
    ann.place(room)  # the shell is kept
    with ben.session_transaction() as session:
        session["_flashes"] = [("info", "Only for Ben")]
    assert "Only for Ben" in text_of(ben.place(room))
    assert "Only for Ben" not in text_of(ben.place(room))  # shown once
    assert "Only for Ben" not in text_of(ann.place(room))
    # A signed-in guest's header names them; nobody else's page does.
    signed_in = invited_guest(app, room, "signed@example.com")
    assert signed_in.post("/sign-in", data={"email": "signed@example.com",
                                             "password": "correct horse battery"}).status_code \
        == 303
    assert "signed@example.com" in text_of(signed_in.place(room))
    assert "signed@example.com" not in text_of(ann.place(room))
    assert "Sign out" not in text_of(ann.place(room))


def test_a_moderators_live_lists_are_fresh_at_every_load(app, db):
    room = _room(require_approval=True)
    moderator = invited_guest(app, room, "mod@example.com", role="moderator")
    _guests(app, room, ["First waiting"])
    assert "First waiting" in text_of(moderator.place(room))
    _guests(app, room, ["Second waiting"])
    assert "Second waiting" in text_of(moderator.place(room))


def test_a_shell_that_reads_a_guests_own_value_fails_loudly(app, db):
    """A template that shows a guest's own value outside an own() part would keep one guest's
    value for every guest: it is an error, never a blank."""
    app.jinja_env.loader = ChoiceLoader([DictLoader({
        "leaky.html": "{{ room.title }} {{ participant.name }}",
        "sealed.html": "{{ room.title }} {{ own('own_name.html') }}",
        "own_name.html": "{{ participant.name }}"}), app.jinja_env.loader])
    room = _room()

    class Guest:
        name = "<Ann>"

    with app.test_request_context("/s/1"):
        with pytest.raises(pagecache.OwnValueInShell):
            pagecache.render_shell("leaky.html", {"room": room}, {"participant": Guest()})
        assert pagecache.render_shell("sealed.html", {"room": room},
                                      {"participant": Guest()}) == "Town hall &lt;Ann&gt;"


@pytest.mark.parametrize("fields", [
    {},  # the room
    {"starts_in": timedelta(hours=3), "host_message": "Soon <b>&</b>"},  # the countdown
    {"require_approval": True, "host_message": "Soon <b>&</b>"},  # the waiting page
])
def test_a_kept_page_is_the_page_rendered_afresh(app, db, fields):
    """Byte for byte, but for the CSRF token and the countdown's moment to check at the start
    (both made for each request anyway)."""
    room = _room(**fields)
    Attachment.create(room=room, filename="a <b>.pdf", stored_name="a", content_type="x", size=1)
    first, guest = _guests(app, room, ["First", EVIL])

    def page():
        html = guest.place(room).get_data(as_text=True)
        html = re.sub(r'(name="csrf_token" value=")[^"]+', r"\1T", html)
        html = re.sub(r'("X-CSRFToken": ")[^"]+', r"\1T", html)
        return re.sub(r"load delay:[0-9.]+s", "load delay:Ns", html)

    first.place(room)  # the first guest's page leaves the shell kept
    kept = page()
    app.extensions.pop(pagecache._STORE)
    assert page() == kept
    assert "&lt;script&gt;" in kept or "Hi" not in kept
