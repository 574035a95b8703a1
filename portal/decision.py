"""The access decision: one pure function over plain values and an explicit clock.

No Flask, no database: views gather the facts, call `decide`, and render what it says. Every
guest page asks again on every full page load, which is how a guest who is "still connected" is
turned away on refresh after the host turns guest access off.
"""

from dataclasses import dataclass
from datetime import datetime

LOBBY = "lobby"
SIGN_IN = "sign_in"
COUNTDOWN = "countdown"
WAITING = "waiting"
ENTER = "enter"
DENIED = "denied"


def N_(text: str) -> str:
    """Marks text for translation without translating it here (this module stays free of
    Flask); the pages translate it when they render."""
    return text


@dataclass(frozen=True)
class Reason:
    code: str
    status: int
    title: str  # what the guest reads
    next_step: str  # what the guest can do about it
    host_words: str  # what the host reads in the denial panel


REASONS = {r.code: r for r in [
    Reason("link_invalid", 404, N_("This link isn't valid"),
           N_("Check that you copied the whole link, or ask the person who sent it for a new one."),
           "A link that isn't valid (garbled or forged) was opened"),
    Reason("link_deleted", 410, N_("This link is no longer available"),
           N_("Ask the organizer for a new link."),
           "The guest link was deleted"),
    Reason("invite_removed", 410, N_("This invitation is no longer valid"),
           N_("The invitation was withdrawn or replaced by a newer link. "
           "Contact the host if you think this is an error."),
           "The invitation was removed, or its link was reset"),
    Reason("room_unavailable", 410, N_("This room is no longer available"),
           N_("The session was removed. Contact the organizer if you think this is an error."),
           "The room was deleted"),
    Reason("channel_room", 403, N_("Guest access isn't available for this room"),
           N_("Ask the organizer how to join this session."),
           "Guest access isn't supported for channel rooms"),
    Reason("guest_access_off", 403, N_("The host has turned off guest access"),
           N_("Ask the organizer to turn guest access back on, then open the link again."),
           "Guest access was off"),
    Reason("link_expired", 410, N_("This link has expired"),
           N_("Contact the event organizer for a new link."),
           "The link had expired"),
    Reason("link_used_up", 410, N_("This link has already been used"),
           N_("Ask the organizer for a new link."),
           "The link had no uses left, or a single-use invitation was used on another device"),
    Reason("session_ended", 410, N_("This session has ended"),
           N_("The session is over. Contact the organizer for a recording or the next date."),
           "The session had ended"),
    Reason("email_mismatch", 403, N_("Use the email address that received the invitation"),
           N_("Enter the email address the invitation was sent to, exactly as in the email."),
           "The email typed differs from the invited one"),
    Reason("domain_blocked", 403, N_("Your organisation's email domain can't be used here"),
           N_("Use another email address, or contact the organizer."),
           "The email's domain is blocked by a domain rule"),
    Reason("not_admitted", 403, N_("The host didn't admit you"),
           N_("Contact the organizer if you think this is an error."),
           "A moderator declined the guest in the waiting room"),
    Reason("removed", 403, N_("You were removed from this session"),
           N_("The host removed you. Contact the organizer if you think this is an error."),
           "A host removed the guest from the room"),
]}

# What a presence's status can be for the decision: the stored status, or one of these two,
# made from it by a host's action (see access.visitor_status).
REMOVED = "removed"  # rejected by Remove: the guest reads that they were removed
HELD = "held"  # waiting because a host moved them to the waiting room, whatever their door


@dataclass(frozen=True)
class RoomFacts:
    deleted: bool
    kind: str
    guest_access_enabled: bool
    require_approval: bool
    require_email_match: bool
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class LinkFacts:
    """A shared guest link (everyone who has it uses the same one)."""
    deleted: bool
    expires_at: datetime | None
    max_uses: int | None
    uses: int


@dataclass(frozen=True)
class InviteFacts:
    """A personal invitation."""
    removed: bool
    current_version: bool  # False: the token carries a version from before a reset
    expires_at: datetime | None
    valid_once: bool
    bound_device: str | None
    email: str  # normalised
    account_access: str  # the invited account's access: guest, broadcaster or admin
    # the address is proven already (a registrant confirmed it): the lobby doesn't ask for it
    email_confirmed: bool = False


@dataclass(frozen=True)
class Visitor:
    device: str | None = None
    # this browser's presence in the room through this link or invitation, if any: its status,
    # or REMOVED / HELD after a host's Remove / Move to waiting room; "left" for a browser that
    # left through it and comes back (its email then goes in email_typed)
    participant_status: str | None = None
    # the email typed in the lobby (normalised); None when nothing was submitted
    email_typed: str | None = None
    signed_in_email: str | None = None
    domain_allowed: bool = True


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str | None = None

    @property
    def denied(self) -> bool:
        return self.outcome == DENIED


def deny(reason: str) -> Decision:
    assert reason in REASONS, reason
    return Decision(DENIED, reason)


def decide(now: datetime, visitor: Visitor, room: RoomFacts | None,
           link: LinkFacts | None = None, invite: InviteFacts | None = None) -> Decision:
    """Lobby, sign in, countdown, waiting, enter, or denied(reason) — in the order of the checks
    below: what is wrong with the link or room first, then the person, then the clock."""
    if room is None or (link is None) == (invite is None):
        return deny("link_invalid")
    if room.deleted:
        return deny("room_unavailable")
    if room.kind == "channel":
        return deny("channel_room")
    if link is not None and link.deleted:
        return deny("link_deleted")
    if invite is not None and (invite.removed or not invite.current_version):
        return deny("invite_removed")
    if link is not None and not room.guest_access_enabled:
        return deny("guest_access_off")
    if now >= room.ends_at:
        return deny("session_ended")
    expires_at = link.expires_at if link is not None else invite.expires_at
    if expires_at is not None and now >= expires_at:
        return deny("link_expired")

    inside = visitor.participant_status is not None
    if link is not None and not inside and link.max_uses is not None \
            and link.uses >= link.max_uses:
        return deny("link_used_up")
    if invite is not None and invite.valid_once and invite.bound_device is not None \
            and invite.bound_device != visitor.device:
        return deny("link_used_up")

    # A browser coming back after leaving has spent its use already; the rest is checked as
    # for a new entry (sign-in, email, domain), with the email it entered with.
    if not inside or visitor.participant_status == "left":
        signed_in_as_invited = invite is not None and visitor.signed_in_email == invite.email
        if invite is not None and invite.account_access in ("admin", "broadcaster") \
                and not signed_in_as_invited:
            return Decision(SIGN_IN)
        if not signed_in_as_invited:
            if visitor.email_typed is None:
                return Decision(LOBBY)
            if invite is not None and room.require_email_match and not invite.email_confirmed \
                    and visitor.email_typed != invite.email:
                return deny("email_mismatch")
        if not visitor.domain_allowed:
            return deny("domain_blocked")

    if visitor.participant_status == REMOVED:
        return deny("removed")
    if visitor.participant_status == "rejected":
        return deny("not_admitted")
    if now < room.starts_at:
        return Decision(COUNTDOWN)
    # Sent back by a host: they wait, also when they came by an invitation or the room lets
    # link guests straight in.
    if visitor.participant_status == HELD:
        return Decision(WAITING)
    # Invitations are personal and already vetted by the host; the waiting room is for shared links.
    if link is not None and room.require_approval and visitor.participant_status != "admitted":
        return Decision(WAITING)
    return Decision(ENTER)


def role_now(own: str, invitation_role: str | None) -> str:
    """The role someone has now: an invitation's role as it is now, for whoever came by one (a
    host's change of role, on the Guests list or In the room, reaches them at once); otherwise
    their own — a shared link's viewer, or the role a host gave them for this visit."""
    return invitation_role or own


def keeps_seat(now: datetime, participant_status: str | None, room: RoomFacts | None) -> bool:
    """Is this guest seated in the room — admitted (not removed, moved or denied), the room
    there, its session on — whatever became of the door they came by? A seated guest's page is
    left where it is (Kaltura: guests already in the room stay until they refresh): guest
    access off, the link deleted, used up or expired, the invitation removed, reset or expired
    stop new entries, and the guest's next full page load decides again. What is about them
    (their status, their role) and the room itself still reach the page at once; pages that
    aren't in the room yet (countdown, waiting) follow every change."""
    return participant_status == "admitted" and room is not None and not room.deleted \
        and room.starts_at <= now < room.ends_at
