"""What every platform module shares: who is entering which meeting, for how long, and the
error that means "the live session can't be reached"."""

from dataclasses import dataclass

LIFETIME = 120  # seconds a credential is valid: enough to follow a redirect, too short to share


class Unreachable(Exception):
    """The platform refused or couldn't be reached; the message is for the log (no secrets)."""


@dataclass(frozen=True)
class Meeting:
    name: str  # the meeting (room, group) on the platform
    title: str  # the room's title, where the platform shows one
    join_url: str | None = None  # Other platforms: the room's own join URL


@dataclass(frozen=True)
class Attendee:
    """The person entering, as the platform will know them. `identity` names the participant or
    the host account, never the email (LiveKit asks for no personal data in identities)."""
    identity: str
    name: str
    email: str
    role: str  # moderator, speaker or viewer
    # how the email was established: "account" (signed in), "confirmed" (invitation opened and
    # its email typed), "invitation" (invitation link only), "unverified" (typed in a lobby)
    email_source: str

    @property
    def email_verified(self) -> bool:
        return self.email_source in ("account", "confirmed")
