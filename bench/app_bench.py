"""The portal as the benchmark serves it: `gunicorn 'bench.app_bench:make_app()'`.

The same app, middleware and settings as production (CSRF on, rate limiter on, sessions, security
headers), except that the lobby's rate limits are raised: every wrk connection comes from
127.0.0.1, and the per-IP (60/min) and per-link (600/min) limits would otherwise answer 429 after
the first second. Everything else comes from the environment the harness sets (DATABASE_URL,
SECRET_KEY, BASE_URL)."""

import os

from portal import create_app

UNLIMITED = "1000000000 per minute"


def make_app(extra: dict | None = None):
    data = os.environ.get("GUESTGATE_BENCH_DIR",
                          os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    app = create_app({
        "LOBBY_LIMIT_PER_IP": UNLIMITED,
        "LOBBY_LIMIT_PER_LINK": UNLIMITED,
        "MAIL_OUTBOX": os.path.join(data, "outbox"),
        "UPLOAD_FOLDER": os.path.join(data, "uploads"),
        **(extra or {}),
    })
    return app
