"""Live news for guest pages: "look now", through a push server (nginx's nchan module,
deploy/nginx.conf), so a page learns of a change within a second instead of at its next poll.

The message says nothing but which kind of news it is; the page then asks its existing status
poll (portal/poll.py), and that one decision answers what changed: one rule, two ways to wake
it. A room's channel carries what concerns every guest of the room (Admit all, the host's
message, the room's times or access, its start, its deletion); a guest's own channel what
concerns that one presence (admitted, denied, removed, moved, a new role, left). A guest page
subscribes to both at once (nchan multiplexes them on one EventSource).

Channel ids are HMACs of the room (or presence) with the app's secret key: a page is given its
own, and nobody can derive another room's from it. nchan checks nothing itself (no
nchan_authorize_request): asking the app for each of 10,000 subscriptions, and again on every
reconnection, would be the very load push is here to avoid, and an id nobody can guess is as
good a key.

Publishing happens after the transaction commits (a page woken earlier would ask, see the old
state, and sleep until its next poll), in a thread of this process with a short timeout: the
host's request never waits on the push server, and a failed publish only means pages learn at
their next poll. Without PUSH_PUBLISH_URL (make run's embedded default) nothing is published,
pages subscribe to nothing and keep polling as ever."""

import hashlib
import hmac
import http.client
import logging
import os
import queue
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app

from . import timeutil
from .db import database

log = logging.getLogger(__name__)

ROOM, GUEST = "room", "guest"  # the two kinds of news, and what a message's body starts with
_PUBLISHER = "guestgate_push_publisher"  # app.extensions key


def enabled(config) -> bool:
    return bool(config.get("PUSH_PUBLISH_URL") and config.get("PUSH_SUBSCRIBE_PATH"))


def _channel(config, kind: str, number: int) -> str:
    """128 bits of HMAC-SHA256 with the secret key: unguessable, and the same on every host."""
    key = config["SECRET_KEY"].encode()
    return hmac.new(key, f"guestgate-push:{kind}:{number}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def room_channel(config, room_id: int) -> str:
    return _channel(config, ROOM, room_id)


def guest_channel(config, participant_id: int) -> str:
    return _channel(config, GUEST, participant_id)


def subscribe_url(config, room_id: int, participant_id: int) -> str | None:
    """What a guest page connects to (its EventSource), or None without push. The page is
    also told when it was made (portal/guest/room.py), so news from before it is no news."""
    if not enabled(config):
        return None
    path = config["PUSH_SUBSCRIBE_PATH"].rstrip("/")
    return f"{path}/{room_channel(config, room_id)}/{guest_channel(config, participant_id)}"


# --- publishing ---------------------------------------------------------------------------------

def room_news(room_id: int) -> None:
    """Every page of the room should look now (once the caller's transaction commits)."""
    _after_commit(ROOM, room_id)


def guest_news(participant_ids) -> None:
    """These guests' pages should look now (once the caller's transaction commits)."""
    for participant_id in participant_ids:
        _after_commit(GUEST, participant_id)


def _after_commit(kind: str, number: int) -> None:
    app = current_app._get_current_object()
    if not enabled(app.config):
        return
    channel = _channel(app.config, kind, number)
    # peewee runs this at once outside a transaction, after the outermost commit inside one,
    # and never when it rolls back.
    database.after_commit(lambda: publisher(app).send(channel, kind))


class Publisher:
    """One thread a process, POSTing "look now" to the push server's publisher location. The
    queue is bounded: when the push server is down, waiting news is dropped, not hoarded."""

    def __init__(self, url: str, timeout: float):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.path = parts.path.rstrip("/")
        self.timeout = timeout
        self.queue: queue.Queue = queue.Queue(maxsize=10_000)
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, name="push-publisher", daemon=True)
        self.thread.start()

    def send(self, channel: str, kind: str) -> None:
        # The time it was published at, by this host's clock: a page made after it already
        # shows what it announces, and ignores it (static/app.js).
        try:
            self.queue.put_nowait((channel, f"{kind} {int(time.time() * 1000)}"))
        except queue.Full:
            log.warning("push: queue full, a message dropped (pages learn at their next poll)")

    def flush(self, timeout: float = 5) -> None:
        """Wait until everything queued was sent or given up (tests)."""
        end = time.monotonic() + timeout
        while self.queue.unfinished_tasks and time.monotonic() < end:
            time.sleep(0.01)

    def _run(self) -> None:
        self.connection = None
        while True:
            channel, body = self.queue.get()
            try:
                self._post(channel, body)
            except Exception as exc:  # noqa: BLE001 — pages learn at their next poll
                log.warning("push: publish failed: %s", exc)
            finally:
                self.queue.task_done()

    def _post(self, channel: str, body: str) -> None:
        """One publish on the kept connection; once more on a new one if the push server had
        closed the kept one meanwhile (nginx closes idle connections after keepalive_timeout:
        the request then meets a closed socket)."""
        for attempt in (1, 2):
            reused = self.connection is not None
            self.connection = self.connection or http.client.HTTPConnection(
                self.host, self.port, timeout=self.timeout)
            try:
                self.connection.request("POST", f"{self.path}/{channel}", body=body.encode(),
                                        headers={"Content-Type": "text/plain"})
                answer = self.connection.getresponse()
                answer.read()
            except (http.client.RemoteDisconnected, ConnectionError) as exc:
                self.connection.close()
                self.connection = None
                if reused and attempt == 1:
                    continue
                raise exc
            except Exception:
                self.connection.close()
                self.connection = None
                raise
            if answer.status >= 300:
                log.warning("push: publish answered %s", answer.status)
            return


_lock = threading.Lock()


def publisher(app) -> Publisher:
    """This process's publisher, started on first use (after gunicorn forked the worker)."""
    found = app.extensions.get(_PUBLISHER)
    if found is None or found.pid != os.getpid():
        with _lock:
            found = app.extensions.get(_PUBLISHER)
            if found is None or found.pid != os.getpid():
                found = app.extensions[_PUBLISHER] = Publisher(
                    app.config["PUSH_PUBLISH_URL"], app.config["PUSH_PUBLISH_TIMEOUT_SECONDS"])
    return found


# --- the start, announced once ------------------------------------------------------------------

_LAST_LOOK = "guestgate_push_last_look"  # app.extensions key: when this process last looked
START_LOOKBACK = timedelta(minutes=5)  # at a process's start: a room that began just before


def announce_starts(now=None) -> int:
    """Tell the rooms whose start came since this process last looked, each once across every
    worker and host (a StartAnnounced row is the claim): their countdown pages then ask,
    spread over PUSH_SPREAD_SECONDS, instead of each counting down to the same second.
    Returns how many were announced."""
    from .models import Room, StartAnnounced

    app = current_app._get_current_object()
    if not enabled(app.config):
        return 0
    now = now or timeutil.utcnow()
    since = (app.extensions.get(_LAST_LOOK) or now - START_LOOKBACK) - timedelta(seconds=5)
    told = 0
    for room_id, starts_at in (Room.live().select(Room.id, Room.starts_at)
                               .where((Room.starts_at > since) & (Room.starts_at <= now))
                               .tuples()):
        with database.atomic():
            claimed = list(StartAnnounced.insert(room=room_id, starts_at=starts_at)
                           .on_conflict_ignore().returning(StartAnnounced.id).execute())
            if claimed:
                room_news(room_id)
                told += 1
    app.extensions[_LAST_LOOK] = now
    return told
