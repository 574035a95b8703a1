"""The credentials Guestgate mints for each meeting platform, checked by verifiers that aren't
ours: LiveKit's own SDK (TokenVerifier), PyJWT applying exactly the checks of Jitsi's prosody
token verifier and of Galène's, and for BigBlueButton the API reference's checksum example, an
independent client library, and a real HTTP server that validates checksums as BBB does
(tests/bbb_server.py). The join moment in the app is tests/test_join_live.py."""

import base64
import time
import warnings
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from bbb_server import TEST_SECRET as BBB_SECRET
from bbb_server import FakeBigBlueButton
from livekit import api

from portal import meetings
from portal.meetings import bigbluebutton, galene, jitsi, livekit, other

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # its module has an invalid escape sequence
    from bigbluebutton_api_python.util.urlbuilder import UrlBuilder

MEETING = meetings.Meeting(name="launch-7", title="Product launch")
KEY = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
CONFIG = {
    "BASE_URL": "https://guests.example.org",
    "SECRET_KEY": "app-secret",
    "JITSI_URL": "https://meet.example.org/", "JITSI_APP_ID": "guestgate",
    "JITSI_APP_SECRET": "jitsi-secret-0123456789abcdef0123", "JITSI_AUDIENCE": "jitsi",
    "LIVEKIT_URL": "wss://lk.example.org", "LIVEKIT_API_KEY": "APIkey",
    "LIVEKIT_API_SECRET": "livekit-secret-0123456789abcdef0123456789",
    "LIVEKIT_MEET_URL": "https://meet.livekit.example/custom",
    "GALENE_URL": "https://galene.example.org:8443", "GALENE_KEY": KEY, "GALENE_KEY_ID": "gg1",
    "BIGBLUEBUTTON_ENDPOINT": "", "BIGBLUEBUTTON_SECRET": "", "BIGBLUEBUTTON_CHECKSUM": "sha1",
    "MEETING_TIMEOUT": 0.5,
}


def person(role="viewer", source="unverified"):
    return meetings.Attendee(identity="participant-42", name="Ada Lovelace",
                             email="ada@example.com", role=role, email_source=source)


def query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- Jitsi: exactly what prosody's token verifier checks -------------------------------------

def jitsi_verify(token: str, room: str, now: float | None = None) -> dict:
    """Jitsi's checks (mod_auth_token / token util): HS256 with the app secret, `typ` JWT,
    `iss` = app id, `aud` accepted, `room` = the conference, `nbf` / `exp` numbers, no leeway."""
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, CONFIG["JITSI_APP_SECRET"], algorithms=["HS256"],
                        audience=CONFIG["JITSI_AUDIENCE"], issuer=CONFIG["JITSI_APP_ID"],
                        leeway=0, options={"require": ["iss", "aud", "exp", "nbf", "room"]})
    assert type(claims["exp"]) is int and type(claims["nbf"]) is int
    assert isinstance(claims["aud"], str)
    assert claims["room"] == room
    user = claims["context"]["user"]
    # The email only where it was verified (below); `email_source` always.
    assert set(user) - {"email"} == {"id", "name", "affiliation", "email_source"}
    # Strings only: prosody's presence_identity writes every field of context.user into the
    # presence as text, and its stanza builder refuses anything else (null, true, a number).
    assert all(isinstance(value, str) for value in user.values())
    return claims


@pytest.mark.parametrize("role, affiliation", [("moderator", "owner"), ("speaker", "member"),
                                               ("viewer", "member")])
def test_jitsi_token_passes_jitsis_checks_with_the_role(role, affiliation):
    now = time.time()
    url = jitsi.join_url(CONFIG, MEETING, person(role), now)
    assert url.startswith("https://meet.example.org/launch-7?jwt=")
    assert url.endswith("#config.prejoinConfig.enabled=false")  # Guestgate is the lobby
    claims = jitsi_verify(query(url.split("#")[0])["jwt"], "launch-7")
    user = claims["context"]["user"]
    assert user == {"id": "participant-42", "name": "Ada Lovelace", "affiliation": affiliation,
                    "email_source": "unverified"}
    assert claims["nbf"] < now <= claims["exp"] <= now + 120


@pytest.mark.parametrize("source, email", [
    ("account", "ada@example.com"), ("confirmed", "ada@example.com"),
    ("invitation", None), ("unverified", None)])
def test_jitsi_token_asserts_an_email_only_where_it_was_verified(source, email):
    """Jitsi takes context.user as the server's word: it shows it to every participant
    (presence identity) and passes it on (event webhooks). A typed email isn't put there; the
    token says how the email was established, as the Other platforms' ticket does."""
    token = jitsi.token(CONFIG, MEETING, person(source=source), time.time())
    user = jitsi_verify(token, "launch-7")["context"]["user"]
    assert user.get("email") == email
    assert user["email_source"] == source
    assert user["name"] == "Ada Lovelace"  # the display name, as anyone's in Jitsi


def test_jitsi_room_is_lower_case_and_other_rooms_refuse_it():
    token = jitsi.token(CONFIG, meetings.Meeting(name="Launch-7", title="x"), person(),
                        time.time())
    jitsi_verify(token, "launch-7")
    with pytest.raises(AssertionError):
        jitsi_verify(token, "other-room")


def test_jitsi_refuses_an_expired_or_not_yet_valid_token_with_no_leeway():
    expired = jitsi.token(CONFIG, MEETING, person(), time.time() - 121)
    with pytest.raises(jwt.ExpiredSignatureError):
        jitsi_verify(expired, "launch-7")
    early = jitsi.token(CONFIG, MEETING, person(), time.time() + 60)
    with pytest.raises(jwt.ImmatureSignatureError):
        jitsi_verify(early, "launch-7")
    forged = jitsi.token({**CONFIG, "JITSI_APP_SECRET": "x" * 32}, MEETING, person(),
                         time.time())
    with pytest.raises(jwt.InvalidSignatureError):
        jitsi_verify(forged, "launch-7")


# --- LiveKit: the official SDK's verifier ------------------------------------------------------

@pytest.mark.parametrize("role, publish, admin", [("moderator", True, True),
                                                  ("speaker", True, None),
                                                  ("viewer", False, None)])
def test_livekit_token_verified_by_the_sdk_with_grants_per_role(role, publish, admin):
    url = livekit.join_url(CONFIG, MEETING, person(role), time.time())
    assert url.startswith("https://meet.livekit.example/custom?")
    params = query(url)
    assert params["liveKitUrl"] == "wss://lk.example.org"
    claims = api.TokenVerifier(CONFIG["LIVEKIT_API_KEY"], CONFIG["LIVEKIT_API_SECRET"]) \
        .verify(params["token"])
    assert claims.identity == "participant-42" and "@" not in claims.identity
    assert claims.name == "Ada Lovelace"
    video = claims.video
    assert video.room == "launch-7" and video.room_join is True
    assert video.can_subscribe is True and video.can_publish_data is True
    assert video.can_publish is publish and video.room_admin is admin
    assert not video.room_create and not video.room_list and not video.room_record
    # Short-lived: read the standard claims the SDK stamped.
    raw = jwt.decode(params["token"], options={"verify_signature": False})
    assert raw["exp"] - raw["nbf"] <= 120


def test_livekit_token_for_one_room_is_not_for_another_nor_for_another_key():
    token = livekit.token(CONFIG, MEETING, person(), time.time())
    claims = api.TokenVerifier(CONFIG["LIVEKIT_API_KEY"], CONFIG["LIVEKIT_API_SECRET"]) \
        .verify(token)
    assert claims.video.room == "launch-7" != "room-b"
    with pytest.raises(jwt.InvalidSignatureError):
        api.TokenVerifier(CONFIG["LIVEKIT_API_KEY"], "another-secret-0123456789abcdef0123456789") \
            .verify(token)


# --- Galène: its token verifier's checks ------------------------------------------------------

def galene_verify(token: str, group_url: str) -> dict:
    """Galène (token/jwt.go): signature with the group's key, `exp` required, `iat` checked,
    5 s leeway; `aud` must be the group's URL; `permissions` an array of strings."""
    claims = jwt.decode(token, b"k" * 32, algorithms=["HS256"], audience=group_url, leeway=5,
                        options={"require": ["exp", "iat", "sub", "aud"]})
    assert isinstance(claims["permissions"], list)
    assert all(isinstance(p, str) for p in claims["permissions"])
    return claims


@pytest.mark.parametrize("role, permissions", [("moderator", ["op", "present", "message"]),
                                               ("speaker", ["present", "message"]),
                                               ("viewer", ["message"])])
def test_galene_token_passes_galenes_checks_with_permissions_per_role(role, permissions):
    now = time.time()
    url = galene.join_url(CONFIG, MEETING, person(role), now)
    group = "https://galene.example.org:8443/group/launch-7/"
    assert url.startswith(group + "?token=")
    token = query(url)["token"]
    assert jwt.get_unverified_header(token)["kid"] == "gg1"
    claims = galene_verify(token, group)
    assert claims["sub"] == "Ada Lovelace" and claims["permissions"] == permissions
    assert claims["exp"] <= now + 120
    with pytest.raises(jwt.InvalidAudienceError):
        galene_verify(token, "https://galene.example.org:8443/group/other/")


def test_galene_key_must_be_32_bytes_of_base64url():
    galene.check(CONFIG)
    for bad in ("short", "!!!not base64!!!", base64.urlsafe_b64encode(b"k" * 16).decode()):
        with pytest.raises(ValueError, match="32 bytes"):
            galene.check({**CONFIG, "GALENE_KEY": bad})


# --- BigBlueButton: checksums, and a server that validates them -------------------------------

DOC_SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"


def test_bigbluebutton_checksum_is_the_api_references_example():
    url = bigbluebutton.call_url(
        {"BIGBLUEBUTTON_ENDPOINT": "https://bbb.example.org/bigbluebutton/api",
         "BIGBLUEBUTTON_SECRET": DOC_SECRET},
        "create", {"name": "Test Meeting", "meetingID": "abc123", "attendeePW": "111222",
                   "moderatorPW": "333444"})
    assert url == ("https://bbb.example.org/bigbluebutton/api/create?name=Test+Meeting"
                   "&meetingID=abc123&attendeePW=111222&moderatorPW=333444"
                   "&checksum=1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17")


def test_bigbluebutton_checksum_matches_an_independent_client_library():
    config = {"BIGBLUEBUTTON_ENDPOINT": "https://bbb.example.org/bigbluebutton/api/",
              "BIGBLUEBUTTON_SECRET": "s3cr3t"}
    params = {"fullName": "Zoë O'Brien & co", "meetingID": "launch-7", "role": "VIEWER",
              "userID": "participant-42", "createTime": "1700000000000", "redirect": "false"}
    theirs = UrlBuilder("https://bbb.example.org/bigbluebutton/api/", "s3cr3t") \
        .buildUrl("join", params)
    assert bigbluebutton.call_url(config, "join", params) == theirs


def bbb_config(server, **extra):
    return {**CONFIG, "BIGBLUEBUTTON_ENDPOINT": server.endpoint,
            "BIGBLUEBUTTON_SECRET": BBB_SECRET, **extra}


@pytest.mark.parametrize("role, bbb_role", [("moderator", "MODERATOR"), ("speaker", "VIEWER"),
                                            ("viewer", "VIEWER")])
def test_bigbluebutton_creates_then_joins_with_the_role(bbb, role, bbb_role):
    url = bigbluebutton.join_url(bbb_config(bbb), MEETING, person(role), time.time())
    assert url.startswith(bbb.base_url + "/html5client/join?sessionToken=")
    meeting = bbb.meetings["launch-7"]
    assert meeting["name"] == "Product launch" and meeting["guestPolicy"] == "ALWAYS_ACCEPT"
    (joined,) = bbb.joins
    assert joined["returncode"] == "SUCCESS"
    assert joined["fullName"] == "Ada Lovelace" and joined["role"] == bbb_role
    assert joined["userID"] == "participant-42"
    assert joined["createTime"] == str(meeting["createTime"])
    assert joined["redirect"] == "false"


def test_bigbluebutton_create_is_idempotent_across_joins(bbb):
    config = bbb_config(bbb)
    bigbluebutton.join_url(config, MEETING, person("moderator"), time.time())
    bigbluebutton.join_url(config, MEETING, person("viewer"), time.time())
    assert bbb.calls["create"] == 2 and len(bbb.meetings) == 1
    assert [j["returncode"] for j in bbb.joins] == ["SUCCESS", "SUCCESS"]


@pytest.mark.parametrize("title, shown", [
    ("Q", "Q (launch-7)"), ("  Q\x07 ", "Q (launch-7)"), ("", "launch-7"),
    ("\U0001f389" * 200, "\U0001f389" * 128), ("ab" + " " * 300 + "c", "ab"),
    ("Product launch", "Product launch")],
    ids=["one-letter", "one-letter-once-trimmed", "empty", "400-utf16-units", "cut-then-trimmed",
         "as-it-is"])
def test_bigbluebutton_names_the_meeting_within_its_limits(bbb, title, shown):
    """BBB's create wants a name of 2 to 256 UTF-16 code units once trimmed (sizeError
    otherwise): a short title gets the meeting ID after it, a long one is cut."""
    assert bigbluebutton.meeting_title(title, "launch-7") == shown
    meeting = meetings.Meeting(name="launch-7", title=title)
    assert "/html5client/join" in bigbluebutton.join_url(bbb_config(bbb), meeting, person(),
                                                         time.time())
    assert bbb.meetings["launch-7"]["name"] == shown


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_bigbluebutton_longer_checksums(algorithm):
    with FakeBigBlueButton(BBB_SECRET, algorithms=(algorithm,)) as server:
        url = bigbluebutton.join_url(bbb_config(server, BIGBLUEBUTTON_CHECKSUM=algorithm),
                                     MEETING, person(), time.time())
        assert "/html5client/join" in url


@pytest.mark.parametrize("mode", ["fail", "error", "garbage", "drop", "hang"])
def test_bigbluebutton_that_refuses_or_hangs_is_unreachable(bbb, mode):
    bbb.mode = mode
    with pytest.raises(meetings.Unreachable):
        bigbluebutton.join_url(bbb_config(bbb), MEETING, person(), time.time())


def test_bigbluebutton_with_the_wrong_secret_or_down_is_unreachable(bbb):
    with pytest.raises(meetings.Unreachable, match="checksumError"):
        bigbluebutton.join_url(bbb_config(bbb, BIGBLUEBUTTON_SECRET="wrong"), MEETING,
                               person(), time.time())
    with FakeBigBlueButton.down() as endpoint, pytest.raises(meetings.Unreachable):
        bigbluebutton.join_url({**CONFIG, "BIGBLUEBUTTON_ENDPOINT": endpoint,
                                "BIGBLUEBUTTON_SECRET": "x"}, MEETING, person(), time.time())


# --- Other platforms: Guestgate's own ticket, a standard JWT ----------------------------------

def test_other_ticket_is_a_standard_jwt_with_audience_and_a_unique_id():
    meeting = meetings.Meeting(name="launch-7", title="x",
                               join_url="https://live.example.com/r/7?lang=en")
    now = time.time()
    first = query(other.join_url(CONFIG, meeting, person(), now))
    second = query(other.join_url(CONFIG, meeting, person(), now))
    assert first["lang"] == "en"
    secret = other.ticket_secret(CONFIG)
    assert secret != CONFIG["SECRET_KEY"]
    claims = jwt.decode(first["guestgate_ticket"], secret, algorithms=["HS256"],
                        audience="https://live.example.com", leeway=0)
    assert claims["sub"] == "participant-42" and claims["role"] == "viewer"
    assert claims["email"] == "ada@example.com"
    assert claims["email_verified"] is False and claims["email_source"] == "unverified"
    assert claims["iat"] == int(now) and claims["exp"] == int(now) + 120
    assert claims["iss"] == "https://guests.example.org"
    other_claims = jwt.decode(second["guestgate_ticket"], secret, algorithms=["HS256"],
                              audience="https://live.example.com")
    assert claims["jti"] != other_claims["jti"]
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(first["guestgate_ticket"], secret, algorithms=["HS256"],
                   audience="https://elsewhere.example.com")


def test_other_ticket_says_how_the_email_was_established():
    meeting = meetings.Meeting(name="m", title="x", join_url="https://live.example.com/")
    for source, verified in (("account", True), ("confirmed", True), ("invitation", False),
                             ("unverified", False)):
        ticket = query(other.join_url(CONFIG, meeting, person(source=source), time.time()))
        claims, why = other.verify(CONFIG, ticket["guestgate_ticket"],
                                   audience="https://live.example.com")
        assert why == "" and claims["email_verified"] is verified
        assert claims["email_source"] == source


def test_other_ticket_verify_says_why_not():
    meeting = meetings.Meeting(name="m", title="x", join_url="https://live.example.com/")
    ticket = query(other.join_url(CONFIG, meeting, person(), time.time() - 121))
    assert other.verify(CONFIG, ticket["guestgate_ticket"])[1].startswith("expired")
    fresh = query(other.join_url(CONFIG, meeting, person(), time.time()))["guestgate_ticket"]
    assert other.verify({**CONFIG, "SECRET_KEY": "other"}, fresh)[1].startswith("invalid")
    assert other.verify(CONFIG, fresh, audience="https://x.example")[1].startswith("wrong")


# --- configuration ------------------------------------------------------------------------------

def test_only_fully_configured_platforms_are_offered():
    assert meetings.configured(CONFIG) == ["livekit", "jitsi", "galene"]
    assert meetings.choices({}) == ["other"]


def test_a_half_configured_or_malformed_platform_says_what_to_fix():
    with pytest.raises(ValueError, match="JITSI_APP_SECRET"):
        meetings.check_settings({"JITSI_URL": "https://meet.example.org", "JITSI_APP_ID": "a"})
    with pytest.raises(ValueError, match="wss://"):
        meetings.check_settings({"LIVEKIT_URL": "https://lk.example.org", "LIVEKIT_API_KEY": "k",
                                 "LIVEKIT_API_SECRET": "s",
                                 "LIVEKIT_MEET_URL": "https://meet.example.org/custom"})
    with pytest.raises(ValueError, match="LIVEKIT_MEET_URL must be a web address"):
        meetings.check_settings({"LIVEKIT_URL": "wss://lk.example.org", "LIVEKIT_API_KEY": "k",
                                 "LIVEKIT_API_SECRET": "s",
                                 "LIVEKIT_MEET_URL": "meet.example.org/custom"})
    with pytest.raises(ValueError, match="BIGBLUEBUTTON_CHECKSUM"):
        meetings.check_settings({"BIGBLUEBUTTON_ENDPOINT": "https://b.example/bigbluebutton/api/",
                                 "BIGBLUEBUTTON_SECRET": "s", "BIGBLUEBUTTON_CHECKSUM": "md5"})
    meetings.check_settings(CONFIG)


def test_livekit_has_no_default_web_client():
    """Join puts each person's token in the web client's address. The default was LiveKit's
    hosted demo page (meet.livekit.io): every credential handed to a third party unasked. Now the
    client is a setting like the others, and LiveKit without it is configured only in part."""
    without = {k: v for k, v in CONFIG.items() if k != "LIVEKIT_MEET_URL"}
    with pytest.raises(ValueError, match="set LIVEKIT_MEET_URL too") as refused:
        meetings.check_settings(without)
    assert "token" in str(refused.value)  # why it is needed, not only its name
    assert "livekit" not in meetings.configured(without)
    with pytest.raises(ValueError, match="set LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET"):
        meetings.check_settings({"LIVEKIT_MEET_URL": "https://meet.example.org/custom"})


def test_meeting_names_are_the_title_made_url_safe_then_random_letters():
    """Readable on the platform, and nobody can guess one (tests/test_meeting_names.py)."""
    for title, start in (("Product launch — live now!", "product-launch-live-now-"),
                         ("Über Café", "uber-cafe-"), ("日本語", "room-"), ("", "room-")):
        name = meetings.derive_name(title)
        assert name.startswith(start) and len(name) == len(start) + 16
        assert name[len(start):].isalnum() and name.islower()
    assert all(meetings.MEETING_NAME.match(meetings.derive_name(t))
               for t in ("a" * 300, "--x--", "Ünïcödé"))
    assert len({meetings.derive_name("Launch") for _ in range(100)}) == 100
