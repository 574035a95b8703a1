"""Hosting a live room: who waits, who is inside, who was turned away — and what a host does
about them: Admit, Deny, Admit all; Remove, Move to waiting room, change the role; Allow again.
The owner's room page, an invited moderator's room page and the REST API call these.

`by` is who acts (audit.Actor: an owner's or admin's account, or a moderator inside the room);
each change writes its audit event in its transaction, and the account that decided (if any)
on the guest's row.

What a role change means follows the door (access.role_through): for someone who came by a
personal invitation it changes the invitation's role (as the Guests list's Change role does, so
it holds the next time they enter); for someone who came by a shared link it is the role of this
visit only — entering through the link again makes them a viewer, as for anyone with it."""

import functools

from peewee import JOIN, OP, SQL, Expression, Select, fn

from .. import access, audit, decision, outbox, push, timeutil
from ..audit import Actor
from ..db import database
from ..models import INSIDE_SINCE, ROLES, GuestLink, Invitation, Participant, Room
from ..prepared import prepared
from . import invitations

# The turned-away list shows the latest few: enough to find who to let in again.
TURNED_AWAY_SHOWN = 30


def participant_of(room: Room, participant_id: int) -> Participant | None:
    return Participant.get_or_none((Participant.id == participant_id)
                                   & (Participant.room == room))


def _who(participant) -> str:
    return f"{participant.name} <{participant.email}>"


# --- the waiting room ---------------------------------------------------------------------------

def waiting(room: Room, limit: int | None = None) -> list:
    """Those waiting, first come first (the first `limit`): only what their row shows and the
    decision records (the list is read on every poll of every host), as named tuples — id,
    link_id, invitation_id, name, email, created_at, consented_at, consent_version, moved_at
    and link_name — not models: a model a row was a quarter of the poll's time."""
    if limit is None:
        return list(_waiting_first.query(room_id=room.id, limit=None))
    return _waiting_first.all(room_id=room.id, limit=limit)


# The hosts' lists are read on every poll of every host: prepared (portal/prepared.py).
@prepared
def _waiting_first(room_id, limit):
    return (Participant.select(Participant.id, Participant.link.alias("link_id"),
                               Participant.invitation.alias("invitation_id"), Participant.name,
                               Participant.email, Participant.created_at,
                               Participant.consented_at, Participant.consent_version,
                               Participant.moved_at, GuestLink.name.alias("link_name"))
            .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
            .where((Participant.room == room_id) & (Participant.status == "waiting"))
            .order_by(Participant.created_at, Participant.id).limit(limit).namedtuples())


def waiting_count(room: Room) -> int:
    """How many wait: one count over the (room, status, created_at) index."""
    return access.crowd(room.id, "waiting")


def waiting_shown(room: Room, limit: int) -> tuple[list, int]:
    """The first `limit` waiting, and how many wait (counted only when the list is full:
    below it, the list is the count)."""
    people = waiting(room, limit)
    return people, waiting_count(room) if len(people) >= limit else len(people)


def admit(room: Room, participant_ids: list[int] | None, by: Actor) -> list:
    """Admit those of `participant_ids` still waiting (None: everyone waiting now, Admit all).
    Gives those admitted (id, name, email)."""
    return _decide_waiting(room, participant_ids, "admitted", by)


# A host's message to those they deny: one line, this long at most.
NOTE_MAX = 300


def note(text: str | None) -> str | None:
    """A host's message as kept and shown: one line (runs of spaces and line breaks become one
    space), None when empty. ValueError past NOTE_MAX characters (forms and the API say so
    first, by the same number)."""
    words = " ".join((text or "").split())
    if len(words) > NOTE_MAX:
        raise ValueError(f"a message to a guest has at most {NOTE_MAX} characters")
    return words or None


def deny(room: Room, participant_ids: list[int], by: Actor, message: str | None = None) -> list:
    """Turn away those of `participant_ids` still waiting: they can't queue again (by this
    browser or email, through a shared link) until Allow again. `message`: the host's words
    to them, shown on their page below "The host didn't admit you". Gives those denied."""
    return _decide_waiting(room, participant_ids, "rejected", by, note(message))


# Up to this many decided at once are told one by one (their own channels); more, the room.
PUSH_ONE_BY_ONE = 50


def _decide_waiting(room: Room, participant_ids: list[int] | None, status: str,
                    by: Actor, host_note: str | None = None) -> list:
    """Each with its audit event, in one transaction of two statements however many there
    are: Admit all for thousands is one UPDATE, not a loop."""
    now = timeutil.utcnow()
    still_waiting = (Participant.room == room) & (Participant.status == "waiting")
    if participant_ids is not None:
        still_waiting &= Participant.id.in_(list(participant_ids))
    with database.atomic():
        # Admit ends a host's Move to waiting room (moved_at): the door decides again.
        done = sorted(Participant.update(status=status, decided_at=now, moved_at=None,
                                         decided_by=by.account_id, updated_at=now,
                                         host_note=host_note)
                      .where(still_waiting)
                      .returning(Participant.id, Participant.name, Participant.email)
                      .execute(), key=lambda p: p.id)
        if status == "admitted":
            audit.record_many("guest_admitted", room, [_who(p) for p in done], actor=by)
            outbox.guests_event("guest.admitted", room, done, by)
        else:
            audit.record_many("guest_denied", room, [_who(p) for p in done],
                              detail=f"Message: {host_note}" if host_note else "", actor=by)
            outbox.guests_event("guest.denied", room, done, by, **_denied_words(host_note))
        # Admit all (or a crowd at once) is one message to the room, not one a guest.
        if participant_ids is None or len(done) > PUSH_ONE_BY_ONE:
            push.room_news(room.id)
        else:
            push.guest_news(p.id for p in done)
    return done


def _denied_words(host_note: str | None) -> dict:
    """A host's Deny, as guest.denied says it: the reason the guest is given, in the host's
    words (decision.REASONS), and the host's message to them (or null)."""
    from ..decision import REASONS

    return {"reason": "not_admitted", "host_words": REASONS["not_admitted"].host_words,
            "message": host_note}


# --- in the room --------------------------------------------------------------------------------

def _door_open(link, invitation, door_version):
    """Whether the door a guest came in by is still open (a removed or reset invitation, a
    deleted link turns them away on their next page load): `link` and `invitation` are the
    participant's references, GuestLink and Invitation joined on them."""
    return ((link.is_null(False) & GuestLink.deleted_at.is_null())
            | (invitation.is_null(False) & Invitation.removed_at.is_null()
               & (Invitation.version == door_version)))


def _inside_query(room, *columns):
    """Those admitted whose door is still open."""
    return (Participant.select(*columns)
            .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
            .switch(Participant)
            .join(Invitation, JOIN.LEFT_OUTER, on=(Participant.invitation == Invitation.id))
            .where((Participant.room == room) & (Participant.status == "admitted")
                   & _door_open(Participant.link, Participant.invitation,
                                Participant.door_version)))


_INSIDE_COLUMNS = (Participant.id, Participant.name, Participant.email, Participant.role,
                   Participant.link.alias("link_id"), Participant.invitation.alias("invitation_id"),
                   Participant.created_at, Participant.decided_at, Participant.consented_at,
                   Participant.consent_version, GuestLink.name.alias("link_name"),
                   Invitation.role.alias("invitation_role"))


def inside(room: Room, limit: int | None = None) -> list:
    """Those inside, longest inside first; with `limit`, only the last `limit` to come in. As
    named tuples of what their rows show (as `waiting`): id, name, email, role, link_id,
    invitation_id, created_at, decided_at, consented_at, consent_version, link_name and
    invitation_role."""
    if limit is None:
        return list(_inside_query(room, *_INSIDE_COLUMNS).order_by(INSIDE_SINCE, Participant.id)
                    .namedtuples())
    return _inside_last.all(room_id=room.id, limit=limit)[::-1]


@prepared
def _inside_last(room_id, limit):
    # read backwards along the order of an index (models.py)
    return (_inside_query(room_id, *_INSIDE_COLUMNS)
            .order_by(INSIDE_SINCE.desc(), Participant.id.desc()).limit(limit).namedtuples())


def inside_count(room: Room) -> int:
    """How many are inside: the room's admitted counted along the (room, status, link,
    invitation, door_version) index (models.py), less those whose door has closed — looked up
    from the closed doors, which are few — instead of a join for each of thousands inside (the
    same answer as `_door_open`, tests/test_owner_room_page.py)."""
    return int(_inside_count.first(room_id=room.id)[0])  # PostgreSQL sums as numeric


@prepared
def _inside_count(room_id):
    def admitted(*where):
        return Participant.select(fn.COUNT(SQL("1"))).where(
            (Participant.room == room_id) & (Participant.status == "admitted"), *where)

    deleted_links = GuestLink.select(GuestLink.id).where(
        (GuestLink.room == room_id) & GuestLink.deleted_at.is_null(False))
    # An invitation's guests carry its version at entry (the lobby takes only a token of the
    # current version): while it is 1 and the invitation isn't removed, every door is open.
    shut = Invitation.alias("shut")
    behind_shut = admitted(Participant.link.is_null(), Participant.invitation == shut.id,
                           shut.removed_at.is_null(False)
                           | (Participant.door_version != shut.version))
    shut_invitations = shut.select(fn.COALESCE(fn.SUM(behind_shut), 0)).where(
        (shut.room == room_id) & (shut.removed_at.is_null(False) | (shut.version != 1)))
    no_door = admitted(Participant.link.is_null(), Participant.invitation.is_null())
    # Expression, not `-`: peewee reads a query minus a query as EXCEPT
    closed = (admitted(Participant.link.in_(deleted_links)), no_door, shut_invitations)
    open_ = functools.reduce(lambda total, part: Expression(total, OP.SUB, part), closed,
                             admitted())
    return Select(columns=[open_]).bind(database).tuples()


def inside_shown(room: Room, limit: int) -> tuple[list, int]:
    """The last `limit` to come in, and how many are inside (counted only when the list is
    full)."""
    people = inside(room, limit)
    return people, inside_count(room) if len(people) >= limit else len(people)


def turned_away(room: Room, limit: int = TURNED_AWAY_SHOWN) -> list:
    """The latest people a host denied or removed here: they can't queue again until Allow
    again. As named tuples: id, name, email, link_id, invitation_id, decided_at, removed_at,
    updated_at."""
    return _turned_away_last.all(room_id=room.id, limit=limit)


@prepared
def _turned_away_last(room_id, limit):
    return (Participant.select(Participant.id, Participant.name, Participant.email,
                               Participant.link.alias("link_id"),
                               Participant.invitation.alias("invitation_id"),
                               Participant.decided_at, Participant.removed_at,
                               Participant.updated_at)
            .where((Participant.room == room_id) & (Participant.status == "rejected"))
            .order_by(Participant.updated_at.desc(), Participant.id.desc())
            .limit(limit).namedtuples())


def role_of(participant) -> str:
    """The role they have now (decision.role_now): of a participant, or of a row of `inside`
    (which carries its invitation's role)."""
    if not isinstance(participant, Participant):
        return decision.role_now(participant.role, participant.invitation_role)
    invitation = participant.invitation if participant.invitation_id else None
    return decision.role_now(participant.role, invitation and invitation.role)


def remove(room: Room, participant: Participant, by: Actor) -> bool:
    """Out, and held out: their next page load says they were removed; the same browser or
    email can't come back by a shared link until Allow again. False if they weren't inside."""
    now = timeutil.utcnow()
    with database.atomic():
        done = Participant.update(status="rejected", removed_at=now, moved_at=None,
                                  decided_at=now, decided_by=by.account_id,
                                  updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "admitted")).execute()
        if done:
            audit.record("guest_removed", room, _who(participant), actor=by)
            outbox.guest_event("guest.removed", room, participant, by, status="rejected")
            push.guest_news([participant.id])
    return bool(done)


def move_to_waiting(room: Room, participant: Participant, by: Actor) -> bool:
    """Back to the waiting room, whatever their door, until someone admits them. False if they
    weren't inside."""
    now = timeutil.utcnow()
    with database.atomic():
        done = Participant.update(status="waiting", moved_at=now, decided_at=now,
                                  decided_by=by.account_id, updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "admitted")).execute()
        if done:
            audit.record("guest_moved_to_waiting", room, _who(participant), actor=by)
            outbox.guest_event("guest.moved_to_waiting", room, participant, by,
                                 status="waiting")
            push.guest_news([participant.id])
    return bool(done)


def change_role(room: Room, participant: Participant, role: str, by: Actor) -> None:
    """See the module's note: an invitation's role, or this visit's."""
    if role not in ROLES:
        raise ValueError(f"not a role: {role!r}")
    old = role_of(participant)
    if old == role:
        return
    if participant.invitation_id:
        invitations.change_role(room, participant.invitation_id, old, role, _who(participant),
                                actor=by)  # everyone of the invitation: the room is told
        return
    with database.atomic():
        Participant.update(role=role, updated_at=timeutil.utcnow()).where(
            Participant.id == participant.id).execute()
        audit.record("role_changed", room, _who(participant),
                     detail=f"{old} → {role} (this visit, shared link)", actor=by)
        push.guest_news([participant.id])


def allow_again(room: Room, participant: Participant, by: Actor) -> bool:
    """Lifts a Deny or Remove: their presence ends (as if they had left), so they come back
    the ordinary way, by their link — and through a shared link wait again where guests wait.
    False if they weren't turned away."""
    now = timeutil.utcnow()
    with database.atomic():
        done = Participant.update(status="left", removed_at=None, moved_at=None,
                                  host_note=None, updated_at=now).where(
            (Participant.id == participant.id) & (Participant.status == "rejected")).execute()
        if done:
            audit.record("guest_allowed_again", room, _who(participant), actor=by)
            push.guest_news([participant.id])
    return bool(done)


# In the room's controls: what each does, and its result's key when done and when there was
# nothing left to do (another host was quicker).
_ACTIONS = {"remove": (remove, "removed", "not_inside"),
            "move": (move_to_waiting, "moved", "not_inside"),
            "allow": (allow_again, "allowed", "not_turned_away")}
REFUSED = "bad_role"  # the one refused control: answered 422


def act(action: str, room: Room, participant: Participant, by: Actor,
        role: str | None = None) -> str:
    """One control of In the room — remove, move, allow, or role (to `role`) — for the owner's
    and a moderator's screens alike: what came of it, as a key (removed, moved, allowed, role;
    not_inside or not_turned_away when another host was quicker; REFUSED for no valid role)."""
    if action in _ACTIONS:
        do, done, not_done = _ACTIONS[action]
        return done if do(room, participant, by) else not_done
    if role not in ROLES:
        return REFUSED
    if participant.status != "admitted":
        return "not_inside"
    change_role(room, participant, role, by)
    return "role"
