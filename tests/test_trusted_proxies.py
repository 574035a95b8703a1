"""Behind a reverse proxy every request comes from the proxy's address. With TRUSTED_PROXIES
set to the number of proxy hops, the limits see the real client (X-Forwarded-For, as the proxy
appended it); without it, a client can't pick its own bucket by sending the header."""

import pytest
from helpers import link_path, make_room

from portal import create_app
from portal.models import GuestLink

PROXY = "10.9.9.9"


@pytest.fixture
def config(config):
    return {**config, "RATELIMIT_ENABLED": True, "LOBBY_LIMIT_PER_IP": "2 per minute",
            "LOBBY_LIMIT_PER_LINK": "100 per minute", "TRUSTED_PROXIES": 1}


@pytest.fixture
def lobby(app, db):
    room = make_room(title="Launch", guest_access_enabled=True)
    return link_path(app, GuestLink.create(room=room, name="Guests"))


def enter(app, lobby, forwarded_for: str, n: int) -> int:
    return app.test_client().post(
        lobby, data={"name": "G", "email": f"g{n}@example.com"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": PROXY}).status_code


def test_clients_behind_the_proxy_have_buckets_of_their_own(app, lobby):
    assert [enter(app, lobby, "198.51.100.1", n) for n in range(3)] == [303, 303, 429]
    # Another client behind the same proxy isn't refused for the first one's tries.
    assert [enter(app, lobby, "198.51.100.2", n) for n in range(3, 5)] == [303, 303]


def test_a_client_cannot_escape_its_bucket_by_sending_its_own_header(app, lobby):
    # The proxy appends the address it saw; a made-up value in front of it is not believed.
    codes = [enter(app, lobby, f"203.0.113.{n}, 198.51.100.7", n) for n in range(3)]
    assert codes == [303, 303, 429]


@pytest.mark.parametrize("hops", [0])
def test_without_trusted_proxies_the_header_is_ignored(config, lobby, hops):
    app = create_app({**config, "TRUSTED_PROXIES": hops})
    codes = [enter(app, lobby, f"198.51.100.{n}", n) for n in range(3)]
    assert codes == [303, 303, 429]  # all three are the proxy's address


def test_trusted_proxies_must_be_a_number_of_hops(monkeypatch, tmp_path):
    from portal import config as settings

    monkeypatch.setenv("TRUSTED_PROXIES", "yes")
    with pytest.raises(ValueError, match="TRUSTED_PROXIES must be a whole number"):
        settings.from_environment(tmp_path)
