"""RATELIMIT_STORAGE_URI=redis://... on a real redis-server (started and stopped by the tests):
the limits count there, and when Redis stops the chosen behaviour holds — limits let go, every
page answers as usual, never a 500 — until it is back, when they count again at once. With
RATELIMIT_SWALLOW_ERRORS=false the guest gets the "briefly unavailable" page instead."""

import pytest
from helpers import link_path, make_room, text_of

from portal import create_app
from portal.models import GuestLink, Participant


@pytest.fixture
def config(config, redis_url):
    return {**config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": redis_url,
            "LOBBY_LIMIT_PER_IP": "3 per minute", "SIGN_IN_LIMIT": "3 per minute"}


@pytest.fixture
def lobby(app, db):
    room = make_room(title="Launch", guest_access_enabled=True)
    return link_path(app, GuestLink.create(room=room, name="Guests"))


def enter(app, lobby, n: int, address: str = "10.7.0.1"):
    return app.test_client().post(lobby, data={"name": "G", "email": f"g{n}@example.com"},
                                  environ_base={"REMOTE_ADDR": address})


def wrong_password(app, address: str = "10.7.0.1"):
    return app.test_client().post("/sign-in", data={"email": "x@example.com",
                                                    "password": "wrong"},
                                  environ_base={"REMOTE_ADDR": address})


def test_limits_count_in_redis(app, lobby, redis_server):
    assert [enter(app, lobby, n).status_code for n in range(4)] == [303, 303, 303, 429]
    assert [wrong_password(app).status_code for _ in range(4)] == [401, 401, 401, 429]
    # The lobby's and sign-in's counters are there, not in this process.
    assert len(redis_server.keys("LIMITS:*")) >= 2


def test_redis_down_lets_limits_go_and_back_they_count_again(app, lobby, redis_server):
    assert [enter(app, lobby, n).status_code for n in range(2)] == [303, 303]
    redis_server.stop()
    try:
        # Past the limit of 3, and every answer is the page a guest gets anyway.
        entered = [enter(app, lobby, n) for n in range(2, 8)]
        assert [r.status_code for r in entered] == [303] * 6
        assert wrong_password(app).status_code == 401
        garbled = app.test_client().post("/g/garbled", data={"name": "G", "email": "g@x.org"})
        assert garbled.status_code == 404 and "This link isn't valid" in text_of(garbled)
    finally:
        redis_server.start()
    assert Participant.select().count() == 8
    # Back: counted again from the first request (Redis restarted empty).
    codes = [enter(app, lobby, n, address="10.7.0.2").status_code for n in range(8, 12)]
    assert codes == [303, 303, 303, 429]


def test_refusing_while_redis_is_down_is_a_clear_page(config, lobby, redis_server):
    app = create_app({**config, "RATELIMIT_SWALLOW_ERRORS": False})
    redis_server.stop()
    try:
        response = enter(app, lobby, 1)
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Guestgate is briefly unavailable" in text_of(response)
    assert Participant.select().count() == 0
    assert enter(app, lobby, 2).status_code == 303


def test_limits_that_count_what_hurts_give_back_the_rest_in_redis(config, db, redis_server):
    """Issue 25: a link's limit keeps only guests let in, an account's only wrong passwords;
    other requests' hits are given back — in Redis too, where the window keeps its expiry."""
    from helpers import PASSWORD, make_user

    app = create_app({**config, "LOBBY_LIMIT_PER_LINK": "2 per minute",
                      "SIGN_IN_LIMIT_PER_ACCOUNT": "2 per hour"})
    room = make_room(title="Launch", guest_access_enabled=True)
    url = link_path(app, GuestLink.create(room=room, name="Guests"))
    empty = [app.test_client().post(url, data={}, environ_base={"REMOTE_ADDR": f"10.7.1.{n}"})
             .status_code for n in range(5)]
    assert empty == [422] * 5
    assert [enter(app, url, n, address=f"10.7.2.{n}").status_code for n in range(3)] \
        == [303, 303, 429]
    [link_key] = [k for k in redis_server.keys("LIMITS:*") if b"lobby:link:" in k]
    with redis_server._client() as client:
        assert 0 < client.ttl(link_key) <= 60

    make_user("alice@example.com")

    def sign_in(address, password):
        return app.test_client().post("/sign-in", data={"email": "alice@example.com",
                                                        "password": password},
                                      environ_base={"REMOTE_ADDR": address}).status_code

    assert [sign_in(f"10.7.3.{n}", PASSWORD) for n in range(3)] == [303] * 3
    assert [sign_in(f"10.7.4.{n}", "wrong") for n in range(2)] == [401] * 2
    assert sign_in("10.7.5.1", PASSWORD) == 429
