"""Live news for guest pages (portal/push.py): what is published, when, and to which channel;
and that without push settings nothing changes. A small HTTP server stands in for nchan's
publisher location here; tests/browser/test_push_browser.py and tests/test_two_hosts.py use
the real one (nginx with nchan)."""

import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import GuestActions, free_port, link_path, make_room

from portal import push
from portal.audit import Actor
from portal.db import database
from portal.models import GuestLink, Participant
from portal.services import hosting
from portal.timeutil import utcnow

HOST = Actor(email="host@example.com")


class PushServer:
    """Records each publish: the channel, the body, and the guest's status as another
    connection sees it at that moment (committed or not)."""

    def __init__(self):
        self.port = free_port()
        self.seen = []
        self.watch = None  # a participant id whose status each publish records
        self.hold = None  # an Event: each publish waits for it (at most 10 s) before its answer
        self.held_until_released = []  # for each held publish: released (True) or timed out
        outer = self

        class Handler(BaseHTTPRequestHandler):
            # Kept alive as far as the client knows, but closed after each answer: as nginx
            # closes a connection left idle past its keepalive_timeout.
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.close_connection = True
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                status = None
                if outer.watch is not None:
                    status = Participant.get_by_id(outer.watch).status
                    if not database.is_closed():
                        database.close()
                outer.seen.append((self.path.rsplit("/", 1)[-1], body, status))
                if outer.hold is not None:
                    outer.held_until_released.append(outer.hold.wait(10))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kinds(self):
        return [(channel, body.split()[0]) for channel, body, _ in self.seen]


@pytest.fixture
def push_server():
    server = PushServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def config(config, push_server):
    return {**config, "PUSH_PUBLISH_URL": f"http://127.0.0.1:{push_server.port}/publish",
            "PUSH_SUBSCRIBE_PATH": "/push"}


def waiting_guest(app, email="ada@example.com"):
    room = make_room(title="Launch", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    guest = GuestActions(app)
    assert guest.enter(link_path(app, link), email=email).status_code == 303
    return room, guest, Participant.get(Participant.email == email)


def published(app):
    push.publisher(app).flush()


def test_admit_is_published_after_the_commit_and_never_on_rollback(app, db, push_server):
    room, _guest, ada = waiting_guest(app)
    push_server.watch = ada.id
    with app.app_context():
        with database.atomic():
            hosting.admit(room, [ada.id], HOST)
            time.sleep(0.3)  # a publish sent now would be seen, before the commit
            assert push_server.seen == []
        published(app)
        # Published once, to the guest's own channel, and the guest's page, asking then,
        # finds them admitted.
        assert push_server.seen == [
            (push.guest_channel(app.config, ada.id), push_server.seen[0][1], "admitted")]
        assert push_server.seen[0][1].startswith("guest ")

        push_server.seen.clear()
        with pytest.raises(RuntimeError), database.atomic():
            hosting.remove(room, Participant.get_by_id(ada.id), HOST)
            raise RuntimeError("the host's request failed after all")
        published(app)
        assert push_server.seen == []
        assert Participant.get_by_id(ada.id).status == "admitted"


def test_admit_all_is_one_message_to_the_room(app, db, push_server):
    room, _guest, ada = waiting_guest(app)
    with app.app_context():
        hosting.admit(room, None, HOST)
        published(app)
    assert push_server.kinds() == [(push.room_channel(app.config, room.id), "room")]


def test_a_page_subscribes_to_its_own_rooms_and_its_own_channel_only(app, db, config):
    room, guest, ada = waiting_guest(app)
    other, _, bob = waiting_guest(app, email="bob@example.com")
    page = guest.place(room).get_data(as_text=True)
    mine = push.subscribe_url(app.config, room.id, ada.id)
    assert mine == (f"/push/{push.room_channel(app.config, room.id)}"
                    f"/{push.guest_channel(app.config, ada.id)}")
    assert f'data-push-url="{mine}"' in page
    assert push.room_channel(app.config, other.id) not in page
    assert push.guest_channel(app.config, bob.id) not in page
    assert 'hx-trigger="every 5s, push"' in page
    # Channel ids are HMACs with the secret key: another key, other ids; 128 bits each.
    other_key = {**app.config, "SECRET_KEY": "another key"}
    assert push.room_channel(other_key, room.id) != push.room_channel(app.config, room.id)
    assert len(push.room_channel(app.config, room.id)) == 32
    assert push.room_channel(app.config, ada.id) != push.guest_channel(app.config, ada.id)


def test_the_start_is_announced_once_across_workers(app, db, push_server):
    room = make_room(title="Launch", starts_in=timedelta(seconds=-1))
    make_room(title="Later", starts_in=timedelta(hours=1))
    with app.app_context():
        assert push.announce_starts() == 1
        app.extensions.pop(push._LAST_LOOK)  # another worker, which never looked before
        assert push.announce_starts() == 0
        published(app)
    assert push_server.kinds() == [(push.room_channel(app.config, room.id), "room")]


def test_a_push_server_that_is_down_costs_the_host_nothing(app, db, push_server):
    room, _guest, ada = waiting_guest(app)
    push_server.server.shutdown()
    push_server.server.server_close()
    with app.app_context():
        assert hosting.admit(room, None, HOST)
        published(app)
    assert Participant.get_by_id(ada.id).status == "admitted"


def test_a_slow_push_server_never_holds_the_hosts_request(app, db, push_server):
    """The push server answers only once the host's Admit has returned: had the request waited
    for the publish, the server would have answered by its own 10 s limit instead."""
    room, _guest, ada = waiting_guest(app)
    app.config["PUSH_PUBLISH_TIMEOUT_SECONDS"] = 30  # the publisher waits for the server
    push_server.hold = threading.Event()
    with app.app_context():
        assert hosting.admit(room, None, HOST)
        push_server.hold.set()
        published(app)
    assert push_server.held_until_released == [True]
    assert Participant.get_by_id(ada.id).status == "admitted"


def test_a_connection_the_push_server_closed_meanwhile_is_opened_again(app, db, push_server):
    room, _guest, ada = waiting_guest(app)
    with app.app_context():
        hosting.admit(room, [ada.id], HOST)
        published(app)
        time.sleep(0.2)  # the server has closed the connection the publisher keeps
        hosting.remove(room, Participant.get_by_id(ada.id), HOST)
        published(app)
    assert [kind for _, kind in push_server.kinds()] == ["guest", "guest"]


class TestWithoutPush:
    @pytest.fixture
    def config(self, config):
        return {**config, "PUSH_PUBLISH_URL": "", "PUSH_SUBSCRIBE_PATH": ""}

    def test_pages_poll_as_before_and_nothing_is_published(self, app, db):
        room, guest, ada = waiting_guest(app)
        page = guest.place(room).get_data(as_text=True)
        assert "push-news" not in page and "/push/" not in page
        assert 'hx-trigger="every 5s"' in page
        with app.app_context():
            hosting.admit(room, None, HOST)
            assert push.announce_starts(utcnow()) == 0
        assert push._PUBLISHER not in app.extensions
