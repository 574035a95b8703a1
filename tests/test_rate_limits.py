"""Rate limits (Flask-Limiter, on the default database:// storage): lobby submissions per IP
and per link, email-match tries per invitation, sign-in. The 429 page is in the product's style
and says when to try again."""


import pytest
from helpers import invitation_path, link_path, make_room, make_user, text_of

from portal import create_app, tokens
from portal.extensions import limiter
from portal.models import GuestLink, Invitation, RateLimitCounter
from portal.ratelimit import DatabaseStorage


@pytest.fixture
def config(config):
    return {**config, "RATELIMIT_ENABLED": True, "LOBBY_LIMIT_PER_IP": "3 per minute",
            "LOBBY_LIMIT_PER_LINK": "5 per minute", "EMAIL_MATCH_LIMIT": "2 per 10 minutes"}


@pytest.fixture
def room(db):
    return make_room(title="Launch", guest_access_enabled=True)


def assert_429(response):
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in text_of(response)
    assert "Guestgate" in text_of(response)  # the product's page, not a bare error


def test_lobby_submissions_per_ip(app, room):
    link = GuestLink.create(room=room, name="Guests")
    url = link_path(app, link)
    for i in range(3):
        guest = app.test_client()
        assert guest.post(url, data={"name": "A", "email": f"a{i}@example.com"}).status_code \
            == 303
    assert_429(app.test_client().post(url, data={"name": "A", "email": "z@example.com"}))
    # Opening the link isn't limited, however often, from the same address.
    assert [app.test_client().get(url).status_code for _ in range(10)] == [200] * 10
    assert GuestLink.get_by_id(link.id).uses == 3


def test_lobby_submissions_per_link_across_addresses(app, room):
    link = GuestLink.create(room=room, name="Guests")
    url = link_path(app, link)
    codes = []
    for i in range(6):
        guest = app.test_client()
        codes.append(guest.post(url, data={"name": "A", "email": f"a{i}@example.com"},
                                environ_base={"REMOTE_ADDR": f"10.0.0.{i + 1}"}).status_code)
    assert codes == [303] * 5 + [429]


def test_email_match_tries_per_invitation(app, room):
    user = make_user("ada@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email)
    url = invitation_path(app, invitation)
    for i in range(2):
        wrong = app.test_client().post(url, data={"name": "Eve", "email": "eve@example.com"},
                                       environ_base={"REMOTE_ADDR": f"10.0.1.{i + 1}"})
        assert wrong.status_code == 403
    blocked = app.test_client().post(url, data={"name": "Ada", "email": "ada@example.com"},
                                     environ_base={"REMOTE_ADDR": "10.0.1.9"})
    assert_429(blocked)


def test_sign_in_is_limited(app, room):
    client = app.test_client()
    codes = [client.post("/sign-in", data={"email": "x@example.com", "password": "wrong"})
             .status_code for _ in range(11)]
    assert codes[:10] == [401] * 10
    assert_429(client.post("/sign-in", data={"email": "x@example.com", "password": "wrong"}))


def test_sign_in_limits_count_account_and_address_together(config, db):
    """One address trying one account is slowed; that doesn't lock anyone else out, nor the same
    account from elsewhere (issue 12: one client could lock every owner out)."""
    app = create_app({**config, "SIGN_IN_LIMIT": "3 per minute"})
    make_user("alice@example.com")

    def sign_in(email, address):
        return app.test_client().post("/sign-in", data={"email": email, "password": "wrong"},
                                      environ_base={"REMOTE_ADDR": address})

    assert [sign_in("alice@example.com", "10.0.5.1").status_code for _ in range(3)] == [401] * 3
    assert_429(sign_in("Alice@example.com ", "10.0.5.1"))  # the same account, however typed
    assert sign_in("bob@example.com", "10.0.5.1").status_code == 401
    assert sign_in("alice@example.com", "10.0.5.2").status_code == 401


def test_one_account_cannot_be_guessed_from_many_addresses(config, db):
    app = create_app({**config, "SIGN_IN_LIMIT_PER_ACCOUNT": "3 per hour"})
    codes = [app.test_client().post("/sign-in", data={"email": "alice@example.com",
                                                      "password": "wrong"},
                                    environ_base={"REMOTE_ADDR": f"10.0.6.{n}"}).status_code
             for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_one_address_cannot_try_every_account(config, db):
    app = create_app({**config, "SIGN_IN_LIMIT_PER_ADDRESS": "3 per hour"})
    client = app.test_client()
    codes = [client.post("/sign-in", data={"email": f"user{n}@example.com",
                                           "password": "wrong"}).status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_counters_live_in_the_database_by_default(app, room):
    # The default storage is database:// (portal/ratelimit.py); the tests above ran on it.
    assert app.config["RATELIMIT_STORAGE_URI"] == "database://"
    assert isinstance(limiter.storage, DatabaseStorage)
    # One wrong password: one row for each of the four sign-in limits (10/min and 50/h for
    # the account from this address, the account, the address).
    app.test_client().post("/sign-in", data={"email": "x@example.com", "password": "wrong"})
    assert RateLimitCounter.select().where(RateLimitCounter.count == 1).count() == 4


def respelled(token: str, n: int) -> str:
    """The same token with characters itsdangerous's lenient base64 would skip."""
    value, _, signature = token.rpartition(".")
    return f"{value}.{signature[:2]}{'!' * (n + 1)}{signature[2:]}"


def test_respelling_a_token_neither_opens_it_nor_escapes_the_email_limit(app, room):
    """Security review, finding 3: each new spelling of the link used to get its own counter
    (12 wrong emails, never a 429) and still let the right email in."""
    user = make_user("ada@example.com", access="guest")
    invitation = Invitation.create(room=room, user=user, email=user.email)
    token = tokens.make_token(app.config["SECRET_KEYS"], tokens.INVITE, invitation.id, 1)
    codes = []
    for i in range(4):
        response = app.test_client().post(f"/i/{respelled(token, i)}",
                                          data={"name": "Eve", "email": "eve@example.com"},
                                          environ_base={"REMOTE_ADDR": f"10.0.2.{i + 1}"})
        codes.append(response.status_code)
        assert "This link isn't valid" in text_of(response)
    assert codes == [404] * 4
    right = app.test_client().post(f"/i/{respelled(token, 9)}",
                                   data={"name": "Ada", "email": "ada@example.com"},
                                   environ_base={"REMOTE_ADDR": "10.0.2.9"})
    assert right.status_code == 404  # a respelled link lets nobody in
    # The limit counts the invitation itself: 2 wrong emails on the real link, then 429.
    for i in range(2):
        assert app.test_client().post(f"/i/{token}", data={"name": "Eve",
                                                           "email": "eve@example.com"},
                                      environ_base={"REMOTE_ADDR": f"10.0.3.{i}"}
                                      ).status_code == 403
    assert_429(app.test_client().post(f"/i/{token}", data={"name": "Ada",
                                                           "email": "ada@example.com"},
                                      environ_base={"REMOTE_ADDR": "10.0.3.9"}))


# --- The 429 page says how long, in the guest's language (issue 32, item 5) -----------------------

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def retry_after(response) -> int:
    assert response.status_code == 429
    return int(response.headers["Retry-After"])


def test_the_429_page_says_how_many_seconds(app, room):
    url = link_path(app, GuestLink.create(room=room, name="Guests"))
    for i in range(3):
        app.test_client().post(url, data={"name": "A", "email": f"a{i}@example.com"})
    english = app.test_client().post(url, data={"name": "A", "email": "z@example.com"})
    seconds = retry_after(english)
    assert 0 < seconds <= 60  # "3 per minute"
    assert f"Try again in {seconds} seconds." in text_of(english)
    assert "Wait a moment" not in text_of(english)
    german = app.test_client().post(url, data={"name": "A", "email": "z@example.com"},
                                    headers=GERMAN)
    assert "Zu viele Versuche" in text_of(german)
    assert f"Versuchen Sie es in {retry_after(german)} Sekunden erneut." in text_of(german)


def test_the_429_page_says_minutes_when_the_wait_is_long(app, room):
    user = make_user("ada@example.com", access="guest")
    url = invitation_path(app, Invitation.create(room=room, user=user, email=user.email))
    for i in range(2):  # "2 per 10 minutes"
        app.test_client().post(url, data={"name": "Eve", "email": "eve@example.com"},
                               environ_base={"REMOTE_ADDR": f"10.0.4.{i + 1}"})
    english = app.test_client().post(url, data={"name": "Ada", "email": "ada@example.com"},
                                     environ_base={"REMOTE_ADDR": "10.0.4.9"})
    seconds = retry_after(english)
    assert 540 < seconds <= 600
    assert "Try again in 10 minutes." in text_of(english)  # rounded up: never too early
    german = app.test_client().post(url, data={"name": "Ada", "email": "ada@example.com"},
                                    environ_base={"REMOTE_ADDR": "10.0.4.9"}, headers=GERMAN)
    assert 540 < retry_after(german) <= 600
    assert "Versuchen Sie es in 10 Minuten erneut." in text_of(german)


@pytest.mark.parametrize(("seconds", "english", "german"), [
    (1, "Try again in 1 second.", "Versuchen Sie es in 1 Sekunde erneut."),
    (59, "Try again in 59 seconds.", "Versuchen Sie es in 59 Sekunden erneut."),
    (90, "Try again in 90 seconds.", "Versuchen Sie es in 90 Sekunden erneut."),
    (91, "Try again in 2 minutes.", "Versuchen Sie es in 2 Minuten erneut."),
    (3540, "Try again in 59 minutes.", "Versuchen Sie es in 59 Minuten erneut."),
    (5400, "Try again in 90 minutes.", "Versuchen Sie es in 90 Minuten erneut."),
    (5401, "Try again in 2 hours.", "Versuchen Sie es in 2 Stunden erneut."),
    (86400, "Try again in 24 hours.", "Versuchen Sie es in 24 Stunden erneut."),
])
def test_the_wait_in_words(app, seconds, english, german):
    from portal.security import try_again_in

    for language, words in (("en", english), ("de", german)):
        with app.test_request_context(headers={"Accept-Language": language}):
            assert try_again_in(seconds) == words


def test_a_429_without_a_limit_says_the_header_s_time(app):
    """A 429 that isn't Flask-Limiter's (abort(429) with a Retry-After) says that time too."""
    from werkzeug.exceptions import TooManyRequests

    @app.get("/test-busy")
    def busy():
        raise TooManyRequests(retry_after=120)

    response = app.test_client().get("/test-busy", headers=GERMAN)
    assert retry_after(response) == 120
    assert "Versuchen Sie es in 2 Minuten erneut." in text_of(response)
