"""A guest's status poll, answered before Flask: unchanged, or changed (reload).

Every countdown and waiting page asks `/s/<room>/status` every few seconds, and nearly always
nothing changed: 10,000 waiting guests are 2,000 such requests a second. Most of what one costs
is Flask's own machinery around a small decision (request and app contexts, the session, URL
matching, before- and after-request hooks). This WSGI middleware answers the two common cases:
"unchanged" (204) and "changed, load the page again" (200 with HX-Refresh; at the start of a
big session every countdown page asks at once). It verifies the signed session cookie with the
app's own session interface, reads the presence in the same one narrow prepared query, decides
as `guest.status` does (access.PresenceFacts.decide_polled: a guest seated in the room keeps
their seat) with the same place in line (for guests who came by a link: an invitation's
decision asks who is signed in, which is Flask-Login's to say), and answers with the headers
every response carries (portal/security.py). Anything else (a new place in line, swapped in with
a fragment; no cookie or a forged one; a cookie due to be signed again; a database error; any
surprise) goes on to Flask, which decides again and answers as always. So it only ever answers
as Flask would; tests/test_guest_status_poll.py holds the two against each other.
"""

import re
from urllib.parse import parse_qs

from werkzeug.http import parse_cookie

from . import access, poll
from .db import database

_STATUS_PATH = re.compile(r"/s/([1-9][0-9]{0,17})/status")
UNCHANGED = ""  # the answer for "nothing changed" (a state is never empty)


class _Cookies:
    """What the session interface reads of a request."""
    __slots__ = ("cookies",)

    def __init__(self, environ):
        self.cookies = parse_cookie(environ)


class QuickPoll:
    def __init__(self, app, wsgi_app):
        from . import security

        self.app = app
        self.wsgi_app = wsgi_app
        self.headers = [*security.headers_for(app.config), ("Cache-Control", "no-store"),
                        ("Vary", "HX-Request, Cookie")]  # as Flask: it read the session

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "GET":
            found = _STATUS_PATH.fullmatch(environ.get("PATH_INFO", ""))
            answer = found and self._answer(environ, int(found.group(1)))
            if answer == UNCHANGED:
                start_response("204 NO CONTENT", list(self.headers))
                return []
            if answer:  # the new state: the page loads again, and that load decides
                body = answer.encode()
                start_response("200 OK", [*self.headers, ("HX-Refresh", "true"),
                                          ("Content-Type", "text/plain; charset=utf-8"),
                                          ("Content-Length", str(len(body)))])
                return [body]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, room_id: int) -> str | None:
        """UNCHANGED, the new state (the page reloads), or None: Flask's to answer."""
        asked = parse_qs(environ.get("QUERY_STRING", ""))
        if "lang" in asked or any("\x00" in v for values in asked.values() for v in values):
            return None  # a language switch sets the cookie; NUL is refused (portal/security.py)
        app, interface = self.app, self.app.session_interface
        try:
            session = interface.open_session(app, _Cookies(environ))
            device = session.get("device") if session is not None else None
            if not isinstance(device, str) or not device or len(device) > 64 \
                    or interface.should_set_cookie(app, session):
                return None  # Flask mints a device or signs the cookie again
            presence = access.presence_facts(room_id, device)
            if presence is None or presence.invite is not None:
                return None  # an invitation's decision asks who is signed in: Flask's to do
            told = poll.answer(app, room_id, presence, *(asked.get(name, [None])[0]
                                                       for name in ("state", "place", "every")),
                               device=device)
            if told.changed:
                return told.state
            # a new place (or interval) is swapped in with a fragment: Flask renders it
            return None if told.position is not None else UNCHANGED
        except Exception:  # noqa: BLE001 — Flask answers instead, and reports what it meets
            return None
        finally:
            if not database.is_closed():
                database.close()
