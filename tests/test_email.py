"""Invitation emails through a real SMTP server (aiosmtpd on 127.0.0.1): what arrives, the link
inside it, the calendar file; a server that is down or hangs; one connection for bulk sends; the
outbox folder when no server is configured."""

import email
import re
import socket
import threading
import time
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from helpers import HTMX, PASSWORD, invitation, invite, make_room, make_user, text_of

from portal import mail
from portal.models import Invitation, Room

MAIL_TIMEOUT = 1.5


class Recorder:
    def __init__(self):
        self.envelopes = []
        self.peers = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.peers.append(session.peer)
        return "250 Message accepted for delivery"

    def messages(self):
        return [email.message_from_bytes(e.content, policy=policy.default)
                for e in self.envelopes]


class SMTPServer:
    """aiosmtpd on a port picked in advance (port 0 doesn't work with its Controller)."""

    def __init__(self, port):
        self.port = port
        self.handler = Recorder()
        self.controller = None

    def start(self):
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mail_settings(mail_settings):
    return {**mail_settings, "MAIL_TIMEOUT": MAIL_TIMEOUT}


@pytest.fixture
def config(config, mail_settings):
    # Flask-Mail reads MAIL_* once, in create_app: they must be in the app's config from the start.
    return {**config, **mail_settings}


def body_of(message, subtype):
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content()


def calendar_of(message):
    for part in message.iter_attachments():
        if part.get_content_type() == "text/calendar":
            return part
    raise AssertionError("no calendar attachment")


def test_invitation_email_arrives_with_a_working_link_and_calendar(app, client, signed_in_owner,
                                                                   smtp, db):
    room = make_room(signed_in_owner, title="Launch; Q&A, live", starts_in=timedelta(hours=3),
                     description="Line one\nLine two")
    response = invite(client, room, "ada@example.com", role="speaker", send_now=True,
                      htmx=True)
    assert "Emailed 1 guest" in text_of(response)
    assert "No email server is configured" not in text_of(response)
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["ada@example.com"]
    [message] = smtp.messages()
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "You're invited: Launch; Q&A, live"
    text = body_of(message, "plain")
    html = body_of(message, "html")
    assert "don't share it" in text and "don't share it" in html
    assert "speaker" in text
    url = re.search(r"http://guestgate\.test/i/\S+", text).group(0)
    assert url in html
    # The link in the email opens the lobby (a new browser).
    lobby = app.test_client().get(url.removeprefix("http://guestgate.test"))
    assert lobby.status_code == 200 and "Launch; Q&amp;A, live" in lobby.get_data(as_text=True)
    # The calendar file: RFC 5545, CRLF lines, UTC times matching the room, escaped text.
    part = calendar_of(message)
    assert part.get_filename() == "invitation.ics"
    assert part.get_content_type() == "text/calendar"
    raw = part.get_payload(decode=True).decode("utf-8")
    assert raw.startswith("BEGIN:VCALENDAR\r\n") and raw.endswith("END:VCALENDAR\r\n")
    assert "\n" not in raw.replace("\r\n", "")
    unfolded = raw.replace("\r\n ", "")
    lines = unfolded.split("\r\n")
    assert "BEGIN:VEVENT" in lines and "END:VEVENT" in lines and "VERSION:2.0" in lines
    room = Room.get_by_id(room.id)
    assert f"DTSTART:{room.starts_at:%Y%m%dT%H%M%S}Z" in lines
    assert f"DTEND:{room.ends_at:%Y%m%dT%H%M%S}Z" in lines
    assert "SUMMARY:Launch\\; Q&A\\, live" in lines
    assert any(line.startswith("UID:") and "@guestgate.test" in line for line in lines)
    assert any(re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", line) for line in lines)
    assert any(line.startswith("DESCRIPTION:Line one\\nLine two") for line in lines)
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    inv = invitation(room, "ada@example.com")
    assert inv.email_status == "sent" and inv.email_error == ""


def test_room_title_and_name_never_inject_headers(app, client, signed_in_owner, smtp, db):
    signed_in_owner.name = "Eve\r\nBcc: victim@example.org"
    signed_in_owner.save()
    room = make_room(signed_in_owner, title="Hi\r\nBcc: victim@example.org\nX-Evil: 1")
    invite(client, room, "ada@example.com", send_now=True)
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["ada@example.com"]
    [message] = smtp.messages()
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "You're invited: Hi Bcc: victim@example.org X-Evil: 1"


def test_bulk_send_uses_one_connection(app, client, signed_in_owner, smtp, db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com, b@example.com, c@example.com")
    assert smtp.envelopes == []  # added now, emailed later
    response = client.post(f"/rooms/{room.id}/invitations/email-all", headers=HTMX)
    assert "Emailed 3 guests" in text_of(response)
    assert sorted(r for e in smtp.envelopes for r in e.rcpt_tos) == [
        "a@example.com", "b@example.com", "c@example.com"]
    assert len(set(smtp.peers)) == 1
    assert {i.email_status for i in Invitation.select()} == {"sent"}


def test_smtp_down_then_back(app, client, signed_in_owner, smtp_port, db):
    room = make_room(signed_in_owner)
    response = invite(client, room, "ada@example.com", send_now=True, htmx=True)
    assert response.status_code == 200
    page = text_of(response)
    assert "Couldn't send the email to 1 guest" in page and "Email failed:" in page
    inv = invitation(room, "ada@example.com")
    assert inv.email_status == "failed" and inv.email_error
    assert inv.removed_at is None  # the invitation is kept
    # Plain form: no 500 either.
    response = client.post(f"/rooms/{room.id}/invitations/{inv.id}/email")
    assert response.status_code == 303
    assert "Couldn't send" in text_of(client.get(response.headers["Location"]))
    server = SMTPServer(smtp_port).start()
    try:
        response = client.post(f"/rooms/{room.id}/invitations/{inv.id}/email", headers=HTMX)
        assert "Emailed 1 guest" in text_of(response)
        assert len(server.handler.envelopes) == 1
    finally:
        server.stop()
    inv = invitation(room, "ada@example.com")
    assert inv.email_status == "sent" and inv.email_error == ""


@pytest.fixture
def hanging_server(smtp_port):
    """Accepts the TCP connection, then never says a word."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", smtp_port))
    listener.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield accepted
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def test_hanging_server_times_out_and_is_marked_failed(app, client, signed_in_owner,
                                                       hanging_server, db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com, b@example.com")
    started = time.monotonic()
    response = client.post(f"/rooms/{room.id}/invitations/email-all", headers=HTMX)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert MAIL_TIMEOUT * 0.9 <= elapsed < MAIL_TIMEOUT + 2  # one connection, one timeout
    assert "didn't answer within 1.5 s" in text_of(response)
    assert len(hanging_server) == 1
    assert {(i.email_status, "didn't answer" in i.email_error)
            for i in Invitation.select()} == {("failed", True)}


@pytest.mark.parametrize("mail_settings", [{"MAIL_SERVER": None}])
def test_outbox_when_no_server_is_configured(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "No email server is configured" in page
    response = invite(client, room, "a@example.com, b@example.com", send_now=True, htmx=True)
    assert "saved to the outbox folder" in text_of(response)
    files = sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    assert len(files) == 2
    messages = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(m["To"] for m in messages) == ["a@example.com", "b@example.com"]
    assert all(calendar_of(m) for m in messages)


def test_calendar_text_is_escaped_folded_and_free_of_control_characters(app):
    with app.app_context():
        raw = mail.icalendar_event(uid="u@guestgate.test", title="a\\b;c,d\r\ne\x07",
                                   starts_at=datetime(2030, 1, 1, 10),
                                   ends_at=datetime(2030, 1, 1, 11), description="é" * 60)
    lines = raw.replace("\r\n ", "").split("\r\n")
    assert "SUMMARY:a\\\\b\\;c\\,d\\ne" in lines
    assert "DESCRIPTION:" + "é" * 60 in lines
    assert all(len(line.encode()) <= 75 for line in raw.split("\r\n"))
    assert "DTSTART:20300101T100000Z" in lines and "DTEND:20300101T110000Z" in lines


def test_header_safe_removes_line_breaks_and_control_characters():
    assert mail.header_safe("a\r\nb\x00c\u2028d") == "a b c d"


class Refusing(Recorder):
    """A server that answers 554: to RCPT for addresses at refused.example, to DATA for mail to
    spam.example; everything else is accepted."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@refused.example"):
            return "554 5.7.1 Relay access denied"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope, *args):
        if any(r.endswith("@spam.example") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam"
        return await super().handle_DATA(server, session, envelope)


def test_refusing_server_marks_each_refused_invitation_failed(app, client, signed_in_owner,
                                                              smtp_port, db):
    server = SMTPServer(smtp_port)
    server.handler = Refusing()
    server.start()
    try:
        room = make_room(signed_in_owner)
        response = invite(client, room, "a@refused.example, b@spam.example, c@example.com",
                          send_now=True, htmx=True)
        assert response.status_code == 200
        page = text_of(response)
        assert "Emailed 1 guest" in page and "Couldn't send the email to 2 guests" in page
        # The same connection carried on after each refusal: the good one arrived.
        assert [e.rcpt_tos for e in server.handler.envelopes] == [["c@example.com"]]
    finally:
        server.stop()
    refused = invitation(room, "a@refused.example")
    assert refused.email_status == "failed" and "554" in refused.email_error
    assert "Relay access denied" in refused.email_error
    spam = invitation(room, "b@spam.example")
    assert spam.email_status == "failed" and "554" in spam.email_error
    assert "rejected as spam" in spam.email_error
    assert invitation(room, "c@example.com").email_status == "sent"
    # Plain form, one of them again: still no 500, still kept.
    response = client.post(f"/rooms/{room.id}/invitations/{refused.id}/email")
    assert response.status_code == 303
    assert invitation(room, "a@refused.example").removed_at is None


def test_password_reset_email_arrives_after_the_answer(app, client, owner, smtp, db):
    response = client.post("/forgot-password", data={"email": "Owner@Example.com"})
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
    mail.wait_for_background(app)
    [message] = smtp.messages()
    assert message["To"] == "owner@example.com"
    assert message["Subject"] == "Reset your Guestgate password"
    assert re.search(r"http://guestgate\.test/reset-password/\S+", body_of(message, "plain"))


def test_the_forgot_password_answer_never_waits_for_the_mail_server(app, client, owner,
                                                                     hanging_server, db, caplog):
    """An answer that waited for sending would take longer for an existing account than for
    anyone else, and so tell who has one: it is given while the server still hasn't replied."""
    response = client.post("/forgot-password", data={"email": "owner@example.com"})
    assert response.status_code == 303
    [sending] = app.extensions["guestgate_background_mail"]
    assert sending.is_alive()  # answered; the email is still on its way to the silent server
    unknown = client.post("/forgot-password", data={"email": "nobody@example.com"})
    assert unknown.status_code == 303 and unknown.headers["Location"] == "/sign-in"
    mail.wait_for_background(app)
    assert not sending.is_alive()
    assert len(hanging_server) == 1  # one connection: nothing was sent for nobody@
    assert "password reset email not sent" in caplog.text


def text_of_html(html: str) -> str:
    from werkzeug.wrappers import Response

    return text_of(Response(html))


def wrong_password(app, address, email="owner@example.com"):
    return app.test_client().post("/sign-in", data={"email": email, "password": "wrong"},
                                  environ_base={"REMOTE_ADDR": address})


def test_repeated_failed_sign_ins_warn_the_owner_once(config, smtp, db):
    """Security review 3, item 4: the owner hears of repeated wrong passwords — how many, from
    how many addresses, when, and what to do — in one email per period, however many more come
    (so the warning can't be turned into spam)."""
    from babel.dates import format_date

    from portal import create_app
    from portal.timeutil import to_local, utcnow

    app = create_app({**config, "RATELIMIT_ENABLED": True, "SIGN_IN_WARNING": "4 per day"})
    make_user(timezone="Europe/Berlin")
    for address in ("10.0.50.1", "10.0.50.2", "10.0.50.1"):
        assert wrong_password(app, address).status_code == 401
    mail.wait_for_background(app)
    assert smtp.envelopes == []  # three: not yet
    assert wrong_password(app, "10.0.50.3").status_code == 401
    for n in range(6):  # more, from more addresses: no second email
        assert wrong_password(app, f"10.0.51.{n}").status_code == 401
    for n in range(5):  # an address with no account gets nobody an email
        wrong_password(app, f"10.0.52.{n}", "nobody@example.com")
    mail.wait_for_background(app)
    [envelope] = smtp.envelopes
    assert envelope.rcpt_tos == ["owner@example.com"]
    [message] = smtp.messages()
    assert message["Subject"] == "Failed sign-ins to your Guestgate account"
    today = format_date(to_local(utcnow(), "Europe/Berlin").date(), "medium", locale="en")
    for text in (body_of(message, "plain"), text_of_html(body_of(message, "html"))):
        assert "Someone tried to sign in to your Guestgate account owner@example.com with a " \
            "wrong password 4 times" in text
        assert "from 3 different network addresses" in text
        assert today in text and "(Europe/Berlin)" in text
        assert "http://guestgate.test/forgot-password" in text
        assert "choose a new password" in text
        assert "at most once within 1 day" in text
    # The owner's right password still works (this browser never failed).
    owner = app.test_client()
    assert owner.post("/sign-in", data={"email": "owner@example.com",
                                        "password": PASSWORD}).status_code == 303


def test_the_failed_sign_in_warning_speaks_the_sites_language(config, smtp, db):
    from portal import create_app

    app = create_app({**config, "RATELIMIT_ENABLED": True, "SIGN_IN_WARNING": "2 per day",
                      "BABEL_DEFAULT_LOCALE": "de"})
    make_user()
    for address in ("10.0.53.1", "10.0.53.1"):
        wrong_password(app, address)
    mail.wait_for_background(app)
    [message] = smtp.messages()
    assert message["Subject"] == "Fehlgeschlagene Anmeldungen bei Ihrem Guestgate-Konto"
    text = body_of(message, "plain")
    assert "von einer Netzwerkadresse" in text
    assert "http://guestgate.test/forgot-password" in text
