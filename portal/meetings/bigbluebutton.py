"""BigBlueButton: a server-side `create` (idempotent: it answers the running meeting when there
is one), then `join` for this person with their role, and the browser goes to the URL BBB
answers. Every call carries BBB's checksum: the hex digest of call name + query + shared secret.
"""

import hashlib
import logging
import re
import xml.etree.ElementTree as ElementTree
from urllib.error import URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import urlopen

from .common import Unreachable

SETTINGS = ("BIGBLUEBUTTON_ENDPOINT", "BIGBLUEBUTTON_SECRET")
OPTIONAL = {"BIGBLUEBUTTON_CHECKSUM": "sha1"}  # what the server checks API calls with
CHECKSUMS = ("sha1", "sha256", "sha384", "sha512")
MAX_ANSWER = 1_000_000  # bytes: BBB's answers are a few hundred

log = logging.getLogger(__name__)


# bbb-web's limits on a meeting's `name` and `meetingID` (create): 2 to 256 characters as Java
# counts them, in UTF-16 code units (an emoji is two), after it drops control characters and
# trims the ends; a meetingID has no comma. Otherwise create answers FAILED (sizeError).
MIN_LENGTH, MAX_LENGTH = 2, 256
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _java_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def meeting_id_fits(meeting_id: str) -> bool:
    return MIN_LENGTH <= _java_length(meeting_id) <= MAX_LENGTH and "," not in meeting_id \
        and _CONTROL.sub("", meeting_id).strip() == meeting_id


def meeting_title(title: str, meeting_id: str) -> str:
    """The `name` BBB shows for the meeting: the room's title, or where BBB would refuse it, the
    title followed by the meeting ID (a title of one letter) or cut to fit (a long title of
    emoji: the form counts 200 characters, BBB counts 400)."""
    name = _CONTROL.sub("", title).strip()
    while _java_length(name) > MAX_LENGTH:
        name = name[:-1]  # a whole character: never half of an emoji's pair
    name = name.strip()
    if _java_length(name) < MIN_LENGTH:
        name = f"{name} ({meeting_id})" if name else meeting_id
    return name


def check(config) -> None:
    url = urlsplit(config["BIGBLUEBUTTON_ENDPOINT"])
    if url.scheme not in ("https", "http") or not url.netloc:
        raise ValueError("BIGBLUEBUTTON_ENDPOINT must be the API's address, "
                         "e.g. https://bbb.example.org/bigbluebutton/api/")
    if _algorithm(config) not in CHECKSUMS:
        raise ValueError(f"BIGBLUEBUTTON_CHECKSUM must be one of {', '.join(CHECKSUMS)}")


def call_url(config, call: str, params: dict) -> str:
    """The API call's address, with its checksum."""
    query = urlencode(params)
    algorithm = _algorithm(config)
    checksum = hashlib.new(algorithm, (call + query + config["BIGBLUEBUTTON_SECRET"])
                           .encode()).hexdigest()
    endpoint = config["BIGBLUEBUTTON_ENDPOINT"].rstrip("/") + "/"
    return f"{endpoint}{call}?{query}&checksum={checksum}"


def call(config, name: str, params: dict) -> ElementTree.Element:
    """One API call; its answer, or Unreachable (the address with its checksum is never logged)."""
    try:
        with urlopen(call_url(config, name, params),
                     timeout=config.get("MEETING_TIMEOUT", 5)) as answer:
            root = ElementTree.fromstring(answer.read(MAX_ANSWER))
    except (URLError, OSError, ValueError, ElementTree.ParseError) as exc:
        raise Unreachable(f"BigBlueButton {name}: {type(exc).__name__}") from None
    if root.findtext("returncode") != "SUCCESS":
        key = root.findtext("messageKey") or "no messageKey"
        log.warning("BigBlueButton refused %s: %s", name, key)
        raise Unreachable(f"BigBlueButton {name}: {key}")
    return root


def join_url(config, meeting, attendee, now: float) -> str:
    created = call(config, "create", {"meetingID": meeting.name,
                                      "name": meeting_title(meeting.title, meeting.name),
                                      # Guestgate is the lobby: BBB's own waiting room is off.
                                      "guestPolicy": "ALWAYS_ACCEPT"})
    joined = call(config, "join", {
        "fullName": attendee.name,
        "meetingID": meeting.name,
        "role": "MODERATOR" if attendee.role == "moderator" else "VIEWER",
        "userID": attendee.identity,
        "createTime": created.findtext("createTime") or "",
        "redirect": "false",
    })
    url = joined.findtext("url") or ""
    if not url.startswith(("https://", "http://")):
        raise Unreachable("BigBlueButton join: no client URL in the answer")
    return url


def _algorithm(config) -> str:
    return (config.get("BIGBLUEBUTTON_CHECKSUM") or OPTIONAL["BIGBLUEBUTTON_CHECKSUM"]).lower()
