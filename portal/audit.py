"""The audit log: who did what to which room, link or invitation, and when — recorded here,
and read as people read it (the owner's room log and the admin's log share the paging)."""

from dataclasses import dataclass

from flask import request
from flask_login import current_user

from .models import AuditEvent
from .timeutil import utcnow


@dataclass(frozen=True)
class Actor:
    """Who acted, as the log records it: an account (an owner, an admin, an API token's
    account), or a moderator acting from inside the room — their name and email, how the email
    was established (`source`: a shared-link guest typed it; an invitation's was confirmed or
    not; or they signed in), and the invitation's account if they came by one, never shown as
    if that account had signed in. Or the system itself (`Actor(email="guestgate")`)."""
    account: object | None = None  # a User
    email: str = ""
    name: str = ""
    source: str = ""  # "" for an account or the system

    @classmethod
    def of_account(cls, user) -> "Actor":
        return cls(account=user, email=user.email)

    @classmethod
    def of_guest(cls, moderator) -> "Actor":
        account = moderator.invitation.user if moderator.invitation_id else None
        return cls(account=account, email=moderator.email, name=moderator.name,
                   source=moderator.email_source or "unverified")

    @property
    def account_id(self) -> int | None:
        return self.account.id if self.account is not None else None


def record(action: str, room=None, target: str = "", detail: str = "", actor=None) -> None:
    """`actor`: an Actor or an account; by default the signed-in user."""
    record_many(action, room, [target], detail, actor)


def record_many(action: str, room, targets: list[str], detail: str = "", actor=None,
                batch: int = 2000) -> None:
    """The same action on many targets (Admit all): one event each, written 2,000 rows per
    statement (9 values a row stays below SQLite's and PostgreSQL's limits on parameters)."""
    by = _actor(actor)
    now = utcnow()
    rows = [{"room": room, "actor": by.account, "actor_email": by.email,
             "actor_name": by.name[:100], "actor_source": by.source,
             "action": action, "target": target[:255], "detail": detail,
             "created_at": now} for target in targets]
    for start in range(0, len(rows), batch):
        AuditEvent.insert_many(rows[start:start + batch]).execute()


def _actor(actor) -> Actor:
    if isinstance(actor, Actor):
        return actor
    if actor is not None:
        return Actor.of_account(actor)
    if getattr(current_user, "is_authenticated", False):
        return Actor.of_account(current_user._get_current_object())
    return Actor()


# --- reading the log --------------------------------------------------------------------------

# How a guest moderator's email was established, as the log says it (Participant.email_source).
ACTOR_SOURCES = {
    "account": "signed in to the invited account",
    "confirmed": "invited email, confirmed in the lobby",
    "invitation": "invitation link, email not asked",
    "unverified": "typed email, unverified",
}


# A guest's own doings (their Leave); any other action by someone inside the room was a
# moderator's.
GUEST_OWN_ACTIONS = {"guest_left", "guest_left_waiting"}


def who(event: AuditEvent) -> str:
    """The log's "Who": an account's email (or System), or a guest (a guest moderator) as what
    they are."""
    if not event.actor_source:
        return event.actor_email or "System"
    name = f"{event.actor_name} " if event.actor_name else ""
    how = ACTOR_SOURCES.get(event.actor_source, event.actor_source)
    kind = "guest" if event.action in GUEST_OWN_ACTIONS else "guest moderator"
    return f"{kind} {name}<{event.actor_email}> ({how})"


PER_PAGE = 50

# What each action means, for the host reading the log. Unknown actions show their code.
ACTION_WORDS = {
    "room_created": "Created the room",
    "room_edited": "Edited the room",
    "room_deleted": "Deleted the room",
    "meeting_renamed": "Gave the meeting a new name",
    "consent_text_changed": "Changed what guests agree to",
    "calendar_updated": "Sent a calendar update",
    "calendar_cancelled": "Sent a calendar cancellation",
    "host_message_set": "Set the message to waiting guests",
    "host_message_cleared": "Removed the message to waiting guests",
    "attachment_added": "Attached a file",
    "attachment_removed": "Removed a file",
    "guest_access_on": "Turned guest access on",
    "guest_access_off": "Turned guest access off",
    "link_created": "Created a guest link",
    "link_deleted": "Deleted a guest link",
    "link_extended": "Extended a guest link",
    "link_limit_raised": "Raised a guest link's click limit",
    "invited": "Invited a guest",
    "invitation_emailed": "Emailed a guest link",
    "invitation_reset": "Reset a guest link",
    "invitation_removed": "Removed a guest",
    "role_changed": "Changed a guest's role",
    "guest_admitted": "Admitted a guest",
    "guest_denied": "Denied a guest",
    "guest_removed": "Removed a guest from the room",
    "guest_moved_to_waiting": "Moved a guest to the waiting room",
    "guest_allowed_again": "Allowed a turned-away guest again",
    "guest_left": "Left the session (a guest)",
    "guest_left_waiting": "Left the waiting room (a guest)",
    "user_added": "Added a user",
    "user_signed_out": "Signed a user out everywhere",
    "api_token_created": "Created an API token",
    "api_token_revoked": "Revoked an API token",
    "access_changed": "Changed a user's access",
    "sso_account_created": "Signed on for the first time (account made)",
    "sso_linked": "Linked an account to single sign-on",
    "sso_refused": "Refused a single sign-on",
    "domain_rule_added": "Added a domain rule",
    "domain_rule_removed": "Removed a domain rule",
    "webhook_created": "Added a webhook endpoint",
    "webhook_updated": "Changed a webhook endpoint",
    "webhook_enabled": "Enabled a webhook endpoint",
    "webhook_disabled": "Disabled a webhook endpoint",
    "webhook_secret_rotated": "Rotated a webhook endpoint's secret",
    "webhook_deleted": "Deleted a webhook endpoint",
}


def everything(room_id: int | None = None, action: str | None = None):
    """The log of every room and of the organisation's settings, with each event's room (or
    None), filtered by room and action: the admin's screen and the API read it alike."""
    from peewee import JOIN

    from .models import Room

    query = (AuditEvent.select(AuditEvent, Room)
             .join(Room, JOIN.LEFT_OUTER, on=(AuditEvent.room == Room.id), attr="room"))
    if room_id is not None:
        query = query.where(AuditEvent.room == room_id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return query


def page_number() -> int:
    """?page=N, anything else is page 1 (never a 500 on a made-up value)."""
    raw = request.args.get("page", "")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


def paginate(query, page: int) -> dict:
    total = query.count()
    pages = max(1, -(-total // PER_PAGE))
    page = min(page, pages)
    events = list(query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
                  .paginate(page, PER_PAGE))
    return {"events": events, "page": page, "pages": pages, "total": total,
            "action_words": ACTION_WORDS, "who": who}
