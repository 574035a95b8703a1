"""Where a route spends its time: `python -m bench.profile_route owner_room [--requests 200]`.

Seeds the small benchmark database in a temporary directory, makes the same sessions as the
harness through the Flask test client (no gunicorn), then runs the route's requests under
pyinstrument (`pip install pyinstrument`) and prints the call tree, plus the SQL of one request.
Routes: ceiling (bare Flask), raw_wsgi, healthz, lobby_get, lobby_post (each POST a new browser
that opened the lobby first; its GET is made beforehand, not profiled), status, guest_room,
owner_room, and the owner's room page in parts (bench.run.OWNER_PARTS: the polled sections
owner_waiting and owner_inside as htmx asks when they changed, owner_nav, owner_access,
owner_insights, owner_details); and two pages `make bench` doesn't drive, a guest's place
before they are inside: guest_countdown (a room that starts in an hour) and guest_waiting
(200th in line). `--size large` is the harness's large database, its measured rooms' 50,000
later guests too; SQLite seeds are kept in bench/data as the harness keeps them (`--no-cache`
seeds afresh)."""

import argparse
import functools
import html
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from . import client, seed
from .run import BENCH, OWNER_PARTS, ROUTES, SECRET_KEY, QueryCounter, bench_database

# Profiled here only (not routes of `make bench`), with the status each answers.
PAGES = {"guest_countdown": 200, "guest_waiting": 200}
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_route")
    parser.add_argument("route", choices=[r[0] for r in ROUTES] + [p[0] for p in OWNER_PARTS]
                        + list(PAGES))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", default="small", choices=list(seed.SIZES))
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    parser.add_argument("--all", action="store_true",
                        help="show every frame, the libraries' too")
    parser.add_argument("--cprofile", action="store_true",
                        help="the standard library's cProfile instead of pyinstrument: every "
                             "call counted (how many escapes, url_fors ...), by own time")
    parser.add_argument("--timing", action="store_true",
                        help="no profiler: print the median and mean CPU ms of one request")
    parser.add_argument("--no-cache", dest="cache", action="store_false",
                        help="seed SQLite afresh instead of copying the harness's cached seed")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="guestgate-profile-"))
    os.environ.setdefault("SECRET_KEY", SECRET_KEY)
    size = seed.SIZES[args.size]
    with bench_database(size, BENCH / "data" if args.cache else tmp, args.cache) as (url, fx, _):
        return profile(args, tmp, size, url, fx)


def profile(args, tmp: Path, size, url: str, fx) -> int:
    from bench.app_bench import make_app

    os.environ["GUESTGATE_BENCH_DIR"] = str(tmp)
    app = make_app({"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, "SECRET_KEYS": [SECRET_KEY]})
    token = {name: seed.token_of([SECRET_KEY], link) for name, link in (
        ("get", fx.open_link_get), ("post", fx.open_link_post),
        ("poll", fx.owner_room_poll_link), ("later", fx.burst_link))}
    headers = {"User-Agent": client.USER_AGENT}

    def csrf_of(response) -> str:
        return _CSRF.search(response.get_data(as_text=True)).group(1)

    def guest(link_token: str, email: str):
        browser = app.test_client()
        page = browser.get(f"/g/{link_token}", headers=headers)
        answer = browser.post(f"/g/{link_token}", headers=headers, data={
            "csrf_token": csrf_of(page), "name": "Profiled", "email": email})
        assert answer.status_code == 303, answer.status_code
        return browser

    owner = app.test_client()
    page = owner.get("/sign-in", headers=headers)
    assert owner.post("/sign-in", headers=headers, data={
        "csrf_token": csrf_of(page), "email": fx.owner_email,
        "password": fx.owner_password}).status_code == 303
    from werkzeug.test import Client

    from bench import app_ceiling

    def browsers_at_the_lobby(count: int):
        """New browsers that each opened the lobby (its cookie has their device id), one for
        each POST to profile: made now, so the profile holds the submissions alone."""
        for _ in range(count):
            browser = app.test_client()
            page = browser.get(f"/g/{token['post']}", headers=headers)
            yield browser, csrf_of(page)

    lobby_browsers = iter(list(browsers_at_the_lobby(args.requests + 7))) \
        if args.route == "lobby_post" else iter(())

    def poller():
        """A waiting guest and the poll their page has (with their state and place in line)."""
        browser = guest(token["poll"], "poller@guest.example")
        state = browser.get(f"/s/{fx.owner_room}/status?state=", headers=headers).get_data(
            as_text=True)
        swapped = browser.get(f"/s/{fx.owner_room}/status?state={state}", headers=headers)
        return browser, html.unescape(re.search(r'hx-get="([^"]+)"',
                                                swapped.get_data(as_text=True)).group(1))

    if args.route == "guest_countdown":  # the burst room, moved to start in an hour
        from portal.models import Room
        from portal.timeutil import utcnow

        Room.update(starts_at=utcnow() + timedelta(hours=1)).where(
            Room.id == fx.burst_room).execute()
        countdown = guest(token["later"], "countdown@guest.example")
    if args.route == "guest_waiting":
        waiting = guest(token["poll"], "waiting@guest.example")
    parts = {name: path.format(room=fx.owner_room) for name, _, path in OWNER_PARTS}
    htmx = {**headers, "HX-Request": "true"}
    calls = {
        "ceiling": lambda: app_ceiling.hello.test_client().get("/", headers=headers),
        "raw_wsgi": lambda: Client(app_ceiling.raw).get("/", headers=headers),
        "healthz": lambda: app.test_client().get("/healthz", headers=headers),
        "lobby_get": lambda: app.test_client().get(f"/g/{token['get']}", headers=headers),
        "lobby_post": lambda: _post(token["post"], *next(lobby_browsers), headers),
        "status": (lambda b, path: lambda: b.get(path, headers=headers))(*poller()),
        "guest_room": (lambda b: lambda: b.get(f"/s/{fx.open_room}", headers=headers))(
            guest(token["get"], "admitted@guest.example")),
        "owner_room": lambda: owner.get(f"/rooms/{fx.owner_room}/live", headers=headers),
        "guest_countdown": lambda: countdown.get(f"/s/{fx.burst_room}", headers=headers),
        "guest_waiting": lambda: waiting.get(f"/s/{fx.owner_room}", headers=headers),
        **{name: functools.partial(owner.get, path, headers=htmx if "seen=" in path else headers)
           for name, path in parts.items()},
    }
    if size.crowd:  # as the harness: later guests arrive once the measured ones are in
        from portal.db import database

        with database.connection_context():
            seed.add_crowd(fx, size)
    call = calls[args.route]
    expected = next((r[3] for r in ROUTES if r[0] == args.route), 200)
    for _ in range(5):
        assert call().status_code == expected

    with QueryCounter().counting() as counter:
        call()
    statements = counter.statements
    print(f"SQL of one {args.route} request ({len(statements)} statements):")
    for sql in statements:
        print("  ", sql[:300])

    if args.timing:
        times = []
        for _ in range(args.requests):
            # this thread's CPU only, as the harness counts it: the app's background threads
            # (deliveries, announcements) are not the request's
            started = time.thread_time_ns()
            call()
            times.append(time.thread_time_ns() - started)
        times.sort()
        print(f"{args.route}: median {times[len(times) // 2] / 1e6:.3f} ms, "
              f"mean {sum(times) / len(times) / 1e6:.3f} ms CPU over {len(times)} requests")
        return 0
    if args.cprofile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            call()
        profile.disable()
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
        return 0
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(args.requests):
        call()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=args.all))
    if args.html:
        args.html.write_text(profiler.output_html())
    return 0


def _post(link_token, browser, csrf, headers):
    return browser.post(f"/g/{link_token}", headers=headers, data={
        "csrf_token": csrf, "name": "Profiled",
        "email": f"p-{uuid.uuid4().hex[:12]}@guest.example"})


if __name__ == "__main__":
    sys.exit(main())
