"""The ceilings the portal's routes are measured against, each served by gunicorn with the very
settings the portal gets (bench/run.py), in the same run:

- `hello`: a bare Flask app answering "hello" — what any Flask app on this server and machine
  can do at most. The portal's own /healthz is measured as a route against it, so the cost of
  the portal's hooks and middleware shows instead of being the yardstick.
- `raw`: a WSGI callable with no framework at all — what gunicorn alone can do, so the cost of
  Flask itself shows too.

Both are module-level on purpose: they are not the portal (STYLE.md's "no other module-level
app" is about the portal's own app)."""

from flask import Flask

hello = Flask(__name__)


@hello.get("/")
def index():
    return "hello"


def raw(environ, start_response):
    body = b"hello"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
