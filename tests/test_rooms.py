"""Owners' rooms: list, create, edit, delete, with times entered in the owner's own zone and
stored in UTC; validation; who may see which room; attachments."""

import http.client
import io
import random
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from helpers import LiveServer, make_user, text_of

from portal.models import Attachment, AuditEvent, Room
from portal.owner import rooms as rooms_views


def room_data(**overrides):
    data = {
        "title": "Winter town hall",
        "description": "Questions welcome.\nBring coffee.",
        "speakers": "Ada Lovelace\n\n  Grace Hopper  ",
        "starts_at": "2031-01-15T10:00",
        "ends_at": "2031-01-15T11:30",
        "timezone": "Europe/Berlin",
        "kind": "regular",
        "require_email_match": "y",
        "join_url": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def berlin_owner(app, auth):
    user = make_user(timezone="Europe/Berlin")
    auth.sign_in()
    return user


def create_room(client, **overrides):
    response = client.post("/rooms/new", data=room_data(**overrides))
    assert response.status_code == 303, text_of(response)
    return Room.get_by_id(int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]))


# --- create, read, edit, delete ----------------------------------------------------------------

def test_new_room_form_starts_in_the_owners_zone(client, berlin_owner):
    page = client.get("/rooms/new")
    assert page.status_code == 200
    assert '<option selected value="Europe/Berlin">' in page.get_data(as_text=True)
    assert "Guests wait to be admitted" in text_of(page)
    assert "Guests confirm the invited email" in text_of(page)


def test_create_room_stores_the_owners_local_time_in_utc(client, berlin_owner, db):
    room = create_room(client)
    # 10:00 in Berlin in January (CET, UTC+1) is 09:00 UTC
    assert room.starts_at == datetime(2031, 1, 15, 9, 0)
    assert room.ends_at == datetime(2031, 1, 15, 10, 30)
    assert room.owner_id == berlin_owner.id
    assert room.title == "Winter town hall"
    assert room.speakers == "Ada Lovelace\nGrace Hopper"
    assert room.kind == "regular"
    assert room.require_approval is False and room.require_email_match is True
    assert room.guest_access_enabled is False
    assert AuditEvent.get(AuditEvent.action == "room_created").room_id == room.id

    assert "Room “Winter town hall” created." in text_of(
        client.get(f"/rooms/{room.id}", follow_redirects=True))
    page = text_of(client.get(f"/rooms/{room.id}/details"))
    assert "Wed 15 Jan 2031, 10:00 CET" in page  # shown back in the owner's zone
    assert "Ada Lovelace, Grace Hopper" in page


def test_summer_times_use_daylight_saving(client, berlin_owner, db):
    room = create_room(client, starts_at="2031-07-15T10:00", ends_at="2031-07-15T11:00")
    assert room.starts_at == datetime(2031, 7, 15, 8, 0)  # CEST, UTC+2


def test_another_zone_chosen_on_the_form_wins(client, berlin_owner, db):
    room = create_room(client, timezone="America/New_York")
    assert room.starts_at == datetime(2031, 1, 15, 15, 0)  # EST, UTC-5


def test_rooms_list_shows_the_owners_rooms(client, berlin_owner, db):
    create_room(client, title="First room")
    create_room(client, title="Second room", kind="channel", require_approval="y")
    page = text_of(client.get("/rooms/"))
    assert "First room" in page and "Second room" in page
    assert "Channel" in page and "Regular" in page


def test_empty_rooms_list_invites_creating_one(client, berlin_owner):
    assert "No rooms yet." in text_of(client.get("/rooms/"))


def test_edit_room_shows_local_times_and_saves_changes(client, berlin_owner, db):
    room = create_room(client)
    form = client.get(f"/rooms/{room.id}/edit").get_data(as_text=True)
    assert 'value="2031-01-15T10:00"' in form  # the stored 09:00 UTC, back in Berlin time
    assert 'value="Winter town hall"' in form

    response = client.post(f"/rooms/{room.id}/edit", data=room_data(
        title="Spring town hall", starts_at="2031-04-01T18:00", ends_at="2031-04-01T19:00",
        require_approval="y", require_email_match=None, kind="channel",
        join_url="https://meet.example.org/r/spring"))
    assert response.status_code == 303
    room = Room.get_by_id(room.id)
    assert room.title == "Spring town hall"
    assert room.starts_at == datetime(2031, 4, 1, 16, 0)  # CEST
    assert room.require_approval is True and room.require_email_match is False
    assert room.kind == "channel"
    assert room.join_url == "https://meet.example.org/r/spring"
    assert "Room saved." in text_of(client.get(response.headers["Location"]))


def test_delete_room_marks_it_deleted_and_it_leaves_the_list(client, berlin_owner, db):
    room = create_room(client, title="Short-lived")
    response = client.post(f"/rooms/{room.id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == "/rooms/"
    page = text_of(client.get("/rooms/"))
    assert "Room “Short-lived” deleted." in page
    assert "No rooms yet." in page
    kept = Room.get_by_id(room.id)  # kept, so its links can say "no longer available"
    assert kept.deleted_at is not None and kept.guest_access_enabled is False
    assert client.get(f"/rooms/{room.id}").status_code == 404
    assert client.get(f"/rooms/{room.id}/edit").status_code == 404


def test_delete_from_htmx_redirects_with_hx_redirect(client, berlin_owner, db):
    room = create_room(client)
    response = client.post(f"/rooms/{room.id}/delete", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/rooms/"


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, message", [
    ({"ends_at": "2031-01-15T09:00"}, "The end must be after the start."),
    ({"ends_at": "2031-01-15T10:00"}, "The end must be after the start."),
    ({"title": "   "}, "Give the room a title."),
    ({"title": None}, "Give the room a title."),
    ({"title": "Bad\x07title"}, "Remove the control characters"),
    ({"title": "Two\nlines"}, "Remove the control characters"),
    ({"description": "null\x00byte"}, "Remove the control characters"),
    ({"title": "Q3 \u202egnitsoh"}, "Remove the invisible characters that change the direction"),
    ({"speakers": "Ada\n\u2067Grace\u2069"}, "Remove the invisible characters that change"),
    ({"join_url": "javascript:alert(1)"}, "Enter a "),
    ({"join_url": "meet.example.org/room"}, "Enter a "),
    ({"join_url": "https://meet.example.org/r\x00oom"}, "Remove the control characters"),
    ({"starts_at": "tomorrow"}, "Not a valid datetime value."),
    ({"starts_at": ""}, "Enter the start date and time."),
    ({"kind": "stadium"}, "Not a valid choice."),
    ({"timezone": "Mars/Olympus"}, "Not a valid choice."),
    ({"timezone": "±" * 500}, "Not a valid choice."),  # too long even to look up as a file
    ({"title": "x" * 201}, "Field cannot be longer than 200 characters."),
], ids=["end-before-start", "end-equals-start", "blank-title", "missing-title",
        "bell-in-title", "newline-in-title", "nul-in-description", "bidi-in-title",
        "bidi-in-speakers", "javascript-url", "url-without-scheme", "nul-in-url",
        "garbled-start", "missing-start", "unknown-kind", "unknown-zone",
        "zone-too-long-for-a-path", "long-title"])
def test_invalid_room_is_refused_with_a_message_and_no_row(client, berlin_owner, db,
                                                           overrides, message):
    response = client.post("/rooms/new", data=room_data(**overrides))
    assert response.status_code == 422
    page = text_of(response)
    assert message in page
    assert "Please correct the highlighted" in page
    assert Room.select().count() == 0


def test_invalid_edit_changes_nothing(client, berlin_owner, db):
    room = create_room(client)
    response = client.post(f"/rooms/{room.id}/edit",
                           data=room_data(title="Renamed", ends_at="2031-01-14T10:00"))
    assert response.status_code == 422
    assert "The end must be after the start." in text_of(response)
    assert Room.get_by_id(room.id).title == "Winter town hall"


def test_multiline_description_and_speakers_are_allowed(client, berlin_owner, db):
    # browsers send a textarea's line breaks as CRLF
    room = create_room(client, description="Line one\r\nLine two\tindented",
                       speakers="Ada Lovelace\r\nGrace Hopper\r\n")
    assert room.description == "Line one\nLine two\tindented"
    assert room.speaker_list == ["Ada Lovelace", "Grace Hopper"]


# --- who sees which room -----------------------------------------------------------------------

def test_another_broadcaster_gets_404_on_someone_elses_room(client, auth, app, db):
    make_user(email="alice@example.com")
    auth.sign_in(email="alice@example.com")
    room = create_room(client, title="Alice's room")
    auth.sign_out()

    make_user(email="bob@example.com")
    auth.sign_in(email="bob@example.com")
    assert "No rooms yet." in text_of(client.get("/rooms/"))
    assert client.get(f"/rooms/{room.id}").status_code == 404
    assert client.get(f"/rooms/{room.id}/edit").status_code == 404
    assert client.post(f"/rooms/{room.id}/edit", data=room_data(title="Bob's now")) \
        .status_code == 404
    assert client.post(f"/rooms/{room.id}/delete").status_code == 404
    room = Room.get_by_id(room.id)
    assert room.title == "Alice's room" and room.deleted_at is None
    # a room id that doesn't exist answers the same: nobody learns which ids exist
    assert client.get("/rooms/999999").status_code == 404


def test_admin_sees_and_edits_every_room(client, auth, app, db):
    make_user(email="alice@example.com")
    auth.sign_in(email="alice@example.com")
    room = create_room(client, title="Alice's room")
    auth.sign_out()

    make_user(email="admin@example.com", access="admin")
    auth.sign_in(email="admin@example.com")
    assert "Alice's room" in text_of(client.get("/rooms/"))
    assert "Alice's room" in text_of(client.get(f"/rooms/{room.id}/details"))
    assert client.post(f"/rooms/{room.id}/edit",
                       data=room_data(title="Checked by admin")).status_code == 303
    room = Room.get_by_id(room.id)
    assert room.title == "Checked by admin"
    assert room.owner.email == "alice@example.com"  # still Alice's


# --- attachments -------------------------------------------------------------------------------

def upload(client, room, name, content: bytes):
    return client.post(f"/rooms/{room.id}/attachments",
                       data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def multipart(disposition: str, content: bytes) -> tuple[bytes, str]:
    """A one-file form with the part's Content-Disposition exactly as given (a browser's
    `filename*=UTF-8''…` included), as (body, Content-Type)."""
    boundary = "guestgate-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {disposition}\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content \
        + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def stored_files(app) -> list[Path]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(folder.iterdir()) if folder.exists() else []


def test_owner_uploads_an_attachment_and_downloads_it(app, client, berlin_owner, db):
    room = create_room(client)
    response = upload(client, room, "Agenda 2031.pdf", b"%PDF-1.7 agenda")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/details#attachments")
    assert "“Agenda 2031.pdf” attached." in text_of(client.get(f"/rooms/{room.id}/details"))

    attachment = Attachment.get(Attachment.room == room)
    assert attachment.filename == "Agenda 2031.pdf"
    assert attachment.content_type == "application/pdf"
    assert attachment.size == len(b"%PDF-1.7 agenda")
    files = stored_files(app)
    assert [f.name for f in files] == [attachment.stored_name]
    assert files[0].read_bytes() == b"%PDF-1.7 agenda"
    assert "Agenda" not in attachment.stored_name  # random names on disk

    with client.get(f"/rooms/{room.id}/attachments/{attachment.id}") as download:
        assert download.status_code == 200
        assert download.data == b"%PDF-1.7 agenda"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert "Agenda" in download.headers["Content-Disposition"]
        assert download.headers["Content-Type"] == "application/pdf"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert download.headers["Cache-Control"] == "private, no-store"  # no copy kept anywhere


def test_served_type_comes_from_the_extension_not_the_browser(app, client, berlin_owner, db):
    room = create_room(client)
    client.post(f"/rooms/{room.id}/attachments",
                data={"file": (io.BytesIO(b"<script>alert(1)</script>"), "notes.txt",
                               "text/html")},
                content_type="multipart/form-data")
    attachment = Attachment.get(Attachment.room == room)
    with client.get(f"/rooms/{room.id}/attachments/{attachment.id}") as download:
        assert download.headers["Content-Type"].startswith("text/plain")
        assert download.headers["Content-Disposition"].startswith("attachment;")


@pytest.mark.parametrize("name, content, message", [
    ("installer.exe", b"MZ binary", "This type of file can't be attached."),
    ("page.html", b"<html></html>", "This type of file can't be attached."),
    ("no-extension", b"data", "This type of file can't be attached."),
    ("empty.pdf", b"", "The file is empty."),
    ("big.pdf", b"x" * 65, "The file is larger than"),
], ids=["exe", "html", "no-extension", "empty", "too-large"])
def test_refused_upload_says_why_and_keeps_nothing(app, client, berlin_owner, db, name, content,
                                                    message):
    app.config["MAX_UPLOAD_BYTES"] = 64
    room = create_room(client)
    response = upload(client, room, name, content)
    assert response.status_code == 303
    assert message in text_of(client.get(response.headers["Location"]))
    assert Attachment.select().count() == 0
    assert stored_files(app) == []


@pytest.mark.parametrize("disposition", [
    "filename*=UTF-8''agenda%0D%0AX-Injected%3A%201.pdf",
    "filename*=UTF-8''agenda%00.pdf",
    'filename="agenda\x1b[31m.pdf"',
    "filename*=UTF-8''invoice%E2%80%AEtxt.pdf",  # U+202E: shows as "invoicefdp.txt"
], ids=["crlf", "nul", "escape", "right-to-left-override"])
def test_file_names_with_control_characters_are_refused(app, client, berlin_owner, db,
                                                        disposition):
    """Such a name would be stored, and every download of it would then answer 500 (it can't go
    into the Content-Disposition header)."""
    room = create_room(client)
    body, content_type = multipart(disposition, b"%PDF-1.7 agenda")
    response = client.post(f"/rooms/{room.id}/attachments", data=body,
                           content_type=content_type)
    assert response.status_code == 303
    assert "The file name has control or text-direction characters: rename the file and " \
        "upload it again." in text_of(client.get(response.headers["Location"]))
    assert Attachment.select().count() == 0
    assert stored_files(app) == []


def test_upload_without_a_file_asks_for_one(app, client, berlin_owner, db):
    room = create_room(client)
    response = client.post(f"/rooms/{room.id}/attachments", data={},
                           content_type="multipart/form-data")
    assert "Choose a file to upload." in text_of(client.get(response.headers["Location"]))
    assert Attachment.select().count() == 0


def test_a_request_over_the_upload_limit_gets_the_friendly_413(app, client, berlin_owner, db):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    room = create_room(client)
    response = upload(client, room, "huge.pdf", b"x" * 4096)
    assert response.status_code == 413
    assert "The file is too large" in text_of(response)
    assert Attachment.select().count() == 0


def test_a_long_file_name_is_shortened_in_the_notice_not_in_the_room(app, client, berlin_owner,
                                                                     db):
    """The notice travels in the session cookie: a name of thousands of characters (which
    compress badly) made it too large for browsers, which drop such a cookie."""
    room = create_room(client)
    letters = random.Random(7).choices(string.ascii_letters + string.digits, k=6000)
    name = "".join(letters) + ".pdf"
    response = upload(client, room, name, b"%PDF-1.7 agenda")
    assert response.status_code == 303
    assert len(response.headers["Set-Cookie"]) < 4093
    page = text_of(client.get(f"/rooms/{room.id}/details"))
    assert "“" + name[:79] + "…” attached." in page
    assert Attachment.get(Attachment.room == room).filename == name[:255]


def test_owner_removes_an_attachment_and_its_file(app, client, berlin_owner, db):
    room = create_room(client)
    upload(client, room, "slides.pptx", b"PK slides")
    attachment = Attachment.get(Attachment.room == room)
    response = client.post(f"/rooms/{room.id}/attachments/{attachment.id}/delete")
    assert response.status_code == 303
    assert "“slides.pptx” removed." in text_of(client.get(response.headers["Location"]))
    assert Attachment.select().count() == 0
    assert stored_files(app) == []


def test_someone_elses_attachment_is_404(app, client, auth, db):
    make_user(email="alice@example.com")
    auth.sign_in(email="alice@example.com")
    room = create_room(client)
    upload(client, room, "private.pdf", b"%PDF secret")
    attachment = Attachment.get(Attachment.room == room)
    auth.sign_out()

    make_user(email="bob@example.com")
    auth.sign_in(email="bob@example.com")
    url = f"/rooms/{room.id}/attachments/{attachment.id}"
    assert client.get(url).status_code == 404
    assert client.post(f"{url}/delete").status_code == 404
    assert upload(client, room, "mine.pdf", b"%PDF bob").status_code == 404
    assert Attachment.select().count() == 1

    auth.sign_out()
    assert client.get(url).status_code == 302  # signed out: to the sign-in page


def test_concurrent_uploads_stop_at_the_limit(app, client, berlin_owner, db):
    room = create_room(client)
    for n in range(rooms_views.MAX_ATTACHMENTS_PER_ROOM - 2):
        Attachment.create(room=room, filename=f"{n}.pdf", stored_name=f"old-{n}.pdf",
                          content_type="application/pdf", size=1)
    cookie = f"session={client.get_cookie('session').value}"
    uploads = 8
    ready = threading.Barrier(uploads)

    def upload_one(port, n):
        # A few MB: writing the file takes a while, as it does for real slides.
        body, content_type = multipart(f'filename="doc-{n}.pdf"', b"%PDF-1.7 " + b"x" * 2**22)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ready.wait()
        try:
            conn.request("POST", f"/rooms/{room.id}/attachments", body=body,
                         headers={"Content-Type": content_type, "Cookie": cookie})
            return conn.getresponse().status
        finally:
            conn.close()

    with LiveServer(app) as server, ThreadPoolExecutor(uploads) as pool:
        statuses = list(pool.map(lambda n: upload_one(server.port, n), range(uploads)))
    assert statuses == [303] * uploads
    assert Attachment.select().where(Attachment.room == room).count() \
        == rooms_views.MAX_ATTACHMENTS_PER_ROOM
    assert len(stored_files(app)) == 2  # the refused uploads left no file behind
    refused = upload(client, room, "one-more.pdf", b"%PDF-1.7")
    assert "A room can have at most 20 attachments." in text_of(
        client.get(refused.headers["Location"]))
