"""The Join moment through the app: an admitted guest's "Join the live session" and the owner's
"Join as host" redirect with the platform's own credential, made for that person at that moment
with their role; nobody the door turns away gets one; a platform that refuses or hangs gives a
clear page. Credentials are checked with the platforms' verifiers (see test_meeting_platforms)."""

import base64
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from bbb_server import TEST_SECRET as BBB_SECRET
from helpers import (
    GuestActions,
    OwnerActions,
    invited_guest,
    link_path,
    make_room,
    make_user,
    text_of,
)
from livekit import api

from portal.meetings import other
from portal.models import GuestLink, Room

LIVEKIT = {"LIVEKIT_URL": "wss://lk.example.org", "LIVEKIT_API_KEY": "APIkey",
           "LIVEKIT_API_SECRET": "livekit-secret-0123456789abcdef0123456789",
           "LIVEKIT_MEET_URL": "https://meet.example.org/custom"}
JITSI = {"JITSI_URL": "https://meet.example.org", "JITSI_APP_ID": "guestgate",
         "JITSI_APP_SECRET": "jitsi-secret-0123456789abcdef0123", "JITSI_AUDIENCE": "jitsi"}
GALENE_KEY = base64.urlsafe_b64encode(b"g" * 32).decode()
GALENE = {"GALENE_URL": "https://galene.example.org", "GALENE_KEY": GALENE_KEY}
@pytest.fixture
def config(config, bbb_settings, request):
    """Every platform configured; or, parametrized indirectly, only "livekit", "jitsi" or
    "none" of them."""
    platforms = {"all": {**LIVEKIT, **JITSI, **GALENE, **bbb_settings}, "livekit": LIVEKIT,
                 "jitsi": JITSI, "none": {}}[getattr(request, "param", "all")]
    return {**config, **platforms, "MEETING_TIMEOUT": 0.5}


@pytest.fixture
def room(app, db):
    return make_room(make_user(name="Olivia Owner"), guest_access_enabled=True,
                     platform="livekit", meeting_name="launch-1")


def use(room, platform, **fields):
    Room.update(platform=platform, **fields).where(Room.id == room.id).execute()


def link_guest(app, room, name="Ada Guest", email="ada@example.com"):
    link = GuestLink.get_or_none(GuestLink.room == room) or GuestLink.create(room=room,
                                                                             name="Guests")
    guest = GuestActions(app)
    assert guest.enter(link_path(app, link), name, email).status_code == 303
    return guest


def livekit_claims(response):
    assert response.status_code == 303 and response.headers["Cache-Control"] == "no-store"
    # The token goes to the web client the operator named, never a third party's by default.
    assert response.location.startswith("https://meet.example.org/custom?")
    query = parse_qs(urlsplit(response.location).query)
    assert query["liveKitUrl"] == ["wss://lk.example.org"]
    return api.TokenVerifier(LIVEKIT["LIVEKIT_API_KEY"], LIVEKIT["LIVEKIT_API_SECRET"]) \
        .verify(query["token"][0])


def jitsi_claims(response):
    assert response.status_code == 303
    token = parse_qs(urlsplit(response.location.split("#")[0]).query)["jwt"][0]
    return jwt.decode(token, JITSI["JITSI_APP_SECRET"], algorithms=["HS256"], audience="jitsi",
                      issuer="guestgate", leeway=0)


def role_on(platform, response, bbb):
    """The role the platform will give, read the way the platform reads it."""
    if platform == "livekit":
        video = livekit_claims(response).video
        return "moderator" if video.room_admin else "speaker" if video.can_publish else "viewer"
    if platform == "jitsi":
        return jitsi_claims(response)["context"]["user"]["affiliation"]
    if platform == "galene":
        token = parse_qs(urlsplit(response.location).query)["token"][0]
        claims = jwt.decode(token, b"g" * 32, algorithms=["HS256"],
                            audience="https://galene.example.org/group/launch-1/")
        return claims["permissions"]
    assert response.status_code == 303 and "/html5client/join" in response.location
    return bbb.joins[-1]["role"]


# The role table of docs/platforms.md, as each platform reads it.
ROLE_TABLE = {
    "livekit": {"host": "moderator", "moderator": "moderator", "speaker": "speaker",
                "viewer": "viewer", "link": "viewer"},
    "jitsi": {"host": "owner", "moderator": "owner", "speaker": "member", "viewer": "member",
              "link": "member"},
    "galene": {"host": ["op", "present", "message"], "moderator": ["op", "present", "message"],
               "speaker": ["present", "message"], "viewer": ["message"], "link": ["message"]},
    "bigbluebutton": {"host": "MODERATOR", "moderator": "MODERATOR", "speaker": "VIEWER",
                      "viewer": "VIEWER", "link": "VIEWER"},
}


@pytest.mark.parametrize("platform", sorted(ROLE_TABLE))
def test_role_mapping_on_every_platform(app, auth, room, bbb, platform):
    use(room, platform)
    expected = ROLE_TABLE[platform]
    for who in ("moderator", "speaker", "viewer"):
        client = invited_guest(app, room, f"{who}@example.com", who)
        assert role_on(platform, client.join(room), bbb) == expected[who], who
    guest = link_guest(app, room)
    assert role_on(platform, guest.join(room), bbb) == expected["link"]
    auth.sign_in()
    assert role_on(platform, auth.client.get(f"/rooms/{room.id}/join"), bbb) == expected["host"]


def test_guest_link_to_livekit_as_a_viewer_named_by_participant(app, room):
    guest = link_guest(app, room)
    page = guest.place(room)
    assert "Join the live session" in text_of(page)
    claims = livekit_claims(guest.join(room))
    assert claims.identity == f"participant-{guest.participant.id}" and claims.name == "Ada Guest"
    assert claims.video.room == "launch-1" and claims.video.can_publish is False


@pytest.mark.parametrize("config", ["jitsi"], indirect=True)
def test_jitsi_gets_the_email_of_invited_guests_and_hosts_never_a_typed_one(app, auth, room):
    """A shared-link guest who typed admin@example.com: the Jitsi token names them, not that
    address. An invited guest who confirmed theirs, and the host, are named by their email."""
    use(room, "jitsi")
    typed = jitsi_claims(link_guest(app, room, "Ada", "admin@example.com").join(room))
    assert "email" not in typed["context"]["user"]
    assert typed["context"]["user"]["email_source"] == "unverified"
    assert typed["context"]["user"]["name"] == "Ada"
    invited = jitsi_claims(invited_guest(app, room, "ivy@example.com").join(room))
    assert invited["context"]["user"]["email"] == "ivy@example.com"
    assert invited["context"]["user"]["email_source"] == "confirmed"
    auth.sign_in()
    host = jitsi_claims(auth.client.get(f"/rooms/{room.id}/join"))["context"]["user"]
    assert (host["email"], host["email_source"]) == (room.owner.email, "account")


def test_host_joins_as_moderator_from_the_room_page(app, auth, room):
    owner = room.owner
    auth.sign_in()
    assert "Join as host" in text_of(auth.client.get(f"/rooms/{room.id}/live"))
    assert "LiveKit" in text_of(auth.client.get(f"/rooms/{room.id}/details"))
    claims = livekit_claims(auth.client.get(f"/rooms/{room.id}/join"))
    assert claims.identity == f"user-{owner.id}" and claims.name == "Olivia Owner"
    assert claims.video.room_admin is True
    # Another owner can't enter this room's meeting as host.
    make_user("other@example.com")
    other = app.test_client()
    OwnerActions(other).sign_in("other@example.com")
    assert other.get(f"/rooms/{room.id}/join").status_code == 404


@pytest.mark.parametrize("platform", sorted(ROLE_TABLE))
def test_a_demoted_or_removed_moderator_gets_the_lower_role_or_nothing(app, auth, room, bbb,
                                                                       platform):
    use(room, platform)
    client = invited_guest(app, room, "mod@example.com", "moderator")
    invitation = client.invitation
    joins = len(bbb.joins)
    assert role_on(platform, client.join(room), bbb) == \
        ROLE_TABLE[platform]["moderator"]
    auth.sign_in()
    auth.change_role(room, invitation, "viewer")
    assert role_on(platform, client.join(room), bbb) == \
        ROLE_TABLE[platform]["viewer"]
    auth.remove_invitation(room, invitation)
    response = client.join(room)
    assert response.status_code == 303 and response.location.endswith(f"/s/{room.id}")
    assert "This invitation is no longer valid" in text_of(client.place(room))
    if platform == "bigbluebutton":
        assert len(bbb.joins) == joins + 2  # the removed moderator never reached BBB


def no_credential(response, room) -> bool:
    """Sent back to their own page: no platform, no token, no ticket."""
    return response.status_code == 303 and response.location.endswith(f"/s/{room.id}")


@pytest.mark.parametrize("platform", [*sorted(ROLE_TABLE), "other"])
def test_waiting_or_denied_guests_get_no_credential(app, auth, room, bbb, platform):
    use(room, platform, require_approval=True, join_url="https://live.example.com/r/1")
    guest = link_guest(app, room)
    assert no_credential(guest.join(room), room)
    auth.sign_in()
    auth.deny(room, guest.participant)
    assert no_credential(guest.join(room), room)
    assert "The host didn't admit you" in text_of(guest.place(room))
    # Nor does someone who was never in the room.
    assert no_credential(app.test_client().get(f"/s/{room.id}/join"), room)
    assert bbb.calls["join"] == 0


@pytest.mark.parametrize("mode", ["fail", "hang"])
def test_a_platform_that_refuses_or_hangs_gives_a_clear_page(app, auth, room, bbb, mode,
                                                             caplog):
    use(room, "bigbluebutton")
    guest = link_guest(app, room)
    bbb.mode = mode
    with caplog.at_level(logging.WARNING):
        response = guest.join(room)
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    text = text_of(response)
    assert "The live session can't be reached right now" in text
    assert "Try Join again in a minute" in text
    assert BBB_SECRET not in caplog.text and "checksum" not in caplog.text
    auth.sign_in()
    assert auth.client.get(f"/rooms/{room.id}/join").status_code == 503
    bbb.mode = "ok"
    assert "/html5client/join" in guest.join(room).location


def test_a_platform_no_longer_configured_gives_the_clear_page(app, room):
    guest = link_guest(app, room)
    for key in LIVEKIT:
        app.config[key] = ""
    assert "Join the live session" not in text_of(guest.place(room))
    response = guest.join(room)
    assert response.status_code == 503
    assert "The live session can't be reached right now" in text_of(response)


def test_the_unreachable_page_speaks_german(app, room, bbb):
    use(room, "bigbluebutton")
    guest = link_guest(app, room)
    bbb.mode = "fail"
    response = guest.get(f"/s/{room.id}/join", headers={"Accept-Language": "de"})
    assert "Die Live-Sitzung ist gerade nicht erreichbar" in text_of(response)


def test_other_platform_ticket_says_a_link_guests_email_is_not_verified(app, room):
    use(room, "other", join_url="https://live.example.com/r/7")
    guest = link_guest(app, room)
    response = guest.join(room)
    ticket = parse_qs(urlsplit(response.location).query)["guestgate_ticket"][0]
    claims = jwt.decode(ticket, other.ticket_secret(app.config), algorithms=["HS256"],
                        audience="https://live.example.com")
    assert claims["email"] == "ada@example.com" and claims["email_verified"] is False
    assert claims["email_source"] == "unverified" and claims["role"] == "viewer"


def test_an_invited_guest_who_confirmed_the_email_is_verified_in_the_ticket(app, room):
    use(room, "other", join_url="https://live.example.com/r/7")
    client = invited_guest(app, room, "sam@example.com", "speaker")
    ticket = parse_qs(urlsplit(client.join(room).location).query)
    claims, why = other.verify(
        app.config, ticket["guestgate_ticket"][0], audience="https://live.example.com")
    assert why == "" and claims["email_verified"] is True
    assert claims["email_source"] == "confirmed" and claims["role"] == "speaker"


def test_a_room_without_a_live_session_says_so(app, room):
    use(room, "other", join_url=None)
    guest = link_guest(app, room)
    assert "Join the live session" not in text_of(guest.place(room))
    response = guest.get(f"/s/{room.id}/join", follow_redirects=True)
    assert "This session has no live meeting to join yet." in text_of(response)


def test_the_room_form_offers_the_configured_platforms_and_names_the_meeting_itself(
        app, auth, room):
    auth.sign_in()
    form = auth.client.get(f"/rooms/{room.id}/edit").get_data(as_text=True)
    for label in ("LiveKit / OpenVidu", "Jitsi Meet", "BigBlueButton", "Galène",
                  "Other (join URL)"):
        assert label in form
    assert "Meeting name on the platform: launch-1." in form
    assert 'name="meeting_name"' not in form  # Guestgate's to give (test_meeting_names.py)
    for secret in (LIVEKIT["LIVEKIT_API_SECRET"], JITSI["JITSI_APP_SECRET"], BBB_SECRET,
                   GALENE_KEY):
        assert secret not in form
        for view in ("live", "access", "insights", "details"):
            assert secret not in auth.client.get(f"/rooms/{room.id}/{view}").get_data(
                as_text=True)
    data = {"title": "Launch", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00",
            "timezone": "UTC", "kind": "regular", "platform": "jitsi",
            "meeting_name": "someone-elses"}
    response = auth.client.post(f"/rooms/{room.id}/edit", data=data)
    assert response.status_code == 303
    saved = Room.get_by_id(room.id)
    assert saved.platform == "jitsi" and saved.meeting == "launch-1"  # the name is kept

    created = auth.client.post("/rooms/new", data={**data, "title": "Café Talk"})
    new = Room.get(Room.title == "Café Talk")
    assert created.status_code == 303
    assert re.fullmatch(r"cafe-talk-[a-z2-7]{16}", new.meeting)


def test_seed_demo_uses_the_first_configured_platform(app, runner):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    rooms = json.loads(result.output)["rooms"]
    assert [r["platform"] for r in rooms if r["kind"] == "regular"] == ["livekit"] * 3


@pytest.mark.parametrize("config", ["livekit", "jitsi"], indirect=True)
def test_the_demo_path_ends_in_the_platforms_own_credential(app, runner, config):
    """make run with only one platform's variables: demo guest link → lobby → room → Join."""
    demo = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    live = demo["rooms"][0]
    guest = app.test_client()
    lobby = live["guest_links"][0]["url"].removeprefix(demo["base_url"])
    assert "Your name" in text_of(guest.get(lobby))
    entered = guest.post(lobby, data={"name": "Demo Guest", "email": "demo@example.com"})
    assert entered.status_code == 303
    assert "Join the live session" in text_of(guest.get(f"/s/{live['id']}"))
    response = guest.get(f"/s/{live['id']}/join")
    if "LIVEKIT_URL" in config:
        claims = livekit_claims(response)
        assert claims.name == "Demo Guest" and claims.video.can_publish is False
        assert claims.video.room == Room.get_by_id(live["id"]).meeting
    else:
        claims = jitsi_claims(response)
        assert claims["context"]["user"]["affiliation"] == "member"
        assert claims["room"] == Room.get_by_id(live["id"]).meeting


@pytest.mark.parametrize("config", ["none"], indirect=True)
def test_without_platforms_the_room_form_stays_as_it_was(app, auth, room):
    auth.sign_in()
    form = text_of(auth.client.get(f"/rooms/{room.id}/edit"))
    assert "Meeting platform" not in form and "Meeting name" not in form
    assert "Join URL of the live session" in form


def test_a_new_room_starts_on_the_first_configured_platform(app, auth, room):
    auth.sign_in()
    form = auth.client.get("/rooms/new").get_data(as_text=True)
    assert re.search(r'<option selected value="livekit">', form)
    response = auth.client.post("/rooms/new", data={
        "title": "Town hall", "starts_at": "2030-01-01T10:00", "ends_at": "2030-01-01T11:00",
        "timezone": "UTC", "kind": "regular"})
    assert response.status_code == 303
    assert Room.get(Room.title == "Town hall").platform == "livekit"
