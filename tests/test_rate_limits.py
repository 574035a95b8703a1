"""Rate limits (Flask-Limiter, on the default database:// storage): lobby submissions per IP
and per link, email-match tries per invitation, sign-in. The 429 page is in the product's style
and says when to try again."""


import pytest
from helpers import PASSWORD, invitation_path, link_path, make_room, make_user, text_of

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
    # the account from this address, the account, the address), and three for the owner's
    # warning (the account's wrong passwords, this address's, the addresses seen).
    app.test_client().post("/sign-in", data={"email": "x@example.com", "password": "wrong"})
    assert RateLimitCounter.select().where(RateLimitCounter.count == 1).count() == 4 + 3
    # The right password keeps no hit of the limits that count wrong passwords: only the
    # address's limit (every attempt) is counted again.
    make_user("ada@example.com")
    app.test_client().post("/sign-in", data={"email": "ada@example.com", "password": PASSWORD})
    counts = {c.key: c.count for c in RateLimitCounter.select()}
    assert sorted(n for key, n in counts.items() if "ada@example.com" in key) == [0, 0, 0]
    assert [n for key, n in counts.items() if key.startswith("LIMITER/127.0.0.1/")] == [2]


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


# --- issue 25: limits that can't be escaped by re-spelling, nor turned against others -----------

def browser(app, address):
    """A browser of its own (its own cookies) at a client address of its own."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def sign_in(client, email="owner@example.com", password="wrong"):
    return client.post("/sign-in", data={"email": email, "password": password})


# The same account, spelled as the account lookup reads it (emails.normalize): full-width
# letters and the ideographic and full-width full stops map to ASCII.
RESPELLED = ("owner@examｐｌe.com", "OWNER@EXAMPLE。COM", "owner@example．com")


def test_respelling_the_address_escapes_no_sign_in_limit(config, db):
    """Security review 3, item 2: the limits counted the typed text, the lookup the normalised
    address: 120 wrong passwords, then the right one typed `owner@examｐｌe.com` signed in."""
    app = create_app({**config, "SIGN_IN_LIMIT": "3 per minute"})
    make_user()
    client = browser(app, "10.0.20.1")
    assert [sign_in(client).status_code for _ in range(3)] == [401] * 3
    for spelling in RESPELLED:
        assert_429(sign_in(client, spelling, PASSWORD))
    assert client.get("/rooms/").status_code == 302  # nobody signed in


def test_respelling_the_address_escapes_no_account_limit(config, db):
    app = create_app({**config, "SIGN_IN_LIMIT_PER_ACCOUNT": "3 per hour"})
    make_user()
    spellings = ["owner@example.com", *RESPELLED]
    codes = [sign_in(browser(app, f"10.0.21.{n}"), spelling).status_code
             for n, spelling in enumerate(spellings[:3])]
    assert codes == [401] * 3
    # A browser that never signed in to the account, with the right password: the account's
    # limit holds whatever the spelling (no free guess for a new client either).
    for n, spelling in enumerate(spellings):
        assert_429(sign_in(browser(app, f"10.0.22.{n}"), spelling, PASSWORD))


def test_respelling_the_address_escapes_no_forgot_password_limit(app, db):
    make_user()
    codes = [browser(app, f"10.0.23.{n}").post("/forgot-password",
                                               data={"email": "owner@example.com"}).status_code
             for n in range(5)]
    assert codes == [303] * 5
    for n, spelling in enumerate(RESPELLED):
        assert_429(browser(app, f"10.0.24.{n}").post("/forgot-password",
                                                     data={"email": spelling}))


def test_invalid_lobby_submissions_cannot_close_a_link_for_everyone(app, room):
    """Security review 3, item 3: empty lobby posts from 10 addresses counted against the link
    and made a real guest's entry 429, minute after minute. The link counts what can hurt
    (guests let in); each client's own limit counts everything it sends."""
    link = GuestLink.create(room=room, name="Guests")
    url = link_path(app, link)
    for n in range(10):
        abuser = browser(app, f"10.0.30.{n}")
        codes = [abuser.post(url, data={}).status_code for _ in range(3)]
        assert codes == [422] * 3
        assert_429(abuser.post(url, data={}))  # the abusive client itself is limited
        assert_429(abuser.post(url, data={"name": "A", "email": "a@example.com"}))
    guest = browser(app, "10.0.31.1")
    entered = guest.post(url, data={"name": "Ada", "email": "ada@example.com"})
    assert entered.status_code == 303 and entered.headers["Location"] == f"/s/{room.id}"
    # The link's limit still counts real entries: 5 a minute (4 more guests, then 429).
    codes = [browser(app, f"10.0.32.{n}").post(url, data={"name": "G",
                                                          "email": f"g{n}@example.com"})
             .status_code for n in range(5)]
    assert codes == [303] * 4 + [429]
    assert GuestLink.get_by_id(link.id).uses == 5


def test_wrong_emails_on_an_invitation_count_for_the_link_too(config, db):
    """Failed email matches can hurt (they guess the invited address): they count against the
    invitation's lobby limit as well as its email-match limit."""
    app = create_app({**config, "RATELIMIT_ENABLED": True, "LOBBY_LIMIT_PER_LINK": "2 per minute",
                      "EMAIL_MATCH_LIMIT": "10 per 10 minutes"})
    user = make_user("ada@example.com", access="guest")
    room = make_room(title="Launch", guest_access_enabled=True, require_email_match=True)
    url = invitation_path(app, Invitation.create(room=room, user=user, email=user.email))
    wrong = [browser(app, f"10.0.33.{n}").post(url, data={"name": "Eve",
                                                          "email": "eve@example.com"})
             for n in range(2)]
    assert [r.status_code for r in wrong] == [403, 403]
    assert_429(browser(app, "10.0.33.9").post(url, data={"name": "Ada",
                                                         "email": "ada@example.com"}))


def test_other_clients_failures_never_lock_the_owner_out(config, db):
    """Security review 3, item 4: 2 addresses x 10 wrong passwords made the owner's right
    password 429 for an hour. The account's limit counts wrong passwords, and refuses only
    browsers that never signed in to the account (OWASP's device cookie): the owner's own
    browser still signs in, from anywhere — the attackers' office NAT included."""
    app = create_app({**config, "SIGN_IN_LIMIT_PER_ACCOUNT": "20 per hour"})
    make_user()
    laptop = browser(app, "10.0.40.1")
    assert sign_in(laptop, password=PASSWORD).status_code == 303
    laptop.post("/sign-out")
    attackers = [browser(app, "10.0.40.1"), browser(app, "10.0.40.2")]  # one shares the NAT
    codes = [sign_in(attacker).status_code for attacker in attackers for _ in range(10)]
    assert codes == [401] * 20
    # The attackers are limited: their own address's limit (10 a minute), and the account's (20
    # wrong passwords) for any browser that never signed in to it, whatever the password: no
    # free guess for a new address.
    assert_429(sign_in(attackers[0]))
    for n in range(3):
        assert_429(sign_in(browser(app, f"10.0.41.{n}"), password=PASSWORD))
    # The owner's browser signs in, at the attacker's address too.
    signed_in = sign_in(laptop, password=PASSWORD)
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/"
    assert laptop.get("/rooms/").status_code == 200


def test_a_trusted_browser_has_limits_of_its_own(config, db):
    """A browser that signed in before isn't held by the account's limit, but its own wrong
    passwords are limited (SIGN_IN_LIMIT, per browser); its trust names one account only, and
    only as signed."""
    app = create_app({**config, "SIGN_IN_LIMIT": "3 per minute",
                      "SIGN_IN_LIMIT_PER_ACCOUNT": "3 per hour"})
    make_user()
    make_user("other@example.com")
    laptop = browser(app, "10.0.42.1")
    assert sign_in(laptop, password=PASSWORD).status_code == 303
    for account in ("owner@example.com", "other@example.com"):  # both held for strangers
        for n in range(3):
            assert sign_in(browser(app, f"10.0.43.{n}"), account).status_code == 401
    # A copied device cookie, altered: nobody's.
    forger = browser(app, "10.0.44.1")
    cookie = laptop.get_cookie("guestgate_device", path="/sign-in")
    forger.set_cookie("guestgate_device", cookie.value[:-2] + "xx", path="/sign-in")
    assert_429(sign_in(forger, password=PASSWORD))
    # Trusted for owner@ only: other@ is held for this browser as for anyone.
    assert_429(sign_in(laptop, "other@example.com", PASSWORD))
    # Its own wrong passwords for owner@: 3 a minute, then it waits too.
    assert [sign_in(laptop).status_code for _ in range(3)] == [401] * 3
    assert_429(sign_in(laptop, password=PASSWORD))


def test_a_new_password_ends_the_trust_of_every_other_browser(config, db):
    """After a password change, browsers that signed in with the old one are strangers again:
    a lost laptop doesn't keep its way past the account's limit."""
    from portal.models import User

    app = create_app({**config, "SIGN_IN_LIMIT_PER_ACCOUNT": "2 per hour"})
    make_user()
    laptop = browser(app, "10.0.45.1")
    assert sign_in(laptop, password=PASSWORD).status_code == 303
    User.update(password_version=User.password_version + 1).execute()
    for n in range(2):
        assert sign_in(browser(app, f"10.0.46.{n}")).status_code == 401
    assert_429(sign_in(laptop, password=PASSWORD))
