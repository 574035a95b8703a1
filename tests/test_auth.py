"""Owner accounts: signing in and out, Argon2 passwords, access levels, the admin's user screen."""

import pytest
from helpers import CSRF, PASSWORD, OwnerActions, make_user, text_of

from portal.models import AuditEvent, Room, User

WRONG = "That email and password don't match an account."


def test_sign_in_lands_on_the_rooms_and_sign_out_ends_the_session(client, owner, auth):
    response = auth.sign_in()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert "Rooms" in text_of(client.get("/", follow_redirects=True))

    response = auth.sign_out()
    assert response.status_code == 303
    assert "You're signed out." in text_of(client.get(response.headers["Location"]))
    response = client.get("/rooms/")
    assert response.status_code == 302
    assert "/sign-in" in response.headers["Location"]


def test_sign_in_accepts_the_email_in_any_case_and_follows_a_safe_next(client, owner):
    response = client.post("/sign-in?next=/rooms/new",
                           data={"email": "  Owner@Example.COM ", "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/rooms/new"


def test_sign_in_never_redirects_to_another_site(client, owner):
    response = client.post("/sign-in?next=//evil.example/x",
                           data={"email": "owner@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_wrong_password_shows_an_error_and_starts_no_session(client, owner, auth):
    response = auth.sign_in(password="not the password")
    assert response.status_code == 401
    assert WRONG in text_of(response)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    assert client.get("/rooms/").status_code == 302  # still signed out


def test_unknown_account_gets_the_same_message(client, owner, auth):
    response = auth.sign_in(email="nobody@example.com")
    assert response.status_code == 401
    assert WRONG in text_of(response)


def test_empty_form_asks_for_email_and_password(client):
    response = client.post("/sign-in", data={"email": "", "password": ""})
    assert response.status_code == 401
    assert "Enter your email and password." in text_of(response)


def test_passwords_are_stored_as_argon2id_hashes(app, owner, db):
    stored = User.get_by_id(owner.id).password_hash
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_the_browser_time_zone_is_saved_at_sign_in(client, owner, db):
    client.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD,
                                  "timezone": "Europe/Berlin"})
    assert User.get_by_id(owner.id).timezone == "Europe/Berlin"
    client.post("/sign-out")
    client.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD,
                                  "timezone": "Not/AZone"})
    assert User.get_by_id(owner.id).timezone == "Europe/Berlin"  # nonsense is ignored


def test_session_cookie_is_httponly_and_samesite_lax(client, owner, auth):
    response = auth.sign_in()
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_the_trusted_browser_cookie_goes_to_the_sign_in_page_only(client, owner, auth):
    """A successful sign-in marks the browser trusted with the account (its limits:
    portal/sign_in_limits.py); the cookie is no script's, sent to /sign-in alone, for a year. A
    wrong password sets none."""
    assert not any(c.startswith("guestgate_device=") for c in client.post(
        "/sign-in", data={"email": "owner@example.com", "password": "wrong"}
    ).headers.getlist("Set-Cookie"))
    response = auth.sign_in()
    cookie = next(c for c in response.headers.getlist("Set-Cookie")
                  if c.startswith("guestgate_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/sign-in" in cookie
    assert "Max-Age=31536000" in cookie and "Secure" not in cookie  # http:// BASE_URL here


def test_a_guest_account_sees_no_owner_screens(client, auth, app):
    make_user(email="guest@example.com", access="guest")
    auth.sign_in(email="guest@example.com")
    for url in ("/rooms/", "/rooms/new", "/admin/users"):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "You don't have access to this page" in text_of(response)
    assert client.post("/rooms/new", data={"title": "Sneaky"}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for url in ("/rooms/", "/rooms/new", "/admin/users"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/sign-in")


def test_a_broadcaster_cannot_manage_users(client, owner, auth):
    auth.sign_in()
    assert client.get("/admin/users").status_code == 403
    response = client.post("/admin/users", data={"email": "new@example.com",
                                                 "access": "admin", "password": "x" * 12})
    assert response.status_code == 403
    assert User.select().where(User.email == "new@example.com").count() == 0


class TestAdminAddsUsers:
    def sign_in_admin(self, auth):
        make_user(email="admin@example.com", access="admin")
        auth.sign_in(email="admin@example.com")

    def test_admin_adds_a_broadcaster_who_can_then_sign_in(self, client, auth, db):
        self.sign_in_admin(auth)
        assert "Add a user" in text_of(client.get("/admin/users"))
        response = client.post("/admin/users", data={
            "email": "New.Host@Example.com", "name": "New Host", "access": "broadcaster",
            "password": "a long enough password"})
        assert response.status_code == 303
        page = text_of(client.get(response.headers["Location"]))
        assert "new.host@example.com added with broadcaster access." in page
        user = User.get(User.email == "new.host@example.com")
        assert user.access == "broadcaster" and user.name == "New Host"
        assert user.password_hash.startswith("$argon2id$")
        # In the organisation's audit log: who added whom, with which access.
        log = text_of(client.get("/admin/audit?action=user_added"))
        assert "Added a user" in log and "new.host@example.com" in log
        assert "admin@example.com" in log and "broadcaster" in log
        assert AuditEvent.get(AuditEvent.action == "user_added").room is None

        auth.sign_out()
        assert auth.sign_in(email="new.host@example.com",
                            password="a long enough password").status_code == 303
        assert client.get("/rooms/").status_code == 200

    def test_short_password_is_refused(self, client, auth, db):
        self.sign_in_admin(auth)
        response = client.post("/admin/users", data={
            "email": "short@example.com", "access": "broadcaster", "password": "short"})
        assert response.status_code == 422
        assert "Use at least 10 characters." in text_of(response)
        assert User.select().where(User.email == "short@example.com").count() == 0

    def test_duplicate_email_is_refused(self, client, auth, owner, db):
        self.sign_in_admin(auth)
        response = client.post("/admin/users", data={
            "email": "OWNER@example.com", "access": "broadcaster",
            "password": "a long enough password"})
        assert response.status_code == 422
        assert "An account with this email already exists." in text_of(response)
        assert User.select().count() == 2

    def test_invalid_email_is_refused(self, client, auth, db):
        self.sign_in_admin(auth)
        response = client.post("/admin/users", data={
            "email": "not-an-email", "access": "broadcaster",
            "password": "a long enough password"})
        assert response.status_code == 422
        assert "Enter a valid email address" in text_of(response)


def test_sign_in_never_redirects_to_another_site_through_odd_characters(client, owner):
    # Browsers drop tabs and newlines from a URL and read "\" as "/": each of these would lead
    # to evil.example (or, written into the Location header, to a 500).
    answers = {}
    for target in ("/%09/evil.example", "/%0a/evil.example", "/%0d/evil.example",
                   "/%5C/evil.example", "/%20/evil.example", "/%E2%80%A8/evil.example",
                   "/%7F/evil.example", "/%2F/evil.example", "https:/evil.example"):
        client.post("/sign-out")
        response = client.post(f"/sign-in?next={target}",
                               data={"email": "owner@example.com", "password": PASSWORD})
        answers[target] = (response.status_code, response.headers.get("Location"))
    assert answers == dict.fromkeys(answers, (303, "/"))



def test_an_htmx_poll_never_sends_sign_in_towards_another_site(client, owner):
    for here in ("/\t/evil.example", "/\\/evil.example", "//evil.example"):
        response = client.get("/rooms/", headers={
            "HX-Request": "true", "HX-Current-URL": "http://guestgate.test" + here})
        assert response.status_code == 401
        signed_in = client.post(response.headers["HX-Redirect"],
                                data={"email": "owner@example.com", "password": PASSWORD})
        assert signed_in.headers["Location"] == "/", here
        client.post("/sign-out")


# --- sessions end when they should ---------------------------------------------------------------

ROOM = {"title": "Town hall", "starts_at": "2031-01-15T10:00", "ends_at": "2031-01-15T11:00",
        "timezone": "UTC", "kind": "regular"}


def copy_of(app, client):
    """Another browser holding a copy of this one's session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_a_copy_of_the_cookie_taken_before_sign_out_opens_nothing_after(app, client, owner,
                                                                        auth, db):
    auth.sign_in()
    thief = copy_of(app, client)
    assert thief.post("/rooms/new", data=ROOM).status_code == 303
    auth.sign_out()
    response = thief.get("/rooms/")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert thief.post("/rooms/new", data=ROOM).status_code == 302
    assert Room.select().count() == 1
    assert auth.sign_in().status_code == 303  # signing in again works
    assert client.get("/rooms/").status_code == 200


class TestSignInStartsAFreshSession:
    @pytest.fixture
    def config(self, config):
        return {**config, "WTF_CSRF_ENABLED": True}

    def test_nothing_planted_before_sign_in_is_kept(self, client, owner, db):
        # Someone who handed this browser a session of theirs knows its form token and device.
        token = CSRF.search(client.get("/sign-in").get_data(as_text=True)).group(1)
        with client.session_transaction() as session:
            session["device"] = "planted-device"
        signed_in = client.post("/sign-in", data={"email": "owner@example.com",
                                                  "password": PASSWORD, "csrf_token": token})
        assert signed_in.status_code == 303
        response = client.post("/rooms/new", data={**ROOM, "csrf_token": token})
        assert response.status_code == 400 and "This form has expired" in text_of(response)
        assert Room.select().count() == 0
        with client.session_transaction() as session:
            assert session.get("device") != "planted-device"
        fresh = CSRF.search(client.get("/rooms/new").get_data(as_text=True)).group(1)
        assert client.post("/rooms/new", data={**ROOM, "csrf_token": fresh}).status_code == 303


class TestAdminSignsAUserOutEverywhere:
    def test_every_session_of_the_user_ends_and_the_log_says_who_did_it(self, app, client, auth,
                                                                       owner, db):
        host, laptop = app.test_client(), app.test_client()
        for browser in (host, laptop):
            OwnerActions(browser).sign_in()
        make_user(email="admin@example.com", access="admin")
        auth.sign_in(email="admin@example.com")
        assert "Sign out everywhere" in text_of(client.get("/admin/users"))

        response = client.post(f"/admin/users/{owner.id}/sign-out")
        assert response.status_code == 303
        page = text_of(client.get(response.headers["Location"]))
        assert "owner@example.com is signed out everywhere." in page
        for browser in (host, laptop):
            assert browser.get("/rooms/").status_code == 302
        event = AuditEvent.get(AuditEvent.action == "user_signed_out")
        assert event.target == "owner@example.com" and event.actor_email == "admin@example.com"
        assert client.get("/admin/users").status_code == 200  # the admin's own session goes on
        assert OwnerActions(host).sign_in().status_code == 303
        assert host.get("/rooms/").status_code == 200

    def test_an_unknown_user_is_not_found(self, client, auth, db):
        make_user(email="admin@example.com", access="admin")
        auth.sign_in(email="admin@example.com")
        assert client.post("/admin/users/987654/sign-out").status_code == 404
        assert AuditEvent.select().count() == 0
