"""The fake BigBlueButton server (tests/bbb_server.py) against references that owe it nothing:
the API reference's own checksum example, and URLs built by two BigBlueButton client libraries
from PyPI (bigbluebutton-api-python, bbbctl), all sent over real HTTP with urllib."""

import hashlib
import urllib.error
import urllib.request
import warnings
import xml.etree.ElementTree as ET
from http.client import RemoteDisconnected
from urllib.parse import parse_qs, quote_plus, unquote, urlsplit

import pytest
from bbb_server import FakeBigBlueButton

with warnings.catch_warnings():
    # bigbluebutton-api-python 0.0.11 has an invalid escape sequence ('\/') in a regex literal:
    # a DeprecationWarning, which this suite turns into an error, whenever its module compiles.
    warnings.simplefilter("ignore")
    from bbbctl import BBBApiClient
    from bigbluebutton_api_python import BigBlueButton
    from bigbluebutton_api_python.exception import BBBException

# docs.bigbluebutton.org, API reference, "API Security Model": the worked SHA-1 example
DOC_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
DOC_QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
DOC_CHECKSUM = "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17"

SECRET = "s3cr3t-for-the-fake"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # hand the 3xx back instead of following it


_no_redirect = urllib.request.build_opener(_NoRedirect)


def fetch(url, timeout=5):
    """(status, headers, body) of one GET, redirects not followed."""
    try:
        with _no_redirect.open(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def answer(url):
    """The XML answer of an API call that must answer HTTP 200, as {tag: text}."""
    status, headers, body = fetch(url)
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(body)
    assert root.tag == "response"
    return {child.tag: child.text or "" for child in root}


def signed(endpoint, call, query, secret=SECRET, algorithm="sha1"):
    checksum = hashlib.new(algorithm, (call + query + secret).encode()).hexdigest()
    return f"{endpoint}{call}?{query}&checksum={checksum}"


@pytest.fixture
def bbb():
    with FakeBigBlueButton(SECRET) as server:
        yield server
    assert server.errors == []


def create(bbb, meeting_id="room-1", **params):
    query = f"name=Room+One&meetingID={quote_plus(meeting_id)}"
    for name, value in params.items():
        query += f"&{name}={quote_plus(str(value))}"
    reply = answer(signed(bbb.endpoint, "create", query))
    assert reply["returncode"] == "SUCCESS", reply
    return reply


def join_url(bbb, meeting_id="room-1", **params):
    query = f"fullName=Ada+Guest&meetingID={quote_plus(meeting_id)}"
    for name, value in params.items():
        query += f"&{name}={quote_plus(str(value))}"
    return signed(bbb.endpoint, "join", query)


# --- 1. the API reference's example ----------------------------------------------------------

def test_the_api_references_sha1_example_is_accepted():
    with FakeBigBlueButton(DOC_SECRET) as bbb:
        reply = answer(f"{bbb.endpoint}create?{DOC_QUERY}&checksum={DOC_CHECKSUM}")
    assert reply["returncode"] == "SUCCESS"
    assert reply["meetingID"] == "abc123"
    assert reply["attendeePW"] == "111222" and reply["moderatorPW"] == "333444"
    assert bbb.meetings["abc123"]["name"] == "Test Meeting"  # '+' decoded as a space
    assert bbb.errors == []


@pytest.mark.parametrize("query, checksum", [
    (DOC_QUERY.replace("abc123", "abc124"), DOC_CHECKSUM),       # one character of a value
    (DOC_QUERY.replace("Test+", "Test%20"), DOC_CHECKSUM),         # same value, other encoding
    (DOC_QUERY, DOC_CHECKSUM[:-1] + "e"),                          # one character of the sum
    ("&".join(reversed(DOC_QUERY.split("&"))), DOC_CHECKSUM),      # same parameters, reordered
], ids=["value", "encoding", "checksum", "order"])
def test_the_api_references_example_changed_in_one_place_is_refused(query, checksum):
    with FakeBigBlueButton(DOC_SECRET) as bbb:
        reply = answer(f"{bbb.endpoint}create?{query}&checksum={checksum}")
    assert reply == {"returncode": "FAILED", "messageKey": "checksumError",
                     "message": "Checksums do not match"}
    assert bbb.meetings == {} and bbb.creates == []


def test_the_checksum_may_stand_anywhere_and_in_either_case():
    # bbb-web removes "checksum=X&" as well as "&checksum=X", and compares ignoring case
    with FakeBigBlueButton(DOC_SECRET) as bbb:
        first = answer(f"{bbb.endpoint}create?checksum={DOC_CHECKSUM}&{DOC_QUERY}")
        upper = answer(f"{bbb.endpoint}create?{DOC_QUERY}&checksum={DOC_CHECKSUM.upper()}")
    assert first["returncode"] == upper["returncode"] == "SUCCESS"


def test_a_missing_checksum_is_refused(bbb):
    reply = answer(f"{bbb.endpoint}create?name=Room+One&meetingID=room-1")
    assert reply["messageKey"] == "checksumError"
    assert reply["message"] == "You must provide the checksum"


# --- 2. URLs built by independent client libraries --------------------------------------------

def test_bigbluebutton_api_python_creates_and_joins_end_to_end(bbb):
    client = BigBlueButton(bbb.endpoint, SECRET)
    created = client.create_meeting(
        "lib-room", params={"name": "Library room", "attendeePW": "ap", "moderatorPW": "mp",
                            "guestPolicy": "ALWAYS_ACCEPT"})
    assert created.get_meetingid() == "lib-room"
    meeting = bbb.meetings["lib-room"]
    assert meeting["params"]["guestPolicy"] == "ALWAYS_ACCEPT"
    assert meeting["name"] == "Library room"

    # the legacy form: the attendee password settles the role
    url = client.get_join_meeting_url("Ada Lovelace", "lib-room", "ap",
                                      params={"redirect": "false", "userID": "user-7"})
    reply = answer(url)
    assert reply["returncode"] == "SUCCESS" and reply["messageKey"] == "successfullyJoined"
    assert reply["meeting_id"] == meeting["internalMeetingID"]
    assert reply["guestStatus"] == "ALLOW"
    assert reply["url"] == f"{bbb.base_url}/html5client/join?sessionToken={reply['session_token']}"
    assert bbb.joins[-1]["fullName"] == "Ada Lovelace"
    assert bbb.joins[-1]["resolvedRole"] == "VIEWER"
    assert bbb.joins[-1]["userID"] == "user-7"
    assert bbb.joins[-1]["internalUserID"] == reply["user_id"]

    # the 2.4+ form: role instead of a password, pinned to this meeting's createTime
    url = client.get_join_meeting_url(
        "Grace Hopper", "lib-room", "",
        params={"role": "MODERATOR", "createTime": meeting["createTime"], "redirect": "false"})
    assert answer(url)["returncode"] == "SUCCESS"
    assert bbb.joins[-1]["resolvedRole"] == "MODERATOR"

    assert client.get_api_version().get_version() == "2.0"  # the version call, via the library


def test_bigbluebutton_api_python_with_the_wrong_secret_is_refused(bbb):
    client = BigBlueButton(bbb.endpoint, "not-" + SECRET)
    with pytest.raises(BBBException) as refused:
        client.create_meeting("lib-room", params={"name": "Library room"})
    assert refused.value.key == "checksumError"
    assert bbb.meetings == {}


def test_bbbctl_creates_and_joins_a_guest_who_must_wait(bbb):
    client = BBBApiClient(bbb.endpoint, SECRET)
    created = client.createMeeting("ctl-room", "Waiting room", guestPolicy="ASK_MODERATOR")
    create_time = int(created.findtext("createTime"))
    assert create_time == bbb.meetings["ctl-room"]["createTime"]
    assert bbb.meetings["ctl-room"]["guestPolicy"] == "ASK_MODERATOR"

    guest = answer(client.getJoinLink("ctl-room", "Ada Guest", role="VIEWER", guest="true",
                                      createTime=create_time, redirect="false"))
    assert guest["messageKey"] == "guestWait" and guest["guestStatus"] == "WAIT"
    assert guest["url"].startswith(f"{bbb.base_url}/html5client/guestWait?sessionToken=")

    host = answer(client.getJoinLink("ctl-room", "Host", role="moderator",
                                     createTime=create_time, redirect="false"))
    assert host["guestStatus"] == "ALLOW"  # a moderator is let in whatever the policy
    assert [j["resolvedRole"] for j in bbb.joins] == ["VIEWER", "MODERATOR"]


def test_a_join_without_redirect_false_is_a_redirect_to_the_client(bbb):
    create(bbb)
    status, headers, _ = fetch(join_url(bbb, role="VIEWER"))
    assert status == 302
    location = headers["Location"]
    assert location == bbb.joins[-1]["url"]
    assert location.startswith(f"{bbb.base_url}/html5client/join?sessionToken=")
    with urllib.request.urlopen(join_url(bbb, role="VIEWER"), timeout=5) as followed:
        assert followed.status == 200
        assert urlsplit(followed.url).path == "/html5client/join"


# --- 3. the rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_longer_checksums_are_accepted_when_allowed(algorithm):
    with FakeBigBlueButton(SECRET) as bbb:
        reply = answer(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2",
                              algorithm=algorithm))
    assert reply["returncode"] == "SUCCESS"


def test_an_algorithm_the_server_does_not_allow_is_refused():
    with FakeBigBlueButton(SECRET, algorithms=("sha1",)) as bbb:
        sha256 = answer(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2",
                               algorithm="sha256"))
        sha1 = answer(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2"))
    assert sha256["messageKey"] == "checksumError"
    assert sha1["returncode"] == "SUCCESS"


def test_a_repeated_create_is_idempotent(bbb):
    first = create(bbb, guestPolicy="ASK_MODERATOR", attendeePW="ap", moderatorPW="mp")
    again = create(bbb, guestPolicy="ASK_MODERATOR", attendeePW="ap", moderatorPW="mp")
    assert first["messageKey"] == ""
    assert again["messageKey"] == "duplicateWarning"
    assert again["createTime"] == first["createTime"]
    assert again["internalMeetingID"] == first["internalMeetingID"]
    assert first["internalMeetingID"] == (
        hashlib.sha1(b"room-1").hexdigest() + "-" + first["createTime"])
    assert bbb.meetings["room-1"]["createTime"] == int(first["createTime"])
    assert len(bbb.meetings["room-1"]["creates"]) == 2
    assert bbb.calls["create"] == 2

    other = answer(signed(bbb.endpoint, "create",
                          "name=Room+One&meetingID=room-1&attendeePW=x&moderatorPW=y"))
    assert other["messageKey"] == "idNotUnique"


def test_a_meeting_created_again_after_it_expired_has_a_new_create_time(bbb):
    first = create(bbb)
    bbb.expire("room-1")
    second = create(bbb)
    assert second["messageKey"] == ""
    assert int(second["createTime"]) > int(first["createTime"])
    assert bbb.expired[0]["createTime"] == int(first["createTime"])
    # a join URL made for the first meeting no longer fits: a redirect carrying the error
    status, headers, _ = fetch(join_url(bbb, role="VIEWER", createTime=first["createTime"]))
    assert status == 302
    assert '"key":"mismatchCreateTimeParam"' in unquote(headers["Location"])


def test_create_needs_a_name_and_a_meeting_id(bbb):
    nameless = answer(signed(bbb.endpoint, "create", "meetingID=room-1"))
    idless = answer(signed(bbb.endpoint, "create", "name=Room+One"))
    assert nameless["messageKey"] == "nullError"
    assert idless["messageKey"] == "validationError"
    assert bbb.meetings == {}



@pytest.mark.parametrize("name, meeting_id, key", [
    ("Q", "room-1", "sizeError"),  # a one-letter title
    ("  Q \x07", "room-1", "sizeError"),  # what is left after BBB trims it
    ("\U0001f389" * 128, "room-1", None),  # 256 UTF-16 units: the most
    ("\U0001f389" * 129, "room-1", "sizeError"),  # 129 characters, but 258 as Java counts
    ("Room One", "q", "sizeError"),
    ("Room One", "x" * 257, "sizeError"),
    ("Room One", "a,b", "validationError"),
], ids=["one-letter-name", "trimmed-name", "256-units", "257-units-and-more", "one-letter-id",
        "long-id", "comma-in-id"])
def test_names_and_meeting_ids_are_measured_as_java_measures_them(bbb, name, meeting_id, key):
    """bbb-web's @Size counts a Java String's length: UTF-16 code units, so an emoji counts
    twice. 2 to 256 for the name and the meeting ID; no comma in the meeting ID."""
    reply = answer(signed(bbb.endpoint, "create",
                          f"name={quote_plus(name)}&meetingID={quote_plus(meeting_id)}"))
    if key is None:
        assert reply["returncode"] == "SUCCESS"
        assert bbb.meetings[meeting_id]["name"] == name
    else:
        assert (reply["returncode"], reply["messageKey"]) == ("FAILED", key)
        assert bbb.meetings == {}

def test_a_join_before_the_create_is_refused(bbb):
    reply = answer(join_url(bbb, role="VIEWER", redirect="false"))
    assert reply["returncode"] == "FAILED"
    assert reply["messageKey"] == "invalidMeetingIdentifier"

    status, headers, _ = fetch(join_url(bbb, role="VIEWER"))  # the browser's form: a redirect
    assert status == 302
    location = urlsplit(headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == bbb.base_url
    errors = parse_qs(location.query)["errors"][0]
    assert '"key":"invalidMeetingIdentifier"' in errors


def test_a_join_with_another_create_time_is_refused(bbb):
    created = create(bbb)
    stale = answer(join_url(bbb, role="VIEWER", createTime=int(created["createTime"]) - 1,
                            redirect="false"))
    assert stale["messageKey"] == "mismatchCreateTimeParam"
    fresh = answer(join_url(bbb, role="VIEWER", createTime=created["createTime"],
                            redirect="false"))
    assert fresh["returncode"] == "SUCCESS"
    assert [j["messageKey"] for j in bbb.joins] == ["mismatchCreateTimeParam",
                                                    "successfullyJoined"]
    assert bbb.joins[-1]["createTime"] == created["createTime"]


def test_a_join_needs_a_role_or_a_password_and_a_name(bbb):
    create(bbb, attendeePW="ap", moderatorPW="mp")
    neither = answer(join_url(bbb, redirect="false"))
    wrong = answer(join_url(bbb, password="nope", redirect="false"))
    nameless = answer(signed(bbb.endpoint, "join",
                             "meetingID=room-1&role=VIEWER&redirect=false"))
    assert neither["messageKey"] == wrong["messageKey"] == "Params required"
    assert nameless["messageKey"] == "missingParamFullName"


def test_a_guest_is_turned_away_when_the_policy_denies_guests(bbb):
    create(bbb, guestPolicy="ALWAYS_DENY")
    reply = answer(join_url(bbb, role="VIEWER", guest="true", redirect="false"))
    assert reply["messageKey"] == "guestDeniedAccess"


def test_the_version_call(bbb):
    reply = answer(bbb.endpoint)
    assert reply["returncode"] == "SUCCESS" and reply["version"] == "2.0"
    assert bbb.calls["index"] == 1


# --- fault modes ---------------------------------------------------------------------------------

def test_hang_holds_the_request_until_the_clients_timeout(bbb):
    bbb.mode = "hang"
    with pytest.raises(TimeoutError):
        urllib.request.urlopen(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2"),
                               timeout=0.5)
    assert bbb.calls["create"] == 1  # it arrived, and was held, not answered
    assert bbb.meetings == {}
    # leaving the fixture's `with` releases the held request: no sleeping thread is left behind


def test_fail_answers_failed(bbb):
    bbb.mode = "fail"
    reply = answer(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2"))
    assert reply["returncode"] == "FAILED" and reply["messageKey"] == "serverError"


def test_error_and_garbage_answer_what_is_not_the_api(bbb):
    bbb.mode = "error"
    status, _, _ = fetch(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2"))
    assert status == 500
    bbb.mode = "garbage"
    status, headers, body = fetch(signed(bbb.endpoint, "create", "name=Room+One&meetingID=r2"))
    assert status == 200 and headers["Content-Type"] == "text/html"
    with pytest.raises(ET.ParseError):
        ET.fromstring(body)


def test_drop_closes_the_connection_unanswered(bbb):
    bbb.mode = "drop"
    with pytest.raises(RemoteDisconnected):
        urllib.request.urlopen(bbb.endpoint, timeout=5)


def test_down_refuses_the_connection():
    with FakeBigBlueButton.down() as endpoint, pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(endpoint + "create", timeout=5)
    assert isinstance(refused.value.reason, ConnectionRefusedError)


def test_an_unknown_mode_is_refused(bbb):
    with pytest.raises(ValueError):
        bbb.mode = "slow"
    bbb.mode = "ok"
    assert answer(bbb.endpoint)["returncode"] == "SUCCESS"
