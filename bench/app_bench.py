"""The portal as the benchmark serves it: `gunicorn 'bench.app_bench:make_app()'`.

The same app, middleware and settings as production (CSRF on, rate limiter on, sessions, security
headers), except that the lobby's rate limits are raised: every wrk connection comes from
127.0.0.1, and the per-IP (60/min) and per-link (600/min) limits would otherwise answer 429 after
the first second. Everything else comes from the environment the harness sets (DATABASE_URL,
SECRET_KEY, BASE_URL).

The event scenario (bench/event.py) serves `make_event_app()` instead: the per-address limit as
in production, since each simulated guest comes with its own address (see bench/README.md)."""

import os

from portal import create_app

UNLIMITED = "1000000000 per minute"


def make_app(extra: dict | None = None, per_ip_limit: bool = False):
    data = os.environ.get("GUESTGATE_BENCH_DIR",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    limits = {"LOBBY_LIMIT_PER_LINK": UNLIMITED}
    if not per_ip_limit:
        limits["LOBBY_LIMIT_PER_IP"] = UNLIMITED
    app = create_app({
        **limits,
        "MAIL_OUTBOX": os.path.join(data, "outbox"),
        "UPLOAD_FOLDER": os.path.join(data, "uploads"),
        **(extra or {}),
    })
    return app


def make_event_app():
    """Production's per-address lobby limit (LOBBY_LIMIT_PER_IP, 60 a minute unless the
    environment says otherwise) behind one trusted proxy (TRUSTED_PROXIES=1 from the harness):
    every simulated guest has an address of its own. Only the per-link limit is raised: the
    scenario compresses an audience's arrival into about a minute, and the production 600 a
    minute would take 17 minutes to let 10,000 in."""
    return make_app(per_ip_limit=True)
