"""Forgot password: a timed link by email that works once, for an hour; the same answer whether
or not the account exists; rate-limited."""

import email
import re
import time
from email import policy
from pathlib import Path

import itsdangerous.timed
import pytest
from helpers import PASSWORD, text_of

from portal import auth as auth_module
from portal import create_app, mail, passwords, tokens
from portal.models import User

NEW_PASSWORD = "a brand new passphrase"


def outbox(app):
    mail.wait_for_background(app)  # reset emails are sent after the answer
    files = sorted(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    return [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]


def reset_link(app, message) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    url = re.search(r"http://guestgate\.test(/reset-password/\S+)", text)
    return url.group(1)


def ask(client, address):
    return client.post("/forgot-password", data={"email": address})


def test_sign_in_page_links_to_forgot_password(client):
    html = client.get("/sign-in").get_data(as_text=True)
    assert 'href="/forgot-password"' in html and "Forgot password?" in html
    assert client.get("/forgot-password").status_code == 200


def test_same_answer_whether_or_not_the_account_exists(app, client, owner):
    pages = []
    for address in ("Owner@Example.com", "nobody@example.com"):
        response = ask(client, address)
        assert response.status_code == 303 and response.headers["Location"] == "/sign-in"
        pages.append(text_of(client.get("/sign-in")))
    assert pages[0] == pages[1]
    assert "If an account exists for that address" in pages[0]
    messages = outbox(app)
    assert [m["To"] for m in messages] == ["owner@example.com"]
    assert messages[0]["Subject"] == "Reset your Guestgate password"


def test_reset_works_once(app, client, owner, db):
    ask(client, "owner@example.com")
    path = reset_link(app, outbox(app)[0])
    page = client.get(path)
    assert page.status_code == 200 and "owner@example.com" in text_of(page)
    short = client.post(path, data={"password": "short", "confirm": "short"})
    assert short.status_code == 422 and "Use at least 10 characters." in text_of(short)
    mismatch = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert mismatch.status_code == 422 and "don't match" in text_of(mismatch)
    done = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303
    assert "Your password was changed" in text_of(client.get("/", follow_redirects=True))
    # Used: the link is dead, the old password too; the new one works.
    again = app.test_client().get(path)
    assert again.status_code == 410 and "already been used" in text_of(again)
    other = app.test_client()
    assert other.post("/sign-in", data={"email": "owner@example.com",
                                        "password": PASSWORD}).status_code == 401
    assert other.post("/sign-in", data={"email": "owner@example.com",
                                        "password": NEW_PASSWORD}).status_code == 303
    assert User.get(User.email == "owner@example.com").password_version == 2


def test_older_link_dies_when_the_password_changes(app, client, owner, db):
    ask(client, "owner@example.com")
    ask(client, "owner@example.com")
    first, second = (reset_link(app, m) for m in outbox(app))
    client.post(second, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert app.test_client().get(first).status_code == 410


def test_changing_the_password_ends_every_other_session(app, client, signed_in_owner, db):
    laptop = app.test_client()
    laptop.set_cookie("session", client.get_cookie("session").value)
    assert laptop.get("/rooms/").status_code == 200
    phone = app.test_client()
    ask(phone, "owner@example.com")
    phone.post(reset_link(app, outbox(app)[0]),
               data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert phone.get("/rooms/").status_code == 200  # where it was changed: signed in
    for browser in (client, laptop):
        assert browser.get("/rooms/").status_code == 302


def test_a_link_signed_with_a_retired_key_opens_nothing(config, owner, db):
    """Whoever holds a retired key can sign reset links with it: they must not open accounts."""
    forged = tokens.timed_dumps([config["SECRET_KEY"]], tokens.RESET_SALT,
                                [owner.id, owner.password_version])
    rotated = create_app({**config, "SECRET_KEY": "a-brand-new-key",
                          "SECRET_KEYS": ["a-brand-new-key", config["SECRET_KEY"]]})
    browser = rotated.test_client()
    response = browser.get(f"/reset-password/{forged}")
    assert response.status_code == 404 and "This link isn't valid" in text_of(response)
    response = browser.post(f"/reset-password/{forged}",
                            data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 404
    assert User.get_by_id(owner.id).password_version == 1
    assert browser.get("/rooms/").status_code == 302


def test_expired_and_garbled_links(app, client, owner, db, monkeypatch):
    user = User.get(User.email == "owner@example.com")
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp",
                        lambda self: int(time.time()) - auth_module.RESET_MAX_AGE - 5)
    with app.test_request_context():
        url = auth_module.reset_url(user)
    monkeypatch.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", real)
    response = client.get(url.removeprefix("http://guestgate.test"))
    assert response.status_code == 410 and "This link has expired" in text_of(response)
    response = client.get("/reset-password/not-a-token")
    assert response.status_code == 404 and "This link isn't valid" in text_of(response)
    assert client.post("/reset-password/not-a-token",
                       data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code \
        == 404


def test_invited_guest_chooses_a_password_and_sees_my_sessions(app, client, signed_in_owner,
                                                                db):
    from helpers import invite, make_room

    room = make_room(signed_in_owner, title="Round-table")
    invite(client, room, "ada@example.com")
    guest = app.test_client()
    ask(guest, "ada@example.com")
    path = reset_link(app, outbox(app)[-1])
    guest.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    page = text_of(guest.get("/", follow_redirects=True))
    assert "My sessions" in page and "Round-table" in page


def test_invited_guest_without_a_password_sets_one_through_forgot_password(app, client,
                                                                          signed_in_owner, db):
    from helpers import invite, make_room

    invite(client, make_room(signed_in_owner), "grace@example.com")
    assert User.get(User.email == "grace@example.com").password_hash == passwords.UNUSABLE
    guest = app.test_client()
    refused = guest.post("/sign-in", data={"email": "grace@example.com",
                                           "password": passwords.UNUSABLE})
    assert refused.status_code == 401
    ask(guest, "grace@example.com")
    path = reset_link(app, outbox(app)[-1])
    assert "grace@example.com" in text_of(guest.get(path))
    done = guest.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303
    other = app.test_client()
    assert other.post("/sign-in", data={"email": "grace@example.com",
                                        "password": NEW_PASSWORD}).status_code == 303
    assert "My sessions" in text_of(other.get("/", follow_redirects=True))


class TestRateLimit:
    @pytest.fixture
    def config(self, config):
        return {**config, "RATELIMIT_ENABLED": True}

    def test_forgot_password_is_rate_limited(self, app, client, owner):
        statuses = [ask(client, f"n{i}@example.com").status_code for i in range(6)]
        assert statuses[:5] == [303] * 5 and statuses[5] == 429

    def test_one_address_is_not_mail_bombed(self, app, owner):
        statuses = []
        for i in range(6):
            other = app.test_client()
            statuses.append(other.post("/forgot-password", data={"email": "owner@example.com"},
                                       environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).status_code)
        assert statuses == [303] * 5 + [429]
        assert len(outbox(app)) == 5


class TestRateLimitSettings:
    """The limits are settings (portal/config.py), as the sign-in limits are."""

    @pytest.fixture
    def config(self, config):
        return {**config, "RATELIMIT_ENABLED": True, "FORGOT_PASSWORD_LIMIT": "2 per hour",
                "FORGOT_PASSWORD_LIMIT_PER_ACCOUNT": "1 per hour",
                "RESET_PASSWORD_LIMIT": "1 per hour"}

    def test_forgot_password_limits_follow_their_settings(self, app, client, owner):
        assert [ask(client, f"n{i}@example.com").status_code for i in range(3)] == \
            [303, 303, 429]
        statuses = [app.test_client().post("/forgot-password", data={"email": "owner@example.com"},
                                           environ_base={"REMOTE_ADDR": f"10.0.1.{i}"}).status_code
                    for i in range(2)]
        assert statuses == [303, 429]
        # One reset email, and only one: sent after the answer, so waited for here (a thread
        # still sending when the next test's database is set up could bring the worker down).
        assert len(outbox(app)) == 1

    def test_choosing_a_new_password_follows_its_setting(self, app, client, owner):
        choose = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        statuses = [client.post("/reset-password/not-a-token", data=choose).status_code
                    for _ in range(2)]
        assert statuses[1] == 429 and statuses[0] != 429
