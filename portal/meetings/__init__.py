"""The hand-off: Guestgate decides, the meeting platform enforces.

At the moment an admitted person clicks Join, Guestgate decides again and mints, for this person
only, the credential the platform itself checks — a JWT for Jitsi Meet, LiveKit (and OpenVidu 3)
and Galène, a server-side create + join for BigBlueButton, or Guestgate's own signed ticket for
any other platform. Each platform is a module with the same three names:

- `SETTINGS`: the environment variables it needs (all of them, or the platform is off);
  optionally `WHY`, what a missing one is for (said in the start-up error), and `OPTIONAL`,
  further variables with their defaults;
- `check(config)`: raises ValueError with a clear message when a setting is malformed;
- `join_url(config, meeting, attendee, now)`: where to send this person's browser.

Secrets come from the environment only: never stored, shown, logged or audited.
"""

import base64
import re
import secrets
import unicodedata

from . import bigbluebutton, galene, jitsi, livekit, other
from .common import LIFETIME, Attendee, Meeting, Unreachable

__all__ = ["LIFETIME", "Attendee", "Meeting", "Unreachable"]

# In the order seed-demo picks the first configured one.
PLATFORMS = {"livekit": livekit, "jitsi": jitsi, "bigbluebutton": bigbluebutton,
             "galene": galene}
OTHER = "other"
LABELS = {"livekit": "LiveKit / OpenVidu", "jitsi": "Jitsi Meet",
          "bigbluebutton": "BigBlueButton", "galene": "Galène", OTHER: "Other (join URL)"}

# A meeting name every platform accepts in a URL path and as an id: lower case, so Jitsi (which
# lower-cases room names) and the others agree on one spelling.
MEETING_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Rules a platform adds to that (BigBlueButton: at least 2 characters, no comma).
NAME_RULES = {"bigbluebutton": bigbluebutton.meeting_id_fits}
RANDOM_LENGTH = 16  # base32 letters: 80 random bits


def random_part() -> str:
    return base64.b32encode(secrets.token_bytes(RANDOM_LENGTH * 5 // 8)).decode().lower()


def derive_name(title: str = "") -> str:
    """A meeting's name on its platform, which Guestgate always gives (owners can't choose
    one): the title made URL-safe, readable on the platform, then random letters, so nobody can
    guess a room's name or claim it before the room exists — here, in another Guestgate, or in
    another application using the same platform. It fits every platform (`fits`)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].rstrip("-")
    return f"{slug or 'room'}-{random_part()}"


def fits(platform: str, name: str) -> bool:
    """Whether `platform` accepts `name` for a meeting."""
    rule = NAME_RULES.get(platform)
    return bool(MEETING_NAME.match(name)) and (rule is None or rule(name))


def settings_from(environ) -> dict[str, str]:
    """Every platform's settings as the environment gives them (stripped), optional ones with
    their defaults."""
    found = {}
    for module in PLATFORMS.values():
        found.update({key: environ.get(key, "").strip() for key in module.SETTINGS})
        found.update({key: environ.get(key, "").strip() or default
                      for key, default in getattr(module, "OPTIONAL", {}).items()})
    return found


def configured(config) -> list[str]:
    """The platforms whose settings are all present, in PLATFORMS order."""
    return [name for name, module in PLATFORMS.items()
            if all(config.get(key) for key in module.SETTINGS)]


def check_settings(config) -> None:
    """At start-up: a platform configured halfway, or with a malformed value, is an error that
    says which variable to fix — not a guest's failed Join hours later."""
    for name, module in PLATFORMS.items():
        present = [key for key in module.SETTINGS if config.get(key)]
        if present and len(present) < len(module.SETTINGS):
            missing = ", ".join(k for k in module.SETTINGS if not config.get(k))
            why = "".join(f" {module.WHY[k]}" for k in module.SETTINGS
                          if not config.get(k) and k in getattr(module, "WHY", {}))
            raise ValueError(f"{LABELS[name]} is configured only in part: set {missing} too "
                             f"(or unset {', '.join(present)}).{why}")
        if present:
            module.check(config)


def choices(config) -> list[str]:
    """What a room may choose: the configured platforms, then Other."""
    return [*configured(config), OTHER]


def can_join(config, platform: str, join_url: str | None) -> bool:
    if platform == OTHER:
        return bool(join_url)
    return platform in configured(config)


def join_url(config, platform: str, meeting: Meeting, attendee: Attendee, now: float) -> str:
    """Where this attendee's browser goes, carrying a credential made for them just now.
    Raises Unreachable when the platform refuses, can't be reached, or is no longer set up."""
    if platform == OTHER:
        if not meeting.join_url:
            raise Unreachable("the room has no join URL")
        return other.join_url(config, meeting, attendee, now)
    if platform not in configured(config):
        raise Unreachable(f"{LABELS.get(platform, platform)} is not configured")
    return PLATFORMS[platform].join_url(config, meeting, attendee, now)
