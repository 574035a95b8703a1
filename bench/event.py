"""The event scenario (run by bench/run.py, `make bench`): N guests, each a browser of its own,
arrive on a guest link and wait for the same session; then the same with a waiting room and the
host's Admit all. See bench/README.md ("The event").

Two scenarios on one gunicorn (the production settings; TRUSTED_PROXIES=1, each guest its own
X-Forwarded-For address; the per-address lobby limit as in production):

- **start**: the room starts later; every guest opens the link, submits the lobby, lands on the
  countdown page and polls as that page says (`every Ns`, and once just after the start:
  `load delay:`); at the start each page's poll says so, the page reloads and the guest is in.
- **admit all**: the room has started and guests wait to be admitted; they land on the waiting
  page and poll; the host opens the room page (its waiting list polls too) and clicks Admit all.

The simulated browser does what htmx does: a poll fires every N seconds from the page's load,
whatever the previous one is doing; a tick that comes while a poll is in flight is sent as soon
as it is answered (htmx's default queue, "last"), further ticks are dropped. An answer with
HX-Refresh reloads the page; the guest is inside when the page that loads is the room itself,
whose poll runs on at the interval that page is told (real room pages poll too, so a host's
Remove reaches the guest) until every guest is inside or has failed.

The load generator is raw asyncio streams (bench/client.fetch): one coroutine a guest, one
connection a request (Connection: close, as the route benchmark and real polling guests), no
library. It runs in this process beside the server on the same two cores, and its own CPU share
is reported next to the portal's."""

import asyncio
import contextlib
import html
import math
import os
import random
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from . import client
from .client import Failure

# What production pages are told (portal/config.py's defaults): the full run uses them.
PRODUCTION_POLL = {"POLL_WAITING_SECONDS": 5.0, "POLL_COUNTDOWN_SECONDS": 15.0,
                   "POLL_OWNER_SECONDS": 5.0, "POLL_COUNTDOWN_LONGEST_SECONDS": 60.0,
                   "START_SPREAD_SECONDS": 2.0}
# The host's browser sends no X-Forwarded-For, so it is 127.0.0.1 as when it signed in
# (Flask-Login's session protection compares the address).
HOST_ADDRESS = None
ATTEMPTS = 5  # a guest whose request fails to connect tries again (reloads), as a person would

_POLL = re.compile(r'<div data-status-poll[^>]*?hx-get="([^"]+)"[^>]*?hx-trigger="([^"]+)"')
_EVERY = re.compile(r"every ([0-9.]+)s")
_DELAY = re.compile(r"load delay:([0-9.]+)s")
# With push (the deploy configuration): the countdown's own check at the start, and the page's
# channels (templates/guest/_push.html)
_CHECK_AT = re.compile(r'data-check-at-start="([0-9.]+)"')
_PUSH = re.compile(r'id="push-news"[^>]*?data-push-url="([^"]+)" data-push-since="(\d+)" '
                   r'data-push-spread="([0-9.]+)" data-push-grace="([0-9.]+)"')
_OWNER_POLL = re.compile(r'id="waiting-room"[^>]*?hx-get="([^"]+)"')
_HEADER_CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


@dataclass
class EventPlan:
    guests: int
    poll: dict  # POLL_*_SECONDS the server is given
    concurrency: int  # guests arriving at the same moment (each one request at a time)
    lead_seconds: float  # from the end of the measured wait to the start / the click
    timeout_seconds: float  # after the start / the click, for every guest to be inside
    arrival_timeout_seconds: float  # for every guest to arrive: past it the scenario stops


def plan_for(quick: bool, guests: int | None, poll_scale: float | None) -> EventPlan:
    """Full: 10,000 guests at production's poll intervals. Quick: 200 guests, the intervals
    scaled by 0.2 so the suite's run stays short (the cost per guest-second is the same)."""
    scale = poll_scale if poll_scale is not None else (0.2 if quick else 1.0)
    poll = {k: round(v * scale, 3) for k, v in PRODUCTION_POLL.items()}
    return EventPlan(guests=guests or (200 if quick else 10_000), poll=poll,
                     concurrency=16 if quick else 64, lead_seconds=1.0 if quick else 3.0,
                     timeout_seconds=60.0 if quick else 300.0,
                     arrival_timeout_seconds=120.0 if quick else 600.0)


# --- CPU, from /proc ------------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (fields 14 and 15 of /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


def machine_busy_and_total() -> tuple[int, int]:
    """The whole machine's busy and total jiffies (/proc/stat): how shared it was meanwhile."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuWindow:
    """The portal's CPU share of the machine (1.0 = both cores) over a stretch of time, beside
    this load generator's and the whole machine's (colleagues' test runs included)."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def __enter__(self):
        self.wall = time.monotonic()
        self.portal = process_cpu_seconds(self.pids)
        self.client = time.process_time()
        self.machine = machine_busy_and_total()
        return self

    def __exit__(self, *exc):
        wall = time.monotonic() - self.wall
        cores = os.cpu_count() or 1
        busy, total = machine_busy_and_total()
        self.result = {
            "seconds": round(wall, 1),
            "portal_cpu_share": round((process_cpu_seconds(self.pids) - self.portal)
                                      / (wall * cores), 3),
            "generator_cpu_share": round((time.process_time() - self.client) / (wall * cores), 3),
            "machine_busy_share": round((busy - self.machine[0])
                                        / max(1, total - self.machine[1]), 3),
        }


# --- the crowd ------------------------------------------------------------------------------------

class Crowd:
    """What every request of a scenario answered."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.statuses: Counter = Counter()
        self.client_errors: Counter = Counter()
        self.requests_in_window = 0  # status polls answered while counting
        # Every page closes: set before the guests' tasks are cancelled. Cancelling alone isn't
        # enough: asyncio.wait_for (Python 3.11, client.fetch) can swallow a cancellation that
        # comes as its request completes, and that guest would poll on, and the scenario wait
        # for it, forever (the "stall" of earlier runs, bench/README.md).
        self.closing = False
        self.listening = 0  # pages with a push connection open now (the deploy configuration)
        self.push_refused = 0  # push connections refused or failed

    async def request(self, method, path, *, jar=None, address=None, form=None, headers=None,
                      timeout: float = 120.0):
        sent = dict(headers or {})
        if address:
            sent["X-Forwarded-For"] = address
        if jar:
            sent["Cookie"] = client.cookie_header(jar)
        body = b""
        if form is not None:
            body = urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            reply = await client.fetch(self.host, self.port, method, path, sent, body, timeout)
        except (OSError, TimeoutError) as exc:  # ConnectionError is an OSError
            self.client_errors[type(exc).__name__] += 1
            return None
        self.statuses[reply.status] += 1
        if jar is not None:
            for name, value in reply.cookies().items():
                if value:
                    jar[name] = value
                else:
                    jar.pop(name, None)
        return reply


class GuestFailed(Exception):
    pass


class Incomplete(Exception):
    """The crowd didn't arrive in time: the scenario is reported as failed, with how far it got."""

    def __init__(self, message: str, arrived: int):
        super().__init__(message)
        self.arrived = arrived


def incomplete_result(name: str, plan: EventPlan, exc: Incomplete) -> dict:
    """A scenario stopped during the arrival: failed, with no timings."""
    return {"scenario": name, "guests": plan.guests, "incomplete": str(exc),
            "arrived": exc.arrived, "arrival_seconds": None,
            "wait": {"seconds": 0, "portal_cpu_share": 0.0, "generator_cpu_share": 0.0,
                     "machine_busy_share": 0.0, "polls_per_second": 0.0,
                     "polls_due_per_second": 0.0, "kept_up": False},
            "all_inside": False, "to_all_inside_s": None,
            **_times("to_inside", []), **_times("page_knows", []),
            **({"admit_all_seconds": None, **_times("page_knows_after_answer", [])}
               if name == "admit_all" else {}),
            "statuses": {}, "server_errors_5xx": 0, "client_errors": {}, "guests_inside": 0,
            "failures": [str(exc)], "failed_guests": plan.guests - exc.arrived}


class Guest:
    """One browser: its own cookie jar and address, one page at a time."""

    def __init__(self, crowd: Crowd, number: int, token: str, label: str):
        self.crowd, self.number, self.token, self.label = crowd, number, token, label
        self.jar: dict[str, str] = {}
        n = number + 1  # 10.0.0.1, 10.0.0.2, ... one address a guest, as nginx would pass it on
        self.address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        self.place = ""
        self.page_at = 0.0
        self.poll_path = ""
        self.every = 0.0
        self.check_at: float | None = None  # the countdown's one poll just after the start
        self.knows_at: float | None = None  # the poll that first said "changed"
        self.knows_every = 0.0  # the interval that page had been told
        self.inside_at: float | None = None
        self.places_swapped = 0  # polls that brought a new place in line (no reload)
        self.asleep_until: float | None = None  # the next poll's moment, while waiting for it
        # Push (the deploy configuration): the page's EventSource, as static/app.js keeps it
        self.listener: asyncio.Task | None = None
        self.push_live = False
        self.push_grace = 0.0
        self.wake = asyncio.Event()  # "look now": the page asks its poll at once
        self.wake_pending: asyncio.TimerHandle | None = None
        self.woken = 0  # polls a push message asked for

    async def _request(self, method, path, expected, form=None):
        for _ in range(ATTEMPTS):
            reply = await self.crowd.request(method, path, jar=self.jar, address=self.address,
                                             form=form)
            if reply is None:
                await asyncio.sleep(1)
                continue
            if reply.status != expected:
                raise GuestFailed(f"{method} {path[:40]}: HTTP {reply.status}, expected "
                                  f"{expected}: {reply.text[:200]}")
            return reply
        raise GuestFailed(f"{method} {path[:40]}: no answer in {ATTEMPTS} attempts")

    async def arrive(self):
        """Open the link, submit the lobby, land on the page it leads to."""
        lobby = await self._request("GET", f"/g/{self.token}", 200)
        entered = await self._request("POST", f"/g/{self.token}", 303, form={
            "csrf_token": client.csrf_token(lobby.text), "name": f"Guest {self.number}",
            "email": f"guest{self.number}-{self.label}@event.example"})
        self.place = entered.header("Location") or ""
        self.place = "/" + self.place.split("/", 3)[3] if "://" in self.place else self.place
        await self.load_page()

    async def load_page(self):
        page = await self._request("GET", self.place, 200)
        now = asyncio.get_running_loop().time()
        found = _POLL.search(page.text)
        # The room itself: its poll's state is "enter..." (the room page polls too, so a host's
        # Remove or Move reaches the guest); older pages had no poll there at all.
        inside = found is None or parse_qs(urlsplit(html.unescape(found.group(1))).query).get(
            "state", [""])[0].startswith("enter")
        if inside and self.inside_at is None:
            self.inside_at = now
        if found is None:
            self.poll_path = ""  # a page without a poll: nothing more to ask
            return
        self.page_at = now
        self.poll_path = html.unescape(found.group(1))
        trigger = found.group(2)
        self.every = float(_EVERY.search(trigger).group(1))
        delay = _DELAY.search(trigger) or _CHECK_AT.search(found.group(0))
        self.check_at = now + float(delay.group(1)) if delay else None
        self._listen(page.text)

    def _listen(self, page: str):
        """The page's push connection, as static/app.js opens it: a new page, a new one."""
        if self.listener is not None:
            self.listener.cancel()
            self.listener = None
        self.push_live = False
        if self.wake_pending is not None:
            self.wake_pending.cancel()
            self.wake_pending = None
        self.wake.clear()
        found = _PUSH.search(page)
        if found is None:
            return
        url, since, spread, grace = found.groups()
        self.push_grace = float(grace)
        self.listener = asyncio.create_task(self._read_news(
            html.unescape(url), int(since), float(spread)))

    async def _read_news(self, url: str, since: int, spread: float):
        """One EventSource: each message newer than the page wakes its poll, a room's at a
        random moment within `spread`. A connection that fails leaves the page polling (a
        browser would reconnect; the harness counts how many never listened)."""
        loop = asyncio.get_running_loop()
        writer = None
        try:
            reader, writer = await asyncio.open_connection(self.crowd.host, self.crowd.port)
            writer.write((f"GET {url} HTTP/1.1\r\nHost: {self.crowd.host}:{self.crowd.port}\r\n"
                          f"User-Agent: {client.USER_AGENT}\r\nAccept: text/event-stream\r\n"
                          f"X-Forwarded-For: {self.address}\r\n\r\n").encode("latin-1"))
            await writer.drain()
            status = await reader.readline()
            if b" 200 " not in status:
                self.crowd.push_refused += 1
                return
            self.push_live = True
            self.crowd.listening += 1
            while line := await reader.readline():
                if not line.startswith(b"data: "):
                    continue
                kind, _, ms = line[6:].decode().strip().partition(" ")
                if not ms.isdigit() or int(ms) < since or self.wake_pending is not None:
                    continue
                if kind == "room" and spread > 0:
                    self.wake_pending = loop.call_later(random.uniform(0, spread), self._woken)
                else:
                    self._woken()
        except (OSError, ValueError):
            self.crowd.push_refused += 1
        finally:
            if self.push_live:
                self.crowd.listening -= 1
            self.push_live = False
            if writer is not None:
                writer.close()

    def _woken(self):
        self.wake_pending = None
        self.wake.set()

    def start_moved(self, start_at: float, margin: float, spread: float):
        """The room's start was moved (bench's shortcut, see `run_start`): the page's one poll
        after the start as the page would have set it, knowing the new start (each page at its
        own moment within START_SPREAD_SECONDS, as portal/guest/room.py draws it)."""
        if self.check_at is not None:
            self.check_at = start_at + margin + random.uniform(0, spread)

    async def wait_inside(self, counting: dict):
        """Poll as the page says: until inside, and on from the room page (the scenario ends
        every guest's page once all are inside or failed)."""
        loop = asyncio.get_running_loop()
        next_tick = self.page_at + self.every
        queued = False
        while self.poll_path and not self.crowd.closing:
            now = loop.time()
            if queued:
                due, queued = now, False
            else:
                due = min(next_tick, self.check_at or math.inf)
                self.asleep_until = due
                woken = False
                try:
                    if self.listener is None:
                        await asyncio.sleep(max(0.0, due - now))
                    else:  # a push message may wake the poll first
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self.wake.wait(), max(0.0, due - now))
                            woken = True
                finally:
                    self.asleep_until = None
                if woken:
                    self.wake.clear()
                    self.woken += 1
                elif self.check_at is not None and due == self.check_at:
                    # `load delay:` fires once; with push (data-check-at-start) a page whose
                    # connection is up waits its grace for the server's announcement first
                    grace = self.listener is not None and self.push_live and self.push_grace
                    self.check_at = due + grace if grace else None
                    self.push_grace = 0.0
                    if grace:
                        continue
                else:
                    next_tick += self.every
            reply = await self.crowd.request("GET", self.poll_path, jar=self.jar,
                                             address=self.address, headers={"HX-Request": "true"})
            if counting["on"]:
                self.crowd.requests_in_window += 1
            now = loop.time()
            if next_tick <= now:  # ticks came while in flight: one is sent now, the rest dropped
                queued = True
                next_tick += self.every * math.ceil((now - next_tick) / self.every + 1e-9)
            if reply is None or reply.status == 204:
                continue
            swapped = _POLL.search(reply.text) if reply.status == 200 else None
            if swapped is not None and not reply.header("HX-Refresh"):
                # a new place in line: htmx swaps in the poll that knows it, whose `every`
                # counts from the swap
                self.poll_path = html.unescape(swapped.group(1))
                self.every = float(_EVERY.search(swapped.group(2)).group(1))
                self.places_swapped += 1
                next_tick, queued = now + self.every, False
                continue
            if reply.status != 200 or not reply.header("HX-Refresh"):
                # the poll answers 204, a new place, or "changed, reload": else it's a fault
                raise GuestFailed(f"status poll: HTTP {reply.status} {reply.text[:100]}")
            if self.knows_at is None:
                self.knows_at, self.knows_every = now, self.every
            await self.load_page()
            next_tick, queued = self.page_at + self.every, False

    def close(self):
        if self.listener is not None:
            self.listener.cancel()


# --- the scenarios --------------------------------------------------------------------------------

def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def _times(label: str, values: list[float]) -> dict:
    return {f"{label}_p50_s": _round(_percentile(values, 50)),
            f"{label}_p99_s": _round(_percentile(values, 99)),
            f"{label}_max_s": _round(max(values) if values else None)}


def _round(value):
    return None if value is None else round(value, 3)


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, (GuestFailed, Failure)) else f"{type(exc).__name__}: {exc}"


async def _crowd_arrives(crowd: Crowd, guests: list[Guest], plan: EventPlan, counting: dict):
    """Every guest arrives (at most `concurrency` at a time) and waits; returns the waiting
    tasks once all have arrived, the arrival's time and the guests that failed."""
    gate = asyncio.Semaphore(plan.concurrency)
    arrived = asyncio.Event()
    state = {"done": 0}
    failures: list[str] = []

    async def one(guest: Guest):
        # Any exception ends one guest, counted and said: a guest must never vanish unseen
        # (a fault of the harness is a failure of the run, not a quiet stop).
        try:
            async with gate:
                await guest.arrive()
        except Exception as exc:
            failures.append(_failure(exc))
            return
        finally:
            state["done"] += 1
            if state["done"] == len(guests):
                arrived.set()
        try:
            await guest.wait_inside(counting)
        except Exception as exc:
            failures.append(_failure(exc))

    async def progress():
        """A long run says how far it got every 20 s, until every guest's page has closed (the
        quick one is silent): arrivals, answers, and where the guests are."""
        loop = asyncio.get_running_loop()
        while not all(t.done() for t in tasks):
            await asyncio.sleep(20)
            now = loop.time()
            asleep = sorted(g.asleep_until - now for g in guests if g.asleep_until is not None)
            ended = sum(1 for t in tasks if t.done())
            inside = sum(1 for g in guests if g.inside_at is not None)
            nearest = (f"; next polls in {asleep[0]:.0f}–{asleep[-1]:.0f} s"
                       f" (median {asleep[len(asleep) // 2]:.0f})" if asleep else "")
            print(f"      {time.monotonic() - started:5.0f} s: {state['done']:,} of "
                  f"{len(guests):,} arrived, {inside:,} inside, {ended:,} ended, "
                  f"{len(asleep):,} waiting to poll{nearest}; statuses "
                  f"{dict(crowd.statuses)}, client errors {dict(crowd.client_errors)}",
                  flush=True)

    started = time.monotonic()
    tasks = [asyncio.create_task(one(g)) for g in guests]
    reporter = asyncio.create_task(progress()) if len(guests) >= 1000 else None
    try:
        await asyncio.wait_for(arrived.wait(), plan.arrival_timeout_seconds)
    except TimeoutError:
        # A machine too slow (or too busy) for this crowd: stop here rather than run for hours,
        # and say how far it got (counted before cancelling: a cancelled guest counts as done).
        so_far = state["done"]
        if reporter is not None:
            reporter.cancel()
        crowd.closing = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise Incomplete(f"only {so_far:,} of {len(guests):,} guests arrived within "
                         f"{plan.arrival_timeout_seconds:g} s; the server answered "
                         f"{dict(crowd.statuses)}, client errors {dict(crowd.client_errors)}",
                         so_far) from None
    return tasks, round(time.monotonic() - started, 1), failures


async def _all_inside(crowd: Crowd, guests: list[Guest], tasks, timeout: float) -> bool:
    """Until every guest is inside or failed (the room pages of those inside polling on);
    then every guest's page closes. Looked at twice a second: no bookkeeping to miss a guest."""
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    settled = False
    while not settled and loop.time() < until:
        await asyncio.sleep(0.5)
        settled = all(g.inside_at is not None or t.done()
                      for g, t in zip(guests, tasks, strict=True))
    crowd.closing = True
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    listeners = [g.listener for g in guests if g.listener is not None]
    for guest in guests:
        guest.close()
    await asyncio.gather(*listeners, return_exceptions=True)
    return settled


def _wait(window: CpuWindow, crowd: Crowd, due_per_second: float) -> dict:
    """The measured wait: CPU shares, and the polls answered against those the pages asked
    for — a CPU share means little if the portal fell behind (it was given no more)."""
    answered = crowd.requests_in_window / window.result["seconds"]
    return {**window.result, "polls_per_second": round(answered, 1),
            "polls_due_per_second": round(due_per_second, 1),
            "kept_up": answered >= 0.9 * due_per_second}


def _summary(crowd: Crowd, guests: list[Guest], failures: list[str]) -> dict:
    return {"statuses": {str(k): v for k, v in sorted(crowd.statuses.items())},
            "server_errors_5xx": sum(v for k, v in crowd.statuses.items() if k >= 500),
            "client_errors": dict(crowd.client_errors),
            "guests_inside": sum(1 for g in guests if g.inside_at is not None),
            "places_swapped": sum(g.places_swapped for g in guests),
            # with push: polls a push message asked for, and connections refused or failed
            "polls_woken_by_push": sum(g.woken for g in guests),
            "push_refused": crowd.push_refused,
            "failures": failures[:5], "failed_guests": len(failures)}


async def run_start(host, port, pids, token, room_id, plan: EventPlan, move_start) -> dict:
    """Guests arrive long before the start, wait on the countdown, and enter at the start.

    Shortcut, said in bench/README.md: the room is created starting in an hour, and once every
    guest has arrived (and the measured wait is over) its start is moved to a few seconds
    ahead; each page's one poll after the start is put where the page would have put it had it
    known the new start. A real audience arrives over the minutes before; compressing that
    into this run keeps it short without changing what happens at the start."""
    from portal.guest.room import CHECK_AT_START_MARGIN

    loop = asyncio.get_running_loop()
    crowd = Crowd(host, port)
    guests = [Guest(crowd, i, token, "start") for i in range(plan.guests)]
    counting = {"on": False}
    tasks, arrival_s, failures = await _crowd_arrives(crowd, guests, plan, counting)
    # two of the intervals the pages were told (far from the start: seldom, portal/guest/room.py)
    told = _percentile([g.every for g in guests if g.every], 50) \
        or plan.poll["POLL_COUNTDOWN_SECONDS"]
    wait_s = 2 * told
    due = sum(1 / g.every for g in guests if g.every)  # as the countdown pages were told
    start_at = loop.time() + wait_s + plan.lead_seconds
    move_start(wait_s + plan.lead_seconds)
    for guest in guests:
        guest.start_moved(start_at, CHECK_AT_START_MARGIN, plan.poll["START_SPREAD_SECONDS"])
    counting["on"] = True
    with CpuWindow(pids) as window:
        await asyncio.sleep(wait_s)
    counting["on"] = False
    complete = await _all_inside(crowd, guests, tasks,
                                 max(0.0, start_at - loop.time()) + plan.timeout_seconds)
    inside = [g.inside_at - start_at for g in guests if g.inside_at is not None]
    knows = [g.knows_at - start_at for g in guests if g.knows_at is not None]
    return {"scenario": "start", "guests": plan.guests, "arrival_seconds": arrival_s,
            # the pages poll as far from the start as they were told (portal/guest/room.py)
            "wait": _wait(window, crowd, due),
            "countdown_poll_s": told,
            "all_inside": complete and len(inside) == plan.guests,
            "to_all_inside_s": _round(max(inside)) if inside else None,
            **_times("to_inside", inside), **_times("page_knows", knows),
            **_summary(crowd, guests, failures)}


async def run_admit_all(host, port, pids, token, room_id, plan: EventPlan, host_cookie) -> dict:
    """Guests arrive in a room that has started and wait to be admitted; the host opens the
    room page (its waiting list polls every POLL_OWNER_SECONDS) and clicks Admit all.

    The host opens the page once every guest is waiting: open during the arrivals, its list
    would be rendered again at each of its polls (every arrival changes it), and at thousands
    of rows that is the owner room route's cost, measured there."""
    loop = asyncio.get_running_loop()
    crowd = Crowd(host, port)
    guests = [Guest(crowd, i, token, "admit") for i in range(plan.guests)]
    counting = {"on": False}
    tasks, arrival_s, failures = await _crowd_arrives(crowd, guests, plan, counting)
    host_jar = dict(c.split("=", 1) for c in host_cookie.split("; "))
    opened = time.monotonic()
    page = await crowd.request("GET", f"/rooms/{room_id}/live", jar=host_jar,
                               address=HOST_ADDRESS)
    if page is None or page.status != 200:
        raise Failure(f"the host's room page: {page and page.status}")
    host_page_s = round(time.monotonic() - opened, 2)
    csrf = _HEADER_CSRF.search(page.text).group(1)
    poll_url = html.unescape(_OWNER_POLL.search(page.text).group(1))
    stop_host = asyncio.Event()

    async def host_polls():
        nonlocal poll_url
        every = plan.poll["POLL_OWNER_SECONDS"]
        while not stop_host.is_set():
            with_timeout = asyncio.create_task(stop_host.wait())
            await asyncio.wait([with_timeout], timeout=every)
            with_timeout.cancel()
            if stop_host.is_set():
                return
            reply = await crowd.request("GET", poll_url, jar=host_jar, address=HOST_ADDRESS,
                                        headers={"HX-Request": "true"})
            if reply is not None and reply.status == 200:
                found = _OWNER_POLL.search(reply.text)
                if found:
                    poll_url = html.unescape(found.group(1))

    host_task = asyncio.create_task(host_polls())
    # two of the intervals the pages were told (behind the hosts' list a crowd asks less often)
    told = [g.every for g in guests if g.every]
    wait_s = 2 * (_percentile(told, 50) or plan.poll["POLL_WAITING_SECONDS"])
    counting["on"] = True
    with CpuWindow(pids) as window:
        await asyncio.sleep(wait_s)
    counting["on"] = False
    await asyncio.sleep(plan.lead_seconds)
    clicked = loop.time()
    admitted = await crowd.request(
        "POST", f"/rooms/{room_id}/waiting/admit-all", jar=host_jar, address=HOST_ADDRESS,
        form={"csrf_token": csrf}, headers={"HX-Request": "true", "X-CSRFToken": csrf},
        timeout=900)  # one transaction for every guest: thousands take a while
    answered = loop.time()
    if admitted is None or admitted.status != 200:
        failures.append(f"Admit all: HTTP {admitted and admitted.status}: "
                        f"{admitted and admitted.text[:200]}")
    complete = await _all_inside(crowd, guests, tasks, plan.timeout_seconds)
    stop_host.set()
    await host_task
    inside = [g.inside_at - clicked for g in guests if g.inside_at is not None]
    knows = [g.knows_at - clicked for g in guests if g.knows_at is not None]
    # Also from the answer to the click (its transaction committed): no poll can know earlier.
    knows_after = [g.knows_at - answered for g in guests if g.knows_at is not None]
    return {"scenario": "admit_all", "guests": plan.guests, "arrival_seconds": arrival_s,
            "host_page_seconds": host_page_s,
            "wait": _wait(window, crowd, sum(1 / e for e in told)),
            "waiting_poll_s": {"shortest": min(told, default=None),
                               "p50": _percentile(told, 50), "longest": max(told, default=None)},
            # each page against the interval it was told (+ 1 s: the target's allowance)
            "knows_past_own_interval_p99_s": _round(_percentile(
                [g.knows_at - clicked - g.knows_every for g in guests
                 if g.knows_at is not None],
                99)),
            "admit_all_seconds": round(answered - clicked, 3),
            "all_inside": complete and len(inside) == plan.guests,
            "to_all_inside_s": _round(max(inside)) if inside else None,
            **_times("to_inside", inside), **_times("page_knows", knows),
            **_times("page_knows_after_answer", knows_after),
            **_summary(crowd, guests, failures)}


# --- the whole event ------------------------------------------------------------------------------

def run(database_url: str, owner_email: str, owner_password: str, plan: EventPlan,
        run_dir: Path, server_class, secret_key: str, log, deploy: bool = False) -> dict:
    """Both scenarios on one server; returns the `event` section of results.json.
    `deploy`: the deploy configuration — nginx (deploy/nginx.conf) with its push server in
    front of the gunicorn, guests coming through it (bench/front.py)."""
    from portal.db import database
    from portal.models import GuestLink, Participant, Room, User
    from portal.timeutil import utcnow

    from . import seed

    now = utcnow()
    with database.connection_context(), database.atomic():
        owner = User.get(User.email == owner_email)

        def room(title, **kw):
            return Room.create(owner=owner, title=title, description="The event scenario.",
                               ends_at=now + timedelta(days=1), guest_access_enabled=True, **kw)

        start_room = room("Event: enter at the start", starts_at=now + timedelta(hours=1))
        admit_room = room("Event: admit all", starts_at=now - timedelta(minutes=10),
                          require_approval=True)
        start_link = GuestLink.create(room=start_room, name="Everyone", created_by=owner)
        admit_link = GuestLink.create(room=admit_room, name="Everyone", created_by=owner)
    keys = [secret_key]
    env = {"TRUSTED_PROXIES": "1", **{k: str(v) for k, v in plan.poll.items()}}
    front = None
    if deploy:
        from .front import PushFront

        env.update({"TRUSTED_PROXIES": "2",  # the guest's address, then nginx's own
                    "PUSH_SUBSCRIBE_PATH": "/push"})
    # A room's poll budget is the operator's setting (docs/operations.md): the run records the
    # one it used.
    budget = os.environ.get("ROOM_POLLS_PER_SECOND") or "default"
    result = {"guests": plan.guests, "poll_seconds": plan.poll, "room_polls_per_second": budget,
              "arrival_concurrency": plan.concurrency, "scenarios": {},
              "configuration": "deploy: nginx + nchan (Redis) in front" if deploy
              else "embedded: gunicorn alone, pages poll"}
    server = server_class(database_url, run_dir, app="bench.app_bench:make_event_app()",
                          env=env)
    if deploy:
        front = PushFront(server.port)
        server.env["PUSH_PUBLISH_URL"] = front.publish_url
    with contextlib.ExitStack() as stack:
        stack.enter_context(server)
        if front is not None:
            stack.enter_context(front)
        # Guests (and the host's clicks) go through nginx in the deploy configuration.
        where = (client_host(server), front.port if front else server.port)

        def pids():
            return server.pids() + (front.pids() if front else [])

        # The owner signs in before the crowd comes.
        host = client.Browser(client_host(server), server.port)
        client.sign_in(host, owner_email, owner_password)

        def move_start(seconds_ahead: float):
            with database.connection_context():
                Room.update(starts_at=utcnow() + timedelta(seconds=seconds_ahead)).where(
                    Room.id == start_room.id).execute()

        log(f"  event: {plan.guests:,} guests, one browser each, poll every "
            f"{plan.poll['POLL_COUNTDOWN_SECONDS']:g} s (countdown) / "
            f"{plan.poll['POLL_WAITING_SECONDS']:g} s (waiting), ROOM_POLLS_PER_SECOND {budget}",
            stamp=True)
        scenarios = result["scenarios"]
        for name, scenario in (
                ("start", lambda: run_start(
                    *where, pids(),
                    seed.token_of(keys, start_link.id), start_room.id, plan, move_start)),
                ("admit_all", lambda: run_admit_all(
                    *where, pids(),
                    seed.token_of(keys, admit_link.id), admit_room.id, plan,
                    host.cookie_header))):
            try:
                scenarios[name] = asyncio.run(scenario())
            except Incomplete as exc:
                scenarios[name] = incomplete_result(name, plan, exc)
                log(f"    {name}: INCOMPLETE — {exc}", stamp=True)
                continue
            _log_scenario(log, scenarios[name])
        if front is not None and front.crashed():
            result["nginx_worker_crashed"] = True
            log("    nginx: a worker crashed (see its error log)", stamp=True)

    with database.connection_context():
        for name, room_id, link_id in (("start", start_room.id, start_link.id),
                                       ("admit_all", admit_room.id, admit_link.id)):
            in_room = Participant.select().where(Participant.room == room_id)
            counts = {"participants": in_room.count(),
                      "admitted": in_room.where(Participant.status == "admitted").count(),
                      "link_uses": GuestLink.get_by_id(link_id).uses}
            scenario = scenarios[name]
            scenario["database"] = counts
            scenario["exact"] = all(v == plan.guests for v in counts.values())
            scenario["ok"] = (scenario["exact"] and scenario["all_inside"]
                              and scenario["server_errors_5xx"] == 0
                              and not scenario["failed_guests"])
            log(f"    {name}: database {counts} — "
                f"{'exact' if scenario['exact'] else 'NOT EXACT'}", stamp=True)
    result["ok"] = all(s["ok"] for s in scenarios.values()) \
        and not result.get("nginx_worker_crashed")
    return result


def client_host(server) -> str:
    return server.url.split("//", 1)[1].rsplit(":", 1)[0]


def _log_scenario(log, s: dict) -> None:
    what = "start" if s["scenario"] == "start" else "Admit all click"
    wait = s["wait"]
    extra = (f", Admit all answered in {s['admit_all_seconds']} s"
             if "admit_all_seconds" in s else "")
    log(f"    {s['scenario']}: {s['guests_inside']}/{s['guests']} inside; arrival "
        f"{s['arrival_seconds']} s; while waiting: portal CPU {wait['portal_cpu_share']:.0%} of "
        f"the machine, generator {wait['generator_cpu_share']:.0%}, machine busy "
        f"{wait['machine_busy_share']:.0%}, {wait['polls_per_second']} polls/s; from the "
        f"{what}: page knows p50 {s['page_knows_p50_s']} s p99 {s['page_knows_p99_s']} s, all "
        f"inside {s['to_all_inside_s']} s{extra}; 5xx {s['server_errors_5xx']}, client "
        f"errors {s['client_errors'] or 0}", stamp=True)
