"""Invitations from a CSV file (/rooms/ID/invitations/import), emails through a real SMTP server
(aiosmtpd): the preview says which rows are new, already invited, invalid, outside the domain
rules or over the room's limit; Send all invites the new ones and emails them. A bad file —
wrong columns, too large, not UTF-8, a formula cell, an address twice — is refused with what
to fix, and nothing of it is imported."""

import io
import json
import re

import pytest
from helpers import OwnerActions, make_room, text_of
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from portal.models import AuditEvent, DomainRule, Invitation, User
from portal.services import invitation_import


@pytest.fixture
def config(config, mail_settings):
    return {**config, **mail_settings,
            "MAX_INVITATIONS_PER_ROOM": 5}


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Board meeting")


def upload(client, room, content, filename="guests.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    # Encoded in memory: the test client would spool a large body to a file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename)})
    return client.post(f"/rooms/{room.id}/invitations/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def carried_rows(response):
    """The Send all form's hidden rows, as the browser would send them back."""
    found = re.search(r'name="rows"[^>]*value="([^"]*)"', response.get_data(as_text=True))
    assert found, text_of(response)
    return found.group(1).replace("&#34;", '"').replace("&quot;", '"')


def kinds(response):
    html = response.get_data(as_text=True)
    return re.findall(r'data-import-kind="(\w+)"', html)


def test_preview_then_send_all(app, client, signed_in_owner, smtp, room):
    OwnerActions(client).invite(room, "old@example.com")
    DomainRule.create(domain="rival.example", mode="block")
    page = client.get(f"/rooms/{room.id}/access")  # the view with the invitations
    assert "Import guests from a CSV file" in text_of(page)
    assert client.get(f"/rooms/{room.id}/invitations/import").status_code == 302

    # Semicolons and columns in any order, as spreadsheets save them.
    response = upload(client, room, "\ufeffName;Email;Role\n"
                                    "Ada Lovelace;ADA@example.com;speaker\n"
                                    "Old Friend;old@example.com;viewer\n"
                                    "Nobody;not-an-email;viewer\n"
                                    "Eve;eve@rival.example;\n"
                                    "Max;max@example.com;admin\n"
                                    "\n"
                                    "Grace;grace@example.com;\n"
                                    "Bob;bob@example.com;moderator\n"
                                    "Cy;cy@example.com;viewer\n"
                                    "Dee;dee@example.com;viewer\n")
    assert response.status_code == 200
    text = text_of(response)
    # The limit is 5 and old@ holds one: four new fit, the fifth doesn't.
    assert kinds(response) == ["new", "already", "invalid", "blocked", "invalid", "new", "new",
                               "new", "over_limit"]
    assert "4 new, 1 already invited, 2 invalid, 1 outside the domain rules, " \
           "1 over the limit of 5 invitations a room (4 free)" in text
    assert "use viewer, moderator or speaker" in text
    assert Invitation.select().count() == 1 and len(smtp.envelopes) == 0  # nothing yet

    response = client.post(f"/rooms/{room.id}/invitations/import/send",
                           data={"rows": carried_rows(response)})
    assert response.status_code == 303
    text = text_of(client.get(response.headers["Location"]))
    assert "Invited 4 from the file" in text and "Emailed 4 their personal link." in text
    live = {i.email: i.role for i in Invitation.select().where(Invitation.removed_at.is_null())}
    assert live == {"old@example.com": "viewer", "ada@example.com": "speaker",
                    "grace@example.com": "viewer", "bob@example.com": "moderator",
                    "cy@example.com": "viewer"}
    assert sorted(m["To"] for m in smtp.messages()) == [
        "ada@example.com", "bob@example.com", "cy@example.com", "grace@example.com"]
    assert all(i.email_status == "sent" for i in Invitation.select()
               if i.email != "old@example.com")
    assert User.get(User.email == "ada@example.com").name == "Ada Lovelace"
    assert AuditEvent.select().where(AuditEvent.action == "invited").count() == 5

    # Sent again (a second click, or the back button): already invited, nothing twice.
    response = client.post(f"/rooms/{room.id}/invitations/import/send",
                           data={"rows": json.dumps([["ada@example.com", "Ada", "speaker"]])})
    assert "Not invited (changed since the preview): ada@example.com (already invited" \
        in text_of(client.get(response.headers["Location"]))
    assert len(smtp.envelopes) == 4


@pytest.mark.parametrize("content, says", [
    ("mail,name\nada@example.com,Ada\n", "must name the columns email, name, role"),
    ("email,name,role,notes\nada@example.com,Ada,viewer,hi\n",
     "must name the columns email, name, role"),
    ("", "The file is empty"),
    ("email,name,role\n", "has its header but no guests"),
    ("email,name\nada@example.com,Ada\nbob@example.com,=HYPERLINK(\"x\")\n",
     "line 3 has a cell starting with “=”"),
    ("email,name\nada@example.com,@SUM(A1)\n", "starting with “@”"),
    ("email,name\nada@example.com,Ada\nbob@example.com,Bob\nADA@Example.com,Ada again\n",
     "an address appears twice — ada@example.com (lines 2 and 4)"),
    ("email,name\nada@example.com,Ada,extra\n", "line 2 has 3 cells, the header 2"),
    ("email,name\nzoë@example.com,Zoë\n".encode("latin-1"), "isn't UTF-8"),
], ids=["wrong-columns", "extra-column", "empty", "no-rows", "formula", "at-formula",
        "duplicates", "ragged", "latin-1"])
def test_a_bad_file_is_refused_whole(app, client, signed_in_owner, smtp, room, content, says):
    response = upload(client, room, content)
    assert response.status_code == 422
    assert says in text_of(response)
    assert "Send all" not in text_of(response)
    assert not Invitation.select().exists() and smtp.envelopes == []


def test_a_file_over_ten_megabytes_is_refused(app, client, signed_in_owner, smtp, room):
    big = "email,name\n" + "ada@example.com,Ada\n" + "x" * invitation_import.MAX_BYTES
    response = upload(client, room, big)
    assert response.status_code == 422
    assert "larger than 10 MB" in text_of(response)
    assert not Invitation.select().exists()


def test_no_file_and_an_edited_send_are_refused(app, client, signed_in_owner, smtp, room):
    response = client.post(f"/rooms/{room.id}/invitations/import", data={},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file" in text_of(response)
    for rows in ("", "not json", json.dumps([["a@example.com"]]),
                 json.dumps([["a@example.com", "A", "viewer"]] * 6)):
        response = client.post(f"/rooms/{room.id}/invitations/import/send", data={"rows": rows})
        assert response.status_code == 422 and "upload the file again" in text_of(response)
    assert not Invitation.select().exists()


def test_only_the_rooms_owner_imports(app, client, signed_in_owner, smtp, room):
    from helpers import make_user

    make_user("other@example.com", access="broadcaster")
    OwnerActions(client).sign_out()
    OwnerActions(client).sign_in("other@example.com")
    assert client.get(f"/rooms/{room.id}/invitations/import").status_code == 404
    assert upload(client, room, "email\nada@example.com\n").status_code == 404
    assert client.post(f"/rooms/{room.id}/invitations/import/send", data={
        "rows": json.dumps([["ada@example.com", "", "viewer"]])}).status_code == 404
    assert not Invitation.select().exists()
