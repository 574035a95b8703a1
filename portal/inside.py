"""In the room: who is inside a room now, and what a host does about them — Remove, Move to
waiting room, change the role — plus Allow again for the people turned away (denied in the
waiting room, or removed). Shared by the owner's room page (portal/owner/inside.py) and an
invited moderator's room page (portal/guest.py); both render templates/owner/_inside.html.

What a role change means follows the door (access.role_through): for someone who came by a
personal invitation it changes the invitation's role (as the guests list's Change role does, so
it holds the next time they enter); for someone who came by a shared link it is the role of this
visit only — entering through the link again makes them a viewer, as for anyone with it."""

import hashlib

from flask import current_app
from flask_babel import gettext
from flask_login import current_user
from peewee import JOIN

from . import audit, timeutil
from .db import database
from .decision import N_
from .forms import PresenceRoleForm
from .models import INSIDE_SINCE, GuestLink, Invitation, Participant, Room

# The turned-away list shows the latest few: enough to find who to let in again.
TURNED_AWAY_SHOWN = 30

NOTICES = {
    "removed": N_("%(name)s was removed from the session."),
    "moved": N_("%(name)s was moved to the waiting room."),
    "not_inside": N_("%(name)s is no longer in the room."),
    "role": N_("%(name)s is now: %(role)s."),
    "bad_role": N_("Choose viewer, speaker or moderator."),
    "allowed": N_("%(name)s can enter again."),
    "not_turned_away": N_("%(name)s isn't turned away."),
}


def notice(key: str, by_owner: bool, **values) -> str:
    """A notice in the moderator's language; owner screens stay English."""
    text = NOTICES[key]
    return (text if by_owner else gettext(text)) % values


def _inside_query(room: Room, *columns):
    """Those admitted whose door is still open (a removed or reset invitation, a deleted link
    turns them away on their next page load)."""
    return (Participant.select(*columns)
            .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
            .switch(Participant)
            .join(Invitation, JOIN.LEFT_OUTER, on=(Participant.invitation == Invitation.id))
            .where((Participant.room == room) & (Participant.status == "admitted")
                   & ((Participant.link.is_null(False) & GuestLink.deleted_at.is_null())
                      | (Participant.invitation.is_null(False)
                         & Invitation.removed_at.is_null()
                         & (Invitation.version == Participant.door_version)))))


def inside_guests(room: Room, limit: int | None = None) -> list[Participant]:
    """Those inside, longest inside first; with `limit`, only the last `limit` to come in.
    Not for saving."""
    since = INSIDE_SINCE  # the order of an index (models.py)
    query = _inside_query(room, Participant.id, Participant.name, Participant.email,
                          Participant.role, Participant.link, Participant.invitation,
                          Participant.created_at, Participant.decided_at,
                          Participant.consented_at, Participant.consent_version,
                          GuestLink.id, GuestLink.name, Invitation.id, Invitation.role)
    if limit is None:
        return list(query.order_by(since, Participant.id))
    return list(query.order_by(since.desc(), Participant.id.desc()).limit(limit))[::-1]


def inside_count(room: Room) -> int:
    return _inside_query(room, Participant.id).count()


def turned_away(room: Room) -> list[Participant]:
    """The latest people a host denied or removed here: they can't queue again until Allow
    again."""
    return list(Participant.select(Participant.id, Participant.name, Participant.email,
                                   Participant.decided_at, Participant.removed_at,
                                   Participant.updated_at)
                .where((Participant.room == room) & (Participant.status == "rejected"))
                .order_by(Participant.updated_at.desc(), Participant.id.desc())
                .limit(TURNED_AWAY_SHOWN))


def role_of(participant: Participant) -> str:
    """The role they have now: an invitation's own, else the presence's (see role_through)."""
    if participant.invitation_id and participant.invitation:
        return participant.invitation.role
    return participant.role


def fingerprint(inside: list[Participant], total: int, away: list[Participant]) -> str:
    """Unchanged while nobody enters, leaves, changes role or agrees to a new text: the poll
    then answers 204."""
    parts = [f"{p.id}:{role_of(p)}:{p.consent_version}" for p in inside] + [f"|{total}|"] + \
        [str(p.id) for p in away]
    return hashlib.sha256(",".join(parts).encode()).hexdigest()[:12]


def inside_context(room: Room, endpoints: dict, by_owner: bool, me: Participant | None = None,
                   **overrides) -> dict:
    """What _inside.html shows; `endpoints` names the poll, remove, move, role and allow views
    of the audience (owner or moderator); `me` is the moderator looking (no controls on their
    own row)."""
    shown = current_app.config["HOST_LIST_ROWS"]
    inside, away = inside_guests(room, shown), turned_away(room)
    # Counted only when the list is full: below it, the list is the count.
    total = inside_count(room) if len(inside) >= shown else len(inside)
    context = {"inside_guests": inside, "inside_total": total, "turned_away": away,
               "inside_fingerprint": fingerprint(inside, total, away), "inside_notice": None,
               "inside_error": False, "inside_endpoints": endpoints, "inside_by_owner": by_owner,
               "inside_me": me.id if me is not None else None,
               "inside_roles": ("viewer", "speaker", "moderator"),  # by what they may do
               "role_of": role_of}
    context.update(overrides)
    return context


def _actor(moderator: Participant | None) -> tuple[int | None, dict]:
    """Who decides: the signed-in owner, or a moderator inside the room (audit.by_guest)."""
    if moderator is None:
        return current_user.id, {}
    actor = audit.by_guest(moderator)
    return (actor["actor"].id if actor["actor"] else None), actor


def _who(participant: Participant) -> str:
    return f"{participant.name} <{participant.email}>"


def remove(room: Room, participant: Participant, moderator: Participant | None = None) -> bool:
    """Out, and held out: their next page load says they were removed; the same browser or
    email can't come back by a shared link until Allow again."""
    now = timeutil.utcnow()
    decided_by, actor = _actor(moderator)
    with database.atomic():
        done = Participant.update(status="rejected", removed_at=now, moved_at=None,
                                  decided_at=now, decided_by=decided_by, updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "admitted")).execute()
        if done:
            audit.record("guest_removed", room, _who(participant), **actor)
    return bool(done)


def move_to_waiting(room: Room, participant: Participant,
                    moderator: Participant | None = None) -> bool:
    """Back to the waiting room, whatever their door, until someone admits them."""
    now = timeutil.utcnow()
    decided_by, actor = _actor(moderator)
    with database.atomic():
        done = Participant.update(status="waiting", moved_at=now, decided_at=now,
                                  decided_by=decided_by, updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "admitted")).execute()
        if done:
            audit.record("guest_moved_to_waiting", room, _who(participant), **actor)
    return bool(done)


def change_role(room: Room, participant: Participant, role: str,
                moderator: Participant | None = None) -> bool:
    """See the module's note: an invitation's role, or this visit's."""
    now = timeutil.utcnow()
    _decided_by, actor = _actor(moderator)
    old = role_of(participant)
    if old == role:
        return True
    with database.atomic():
        if participant.invitation_id:
            Invitation.update(role=role).where(
                Invitation.id == participant.invitation_id).execute()
            # Everyone inside through this invitation (as the guests list's Change role).
            Participant.update(role=role, updated_at=now).where(
                (Participant.invitation == participant.invitation_id)
                & Participant.status.in_(("waiting", "admitted"))).execute()
            detail = f"{old} → {role}"
        else:
            Participant.update(role=role, updated_at=now).where(
                Participant.id == participant.id).execute()
            detail = f"{old} → {role} (this visit, shared link)"
        audit.record("role_changed", room, _who(participant), detail=detail, **actor)
    return True


def allow_again(room: Room, participant: Participant,
                moderator: Participant | None = None) -> bool:
    """Lifts a Deny or Remove: their presence ends (as if they had left), so they come back
    the ordinary way, by their link — and through a shared link wait again where guests wait."""
    now = timeutil.utcnow()
    _decided_by, actor = _actor(moderator)
    with database.atomic():
        done = Participant.update(status="left", removed_at=None, moved_at=None,
                                  updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "rejected")).execute()
        if done:
            audit.record("guest_allowed_again", room, _who(participant), **actor)
    return bool(done)


def participant_of(room: Room, participant_id: int) -> Participant | None:
    return Participant.get_or_none((Participant.id == participant_id)
                                   & (Participant.room == room))


# Remove, Move to waiting room and Allow again: what each does, and its notice's key when done
# and when there was nothing left to do (another host was quicker).
_ACTIONS = {"remove": (remove, "removed", "not_inside"),
            "move": (move_to_waiting, "moved", "not_inside"),
            "allow": (allow_again, "allowed", "not_turned_away")}
REFUSED = "bad_role"  # the one notice of a refused control: answered 422, shown as an error


def act(action: str, room: Room, participant: Participant,
        moderator: Participant | None = None) -> tuple[str, str | None]:
    """A control of In the room, for the owner's and a moderator's views alike: does what
    `action` (remove, move, allow, or role: the one in the posted form) asks, and gives the notice's
    key and the new role."""
    if action in _ACTIONS:
        do, done, not_done = _ACTIONS[action]
        return (done if do(room, participant, moderator) else not_done), None
    form = PresenceRoleForm()
    if not form.validate_on_submit():
        return REFUSED, None
    if participant.status != "admitted":
        return "not_inside", None
    change_role(room, participant, form.role.data, moderator)
    return "role", form.role.data
