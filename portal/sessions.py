"""Flask's signed-cookie session, with two changes for pages that poll every few seconds.

- The cookie of a lasting session is signed again when it changed or when its signature is an
  hour old, not on every request: a waiting guest's poll answers without a Set-Cookie, and the
  session still lasts PERMANENT_SESSION_LIFETIME from the last visit (give or take that hour).
- The signing serializer is made once per set of keys, not once per request. Old keys
  (OLD_SECRET_KEYS, as SECRET_KEY_FALLBACKS) still open sessions, so rotating the key doesn't
  put every guest out of the room they are in; but whoever holds a retired key can sign any
  session with it, so such a session opens without its signed-in user (owners sign in again)
  and is signed again with the current key.
- A cookie already verified is not verified again: a polling guest sends the same cookie every
  few seconds, so the verified contents are kept (per set of keys, the last few thousand cookies)
  and only their age is checked anew. Only sessions of plain values (the device id, the CSRF
  token, who is signed in) are kept; one holding lists or dicts (flashed messages) is read each
  time, so no request can change what another one opens.
"""

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

REFRESH_AFTER = timedelta(hours=1)
REMEMBERED_COOKIES = 4096
_PLAIN = (str, int, float, bool, type(None))
_NOT_KEPT = object()  # a valid cookie whose contents aren't plain values: read it each time
# Flask-Login's keys: who is signed in. Never taken from a session signed with a retired key.
_SIGNED_IN = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")


def _reader(current: URLSafeTimedSerializer, retired: URLSafeTimedSerializer | None):
    """Verified cookie -> (signed with a retired key?, items or _NOT_KEPT, signed_at), or None
    when the signature is bad."""
    @lru_cache(maxsize=REMEMBERED_COOKIES)
    def read(value: str):
        for serializer in (current, retired) if retired else (current,):
            try:
                data, signed_at = serializer.loads(value, return_timestamp=True)
            except BadSignature:
                continue
            plain = isinstance(data, dict) and all(isinstance(v, _PLAIN) for v in data.values())
            return serializer is retired, tuple(data.items()) if plain else _NOT_KEPT, signed_at
        return None
    return read


class CookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        self._serializer: tuple[tuple, URLSafeTimedSerializer | None, object] = ((), None, None)

    def _signing(self, app: Flask):
        keys = (app.secret_key, *app.config["SECRET_KEY_FALLBACKS"])
        if self._serializer[0] != keys:
            serializer = super().get_signing_serializer(app)  # signs with the current key
            read = serializer and _reader(self._verifier(keys[:1]),
                                          self._verifier(keys[1:]) if keys[1:] else None)
            self._serializer = (keys, serializer, read)
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
        _keys, serializer, read = self._signing(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        verified = read(value)
        if verified is None:
            return self.session_class()
        retired, items, signed_at = verified
        # A cookie not kept was verified just now; decoded afresh so nothing is shared.
        data = serializer.loads(value) if items is _NOT_KEPT else dict(items)
        if not timedelta(0) <= datetime.now(UTC) - signed_at <= app.permanent_session_lifetime:
            return self.session_class()  # expired (or signed in the future)
        if retired:  # the guest's presence stays; who is signed in doesn't
            data = {k: v for k, v in data.items() if k not in _SIGNED_IN}
        session = self.session_class(data)
        session.signed_at = signed_at
        session.modified = retired  # signed again with the current key
        return session

    def should_set_cookie(self, app: Flask, session) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or datetime.now(UTC) - signed_at >= REFRESH_AFTER
