"""Flask's signed-cookie session, with two changes for pages that poll every few seconds.

- The cookie of a lasting session is signed again when it changed or when its signature is an
  hour old, not on every request: a waiting guest's poll answers without a Set-Cookie, and the
  session still lasts PERMANENT_SESSION_LIFETIME from the last visit (give or take that hour).
- The signing serializer is made once per set of keys, not once per request. Old keys
  (OLD_SECRET_KEYS, as SECRET_KEY_FALLBACKS) still open sessions, so rotating the key doesn't
  put every guest out of the room they are in; but whoever holds a retired key can sign any
  session with it, so such a session opens without its signed-in user (owners sign in again)
  and is signed again with the current key.
"""

from datetime import UTC, datetime, timedelta

from flask import Flask, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import login_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

REFRESH_AFTER = timedelta(hours=1)
# Flask-Login's keys: who is signed in. Never taken from a session signed with a retired key.
_SIGNED_IN = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")


def _verify(verifiers, value: str):
    """(data, signed_at, signed with a retired key?), or None when no key verifies it."""
    for verifier, retired in verifiers:
        try:
            data, signed_at = verifier.loads(value, return_timestamp=True)
        except BadSignature:
            continue
        return data, signed_at, retired
    return None


API_PATHS = "/api/"  # every URL of the API: no session cookie, errors as problems


def is_api(path: str) -> bool:
    return path.startswith(API_PATHS)


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        # (keys, signing serializer, ((verifier, signed with a retired key?), ...))
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None, tuple] = ((), None, ())

    def _signing(self, app: Flask):
        keys = (app.secret_key, *app.config["SECRET_KEY_FALLBACKS"])
        if self._serializer[0] != keys:
            serializer = super().get_signing_serializer(app)  # signs with the current key
            verifiers = ((self._verifier(keys[:1]), False),) if serializer else ()
            if serializer and keys[1:]:
                verifiers += ((self._verifier(keys[1:]), True),)
            self._serializer = (keys, serializer, verifiers)
        return self._serializer

    def _verifier(self, keys: tuple) -> URLSafeTimedSerializer:
        """Flask's serializer, verifying with these keys only (newest first)."""
        return URLSafeTimedSerializer(
            list(reversed(keys)), salt=self.salt, serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation,
                           "digest_method": self.digest_method})

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        return self._signing(app)[1]

    def open_session(self, app: Flask, request):
        _keys, serializer, verifiers = self._signing(app)
        if serializer is None:
            return None
        if is_api(request.path):
            # The API takes its token only: a browser's cookie opens nothing there, so no page
            # elsewhere can make a signed-in browser call it (no CSRF), and it is never set.
            session = self.session_class()
            session.for_api = True
            return session
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        verified = _verify(verifiers, value)
        if verified is None:
            return self.session_class()
        data, signed_at, retired = verified
        if not timedelta(0) <= datetime.now(UTC) - signed_at <= app.permanent_session_lifetime:
            return self.session_class()  # expired (or signed in the future)
        if retired:  # the guest's presence stays; who is signed in doesn't
            data = {k: v for k, v in data.items() if k not in _SIGNED_IN}
        session = self.session_class(data)
        session.signed_at = signed_at
        session.modified = retired  # signed again with the current key
        return session

    def should_set_cookie(self, app: Flask, session) -> bool:
        if getattr(session, "for_api", False):
            return False
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(UTC) - signed_at >= REFRESH_AFTER


def landing(user) -> str:
    return url_for("web.index")


def start_session(user) -> None:
    """Signed in on a new session: a form token or device id someone planted in this browser
    before (session fixation) is not carried into the signed-in one."""
    session.clear()
    login_user(user)
