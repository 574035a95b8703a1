"""LiveKit (and OpenVidu 3, which speaks the same tokens): an access token made with LiveKit's
own `livekit-api` package, opened in a web client that takes `liveKitUrl` and `token` in its
query — LIVEKIT_MEET_URL, e.g. the /custom page of your own LiveKit Meet.

The client has no default: the token travels in its address, so whoever serves that page can
join as the person. (It used to be LiveKit's hosted demo page, meet.livekit.io.)"""

from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from .common import LIFETIME

SETTINGS = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET", "LIVEKIT_MEET_URL")
# Said when the setting is missing (meetings.check_settings).
WHY = {"LIVEKIT_MEET_URL": (
    "LIVEKIT_MEET_URL is the web client Join opens with each person's token in its address "
    "(e.g. https://meet.example.org/custom on your own LiveKit Meet); there is no default, so "
    "no token goes to a third party's page unless you name it.")}


def check(config) -> None:
    url = urlsplit(config["LIVEKIT_URL"])
    if url.scheme not in ("wss", "ws") or not url.netloc:
        raise ValueError("LIVEKIT_URL must be your LiveKit server's wss:// address, "
                         "e.g. wss://livekit.example.org")
    meet = urlsplit(config["LIVEKIT_MEET_URL"])
    if meet.scheme not in ("https", "http") or not meet.netloc:
        raise ValueError("LIVEKIT_MEET_URL must be a web address (https://...)")


def grants(role: str, room: str):
    from livekit import api

    publish = role in ("moderator", "speaker")
    return api.VideoGrants(room_join=True, room=room, can_subscribe=True, can_publish_data=True,
                           can_publish=publish, room_admin=True if role == "moderator" else None)


def token(config, meeting, attendee, now: float) -> str:
    # Imported here: livekit-api brings aiohttp and protobuf, which a portal without LiveKit
    # never needs to load.
    from livekit import api

    # The SDK stamps `nbf` and `exp` from its own clock (the others take `now`).
    return (api.AccessToken(config["LIVEKIT_API_KEY"], config["LIVEKIT_API_SECRET"])
            .with_identity(attendee.identity)
            .with_name(attendee.name)
            .with_ttl(timedelta(seconds=LIFETIME))
            .with_grants(grants(attendee.role, meeting.name))
            .to_jwt())


def join_url(config, meeting, attendee, now: float) -> str:
    client = config["LIVEKIT_MEET_URL"]
    query = urlencode({"liveKitUrl": config["LIVEKIT_URL"],
                       "token": token(config, meeting, attendee, now)})
    return f"{client}{'&' if '?' in client else '?'}{query}"
