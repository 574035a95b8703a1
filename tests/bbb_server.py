"""A real HTTP server that answers BigBlueButton's API (``create``, ``join`` and the version call)
the way bbb-web does, so a BigBlueButton client can be tested over the wire.

Deliberately independent of the product: nothing here imports ``portal``; the checksum code is
written from BigBlueButton's own server side (bbb-common-web ``GetChecksum`` /
``GetChecksumValidator``, ``ValidationService``, the request models ``CreateMeeting`` /
``JoinMeeting`` and their constraints, ``ApiController.groovy`` create/join, the freemarker
response templates, ``bigbluebutton.properties`` defaults) and the API reference.

What bbb-web does and this server does too:

- checksum = hex(hash(callName + queryString + secret)), where queryString is the query string
  exactly as received with the checksum removed textually (``&checksum=X``, then ``checksum=X&``,
  then ``checksum=X``); the algorithm is chosen by the checksum's length (40 sha1, 64 sha256,
  96 sha384, 128 sha512) and only if it is in the server's supported algorithms; the comparison
  ignores case. Failures answer ``FAILED``/``checksumError`` with HTTP 200.
- the checksum is checked before anything else; then the request's other constraints; when
  several fail, the one reported is the first of a ``java.util.HashMap`` of the violations (as
  bbb-web picks ``violations.entrySet()``'s first entry).
- create's ``name`` and ``meetingID`` must be 2 to 256 characters as Java counts them (UTF-16
  code units: an emoji is two), after control characters are removed and the ends trimmed; a
  ``meetingID`` has no comma (``sizeError``, ``validationError``).
- create is idempotent: a repeat with the same meetingID answers SUCCESS with messageKey
  ``duplicateWarning`` and the first create's createTime, unless it names other passwords
  (``idNotUnique``). internalMeetingID is ``sha1hex(meetingID) + "-" + createTime``.
- join takes ``role`` (MODERATOR/VIEWER, any case) or, failing that, the legacy ``password``;
  ``createTime``, when given, must equal the meeting's (``mismatchCreateTimeParam``); the guest
  status is computed as ``Meeting.calcGuestStatus`` does with ``authenticatedGuest=true`` and the
  meeting's ``guestPolicy`` (default ``ALWAYS_ACCEPT``). Without ``redirect=false`` a successful
  join is a 302 to the client (or the guest wait page) and an error is a 302 to the logout URL
  with ``?errors=[{"message":…,"key":…}]`` (``errorRedirectUrl`` instead, when given); with
  ``redirect=false`` both are XML, as since BigBlueButton 2.7 (PR #17202).

Not modelled: POST bodies, end/getMeetingInfo and the other calls (they answer 404), meeting
expiry by time (call ``expire()``), maxParticipants, breakout rooms.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import socket
import string
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

TEST_SECRET = "bbb-secret-for-the-tests"  # the suite's `bbb` fixture (tests/conftest.py)
API_PATH = "/bigbluebutton/api"
CLIENT_PATH = "/html5client/join"
GUEST_WAIT_PATH = "/html5client/guestWait"

ALGORITHMS = ("sha1", "sha256", "sha384", "sha512")
_ALGORITHM_BY_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}

MODES = ("ok", "fail", "error", "garbage", "drop", "hang")

# bigbluebutton.properties defaults
DEFAULT_GUEST_POLICY = "ALWAYS_ACCEPT"
DEFAULT_DIAL_NUMBER = "613-555-1234"
API_VERSION = "2.0"
BBB_VERSION = "3.0.0"

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # java \p{Cc}
_INTEGRAL = re.compile(r"[+-]?[0-9]+\Z")
_ALNUM_LOWER = string.ascii_lowercase + string.digits


def _sanitize(value: str | None) -> str:
    """ParamsUtil.sanitizeString: control characters removed, then Java's trim()."""
    if value is None:
        return ""
    return _CONTROL.sub("", value).strip(" ")


def _java_string_hash(text: str) -> int:
    """String.hashCode() over UTF-16 code units, as an unsigned 32-bit value."""
    data = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(data), 2):
        h = (31 * h + int.from_bytes(data[i:i + 2], "big")) & 0xFFFFFFFF
    return h


def _java_hashmap_first(violations: list[tuple[str, str]]) -> tuple[str, str]:
    """The entry a small java.util.HashMap built by put()-ting these in order iterates first."""
    table: dict[str, str] = {}
    for key, message in violations:
        table[key] = message  # a repeated key keeps its place and takes the new message

    def bucket(key: str) -> int:
        h = _java_string_hash(key)
        return (h ^ (h >> 16)) & 15  # default capacity 16: ample for a handful of entries

    first = sorted(table, key=bucket)[0]  # sorted() is stable: insertion order within a bucket
    return first, table[first]


def _java_length(text: str) -> int:
    """String.length(), which @Size counts: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def _random_alnum(length: int) -> str:
    """RandomStringUtils.randomAlphanumeric(n).toLowerCase()"""
    return "".join(secrets.choice(_ALNUM_LOWER) for _ in range(length))


def _xml(*fields: tuple[str, str | None]) -> bytes:
    root = ET.Element("response")
    for tag, text in fields:
        if text is not None:
            ET.SubElement(root, tag).text = text
    return ET.tostring(root, encoding="utf-8", short_empty_elements=False)


def _failed(key: str, message: str) -> bytes:
    return _xml(("returncode", "FAILED"), ("messageKey", key), ("message", message))


def _java_date(ms: int) -> str:
    return time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(ms / 1000))


def _java_bool(value: str | None) -> bool:
    return value is not None and value.lower() == "true"


def _meeting_id_violations(meeting_id: str | None) -> list[tuple[str, str]]:
    """MeetingIDConstraint: NotEmpty, Size(2, 256), Pattern ^[^,]+$ (null passes all three)."""
    if meeting_id is None:
        return []
    found = []
    if meeting_id == "":
        found.append(("missingParamMeetingID", "You must provide a meeting ID"))
    if not 2 <= _java_length(meeting_id) <= 256:
        found.append(("sizeError", "Meeting ID must be between 2 and 256 characters"))
    if meeting_id == "" or "," in meeting_id:
        found.append(("validationError", "Meeting ID cannot contain ','"))
    return found


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that timed out or hung up mid-answer is expected here, not a fault.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server_version = "FakeBigBlueButton/1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        fake: FakeBigBlueButton = self.server.fake
        path, _, query = self.path.partition("?")
        query = query.partition("#")[0]
        if path in (API_PATH, API_PATH + "/") or path.startswith(API_PATH + "/"):
            call = path[len(API_PATH) + 1:] or "index"
            try:
                fake._serve_api(self, call, query)
            except (ConnectionError, TimeoutError):
                raise
            except Exception as exc:  # a bug in the fake: make it visible, answer like a crash
                fake.errors.append(exc)
                self._send(500, b"FakeBigBlueButton raised; see .errors", "text/plain")
        elif path in (CLIENT_PATH, GUEST_WAIT_PATH, "/"):
            self._send(200, b"<!doctype html><title>BigBlueButton</title>", "text/html")
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str, location: str | None = None):
        self.send_response(status)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_xml(self, body: bytes):
        self._send(200, body, "text/xml;charset=utf-8")

    def redirect(self, location: str):
        self._send(302, b"", "text/plain", location=location)


class FakeBigBlueButton:
    """A BigBlueButton API server on 127.0.0.1 (a free port), serving from a daemon thread from
    construction until ``close()`` / the end of its ``with`` block.

    ``endpoint`` is ``http://127.0.0.1:PORT/bigbluebutton/api/`` (``base_url`` without the API
    path, ``port``). What it saw (parameters as decoded, first value of each, checksum left out):

    - ``calls``: Counter by call name ("create", "join", "index" for the version call, …).
    - ``requests``: every API request target as received, e.g. "/bigbluebutton/api/join?…".
    - ``creates``: the parameters of every create that passed the checksum and validation.
    - ``meetings[meetingID]``: the live meeting: meetingID, internalMeetingID, createTime (int,
      ms), name, attendeePW, moderatorPW ("" when not given), guestPolicy (default
      ALWAYS_ACCEPT), voiceBridge, params (its first create's parameters), creates (the
      parameters of every create that answered SUCCESS for it, first and duplicates).
      ``expire(meetingID)`` moves it to ``expired``.
    - ``joins``: one dict per join that passed the checksum: its parameters plus returncode,
      messageKey and, when the role was settled, resolvedRole / guestStatus; on success also
      internalUserID (the answer's user_id), authToken, sessionToken, url.
    - ``errors``: exceptions raised inside the fake (empty unless the fake has a bug).

    ``mode`` (one of ``MODES``) makes every API call misbehave: "fail" answers FAILED /
    serverError (HTTP 200), "error" HTTP 500 with an HTML page, "garbage" HTTP 200 with HTML
    that is not the API's XML, "drop" closes the connection without answering, "hang" holds the
    request until the server closes (a client's timeout fires). ``down()`` gives an endpoint
    where nothing listens.
    """

    def __init__(self, secret: str, algorithms=ALGORITHMS):
        unknown = set(algorithms) - set(ALGORITHMS)
        if unknown:
            raise ValueError(f"unknown checksum algorithms: {sorted(unknown)}")
        self.secret = secret
        self.algorithms = tuple(algorithms)
        self._mode = "ok"
        self.calls: Counter[str] = Counter()
        self.requests: list[str] = []
        self.creates: list[dict[str, str]] = []
        self.meetings: dict[str, dict] = {}
        self.expired: list[dict] = []
        self.joins: list[dict] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._last_create_time = 0
        self._closing = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.endpoint = f"{self.base_url}{API_PATH}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"FakeBigBlueButton:{self.port}", daemon=True)
        self._thread.start()

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        if self._closing.is_set():
            return
        self._closing.set()  # releases handlers held by "hang"
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    @classmethod
    @contextmanager
    def down(cls):
        """An endpoint where nothing listens: connecting is refused at once. The port is kept
        bound (not listening) meanwhile, so nothing else can take it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            yield f"http://127.0.0.1:{sock.getsockname()[1]}{API_PATH}/"
        finally:
            sock.close()

    @property
    def mode(self) -> str:
        return self._mode

    @mode.setter
    def mode(self, value: str):
        if value not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {value!r}")
        self._mode = value

    def expire(self, meeting_id: str):
        """The meeting ends as BigBlueButton ends unattended meetings: it is gone; a later create
        with the same meetingID makes a new meeting (new createTime). Its record moves to
        ``expired``."""
        with self._lock:
            self.expired.append(self.meetings.pop(meeting_id))

    # --- the API ---------------------------------------------------------------------------

    def _serve_api(self, handler: _Handler, call: str, query: str):
        with self._lock:
            self.calls[call] += 1
            self.requests.append(handler.path)
        mode = self._mode
        if mode == "hang":
            self._closing.wait()
            handler.close_connection = True
            return
        if mode == "drop":
            handler.close_connection = True
            return
        if mode == "error":
            handler._send(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>",
                          "text/html")
            return
        if mode == "garbage":
            handler._send(200, b"<html><head><title>Welcome to nginx!</title></head><body>"
                               b"<h1>Welcome to nginx!</h1><hr></body></html>", "text/html")
            return
        if mode == "fail":
            handler.send_xml(_failed("serverError", "FakeBigBlueButton is in 'fail' mode"))
            return
        # Tomcat hands bbb-web the raw query string; the parameters are decoded as UTF-8.
        raw_query = _sanitize(query.encode("latin-1").decode("utf-8", "replace"))
        params: dict[str, str] = {}
        for name, value in parse_qsl(query.encode("latin-1").decode("utf-8", "replace"),
                                     keep_blank_values=True, encoding="utf-8", errors="replace"):
            params.setdefault(name, value)  # bbb-web reads the first value of each parameter
        if call == "index":
            handler.send_xml(_xml(("returncode", "SUCCESS"), ("version", API_VERSION),
                                  ("apiVersion", API_VERSION), ("bbbVersion", BBB_VERSION)))
        elif call == "create":
            self._create(handler, raw_query, params)
        elif call == "join":
            self._join(handler, raw_query, params)
        else:
            handler._send(404, f"FakeBigBlueButton does not answer {call!r}".encode(),
                          "text/plain")

    def _checksum_violation(self, call: str, raw_query: str, params: dict[str, str]):
        """GetChecksum + GetChecksumValidator, or None when the checksum is right."""
        if self.secret == "":
            return None  # bbb-web: "Security is disabled in this service"
        provided = _sanitize(params.get("checksum"))
        if provided == "":
            return ("checksumError", "You must provide the checksum")
        rest = raw_query.replace("&checksum=" + provided, "")
        rest = rest.replace("checksum=" + provided + "&", "")
        rest = rest.replace("checksum=" + provided, "")
        algorithm = _ALGORITHM_BY_LENGTH.get(len(provided))
        if algorithm in self.algorithms:
            expected = hashlib.new(algorithm, (call + rest + self.secret).encode()).hexdigest()
            if hmac.compare_digest(expected, provided.lower()):
                return None
        return ("checksumError", "Checksums do not match")

    def _next_create_time(self) -> int:
        # Milliseconds since the epoch, as bbb-web; kept strictly increasing within one fake so
        # that a meeting created again after expire() never repeats a createTime.
        self._last_create_time = max(time.time_ns() // 1_000_000, self._last_create_time + 1)
        return self._last_create_time

    def _create(self, handler: _Handler, raw_query: str, params: dict[str, str]):
        violation = self._checksum_violation("create", raw_query, params)
        if violation:
            handler.send_xml(_failed(*violation))
            return
        clean = {_sanitize(k): _sanitize(v) for k, v in params.items()}
        violations = []
        name = clean.get("name")
        if name is None:
            violations.append(("nullError", "You must provide a meeting name"))
        else:
            if name == "":
                violations.append(("emptyError", "You must provide a meeting name"))
            if not 2 <= _java_length(name) <= 256:
                violations.append(
                    ("sizeError", "Meeting name must be between 2 and 256 characters"))
        violations += _meeting_id_violations(clean.get("meetingID"))
        if "voiceBridge" in clean and not _INTEGRAL.match(clean["voiceBridge"]):
            violations.append(("validationError", "Voice bridge must be an integral value"))
        if "record" in clean and clean["record"].lower() not in ("true", "false"):
            violations.append(("validationError", "Record must be a boolean value (true or false)"))
        if violations:
            handler.send_xml(_failed(*_java_hashmap_first(violations)))
            return
        meeting_id = params.get("meetingID")
        if meeting_id is None or _sanitize(meeting_id) != meeting_id:
            handler.send_xml(_failed("validationError", "Invalid meeting ID"))
            return
        recorded = {k: v for k, v in params.items() if k != "checksum"}
        attendee_pw = params.get("attendeePW", "")
        moderator_pw = params.get("moderatorPW", "")
        with self._lock:
            self.creates.append(recorded)
            meeting = self.meetings.get(meeting_id)
            if meeting is None:
                create_time = self._next_create_time()
                meeting = self.meetings[meeting_id] = {
                    "meetingID": meeting_id,
                    "internalMeetingID":
                        f"{hashlib.sha1(meeting_id.encode()).hexdigest()}-{create_time}",
                    "createTime": create_time,
                    "name": params.get("name"),
                    "attendeePW": attendee_pw,
                    "moderatorPW": moderator_pw,
                    "guestPolicy": params.get("guestPolicy") or DEFAULT_GUEST_POLICY,
                    "voiceBridge":  # defaultNumDigitsForTelVoice=5
                        params.get("voiceBridge") or str(secrets.randbelow(90000) + 10000),
                    "params": recorded,
                    "creates": [recorded],
                }
                key = message = ""
            elif (meeting["attendeePW"] == attendee_pw and meeting["moderatorPW"] == moderator_pw
                  or not params.get("attendeePW") and not params.get("moderatorPW")):
                meeting["creates"].append(recorded)
                key = "duplicateWarning"
                message = ("This conference was already in existence and may currently be in "
                           "progress.")
            else:
                meeting = None
        if meeting is None:
            handler.send_xml(_failed(
                "idNotUnique",
                "A meeting already exists with that meeting ID.  Please use a different "
                "meeting ID."))
            return
        handler.send_xml(_xml(
            ("returncode", "SUCCESS"),
            ("meetingID", meeting["meetingID"]),
            ("internalMeetingID", meeting["internalMeetingID"]),
            ("parentMeetingID", "bbb-none"),
            ("attendeePW", meeting["attendeePW"] or None),
            ("moderatorPW", meeting["moderatorPW"] or None),
            ("createTime", str(meeting["createTime"])),
            ("voiceBridge", meeting["voiceBridge"]),
            ("dialNumber", DEFAULT_DIAL_NUMBER),
            ("createDate", _java_date(meeting["createTime"])),
            ("hasUserJoined", "false"),
            ("duration", params.get("duration") or "0"),
            ("hasBeenForciblyEnded", "false"),
            ("messageKey", key),
            ("message", message),
        ))

    def _join(self, handler: _Handler, raw_query: str, params: dict[str, str]):
        redirect = _java_bool(params["redirect"]) if params.get("redirect") else True

        def invalid(key: str, message: str):
            if not redirect:
                handler.send_xml(_failed(key, message))
                return
            target = params.get("errorRedirectUrl") or self.base_url + "/"
            errors = json.dumps([{"message": message, "key": key}], separators=(",", ":"))
            separator = "&" if "?" in target else "?"
            handler.redirect(f"{target}{separator}errors={quote(errors, safe='[]:,')}")

        violation = self._checksum_violation("join", raw_query, params)
        if violation:
            invalid(*violation)
            return
        recorded = {k: v for k, v in params.items() if k != "checksum"}

        def record(returncode: str, key: str, **extra):
            with self._lock:
                self.joins.append({**recorded, "returncode": returncode, "messageKey": key,
                                   **extra})

        clean = {_sanitize(k): _sanitize(v) for k, v in params.items()}
        violations = _meeting_id_violations(clean.get("meetingID"))
        with self._lock:
            meeting = self.meetings.get(clean.get("meetingID"))
        if meeting is None:
            violations.append(("invalidMeetingIdentifier", "A meeting with that ID does not exist"))
        if not clean.get("fullName"):
            violations.append(("missingParamFullName", "You must provide your name"))
        for name, message in (("guest", "Guest must be a boolean value (true or false)"),
                              ("auth", "Auth must be a boolean value (true or false)")):
            if name in clean and clean[name].lower() not in ("true", "false"):
                violations.append(("validationError", message))
        if "createTime" in clean and not _INTEGRAL.match(clean["createTime"]):
            violations.append(("validationError", "Value must be an integral number"))
        if violations:
            key, message = _java_hashmap_first(violations)
            record("FAILED", key)
            invalid(key, message)
            return

        if "createTime" in params:  # Long.parseLong(params.createTime), -1 when unparsable
            given = params["createTime"]
            create_time = int(given) if _INTEGRAL.match(given) else -1
            if create_time != meeting["createTime"]:
                record("FAILED", "mismatchCreateTimeParam")
                invalid("mismatchCreateTimeParam",
                        "The createTime parameter submitted mismatches with the current meeting.")
                return

        role = {"moderator": "MODERATOR", "viewer": "VIEWER"}.get(params.get("role", "").lower())
        password = params.get("password")
        if role is None:
            problem = None
            if password:
                if meeting["moderatorPW"] and meeting["attendeePW"]:
                    if password == meeting["moderatorPW"]:
                        role = "MODERATOR"
                    elif password == meeting["attendeePW"]:
                        role = "VIEWER"
                    else:
                        problem = "You must enter a valid password"
                else:
                    problem = ("You must send the 'role' parameter, since this meeting doesn't "
                               "have any password.")
            else:
                problem = ("You must either send the valid role of the user, or the password, "
                           "sould the meeting has one.")
            if problem:  # bbb-web renders these as XML whatever `redirect` says
                record("FAILED", "Params required")
                handler.send_xml(_failed("Params required", problem))
                return

        guest_provided = bool(params.get("guest"))
        guest = _java_bool(params.get("guest")) if guest_provided else False
        authenticated = not guest_provided
        if params.get("auth"):
            authenticated = _java_bool(params["auth"])
        guest_status = self._guest_status(meeting["guestPolicy"], role, guest, authenticated,
                                          guest_provided)

        user_id = "w_" + _random_alnum(12)
        auth_token = _random_alnum(12)
        session_token = _random_alnum(16)
        key, message = "successfullyJoined", "You have joined successfully."
        url = f"{self.base_url}{CLIENT_PATH}?sessionToken={session_token}"
        if guest_status == "WAIT":
            url = f"{self.base_url}{GUEST_WAIT_PATH}?sessionToken={session_token}"
            key, message = "guestWait", "Guest waiting for approval to join meeting."
        elif guest_status == "DENY":
            record("FAILED", "guestDeniedAccess", resolvedRole=role, guestStatus=guest_status)
            invalid("guestDeniedAccess",
                    "You have been denied access to this meeting based on the meeting's guest "
                    "policy")
            return
        record("SUCCESS", key, resolvedRole=role, guestStatus=guest_status,
               internalUserID=user_id, authToken=auth_token, sessionToken=session_token, url=url)
        if redirect:
            handler.redirect(url)
            return
        handler.send_xml(_xml(
            ("returncode", "SUCCESS"),
            ("messageKey", key),
            ("message", message),
            ("meeting_id", meeting["internalMeetingID"]),
            ("user_id", user_id),
            ("auth_token", auth_token),
            ("session_token", session_token),
            ("guestStatus", guest_status),
            ("url", url),
        ))

    @staticmethod
    def _guest_status(policy: str, role: str, guest: bool, authenticated: bool,
                      guest_provided: bool) -> str:
        """Meeting.calcGuestStatus with authenticatedGuest=true (the shipped default)."""
        if role == "MODERATOR" or (guest_provided and not guest):
            return "ALLOW"
        if policy == "ALWAYS_ACCEPT":
            return "ALLOW"
        if policy == "ALWAYS_DENY":
            return "DENY"
        if policy == "ASK_MODERATOR":
            return "WAIT" if guest or authenticated else "ALLOW"
        if policy == "ALWAYS_ACCEPT_AUTH":
            return "WAIT" if guest else "ALLOW"
        return "DENY"
