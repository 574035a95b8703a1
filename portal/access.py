"""Between the guest views and the pure decision: load the facts, decide, enter, record.

Views call `open_door` (a token from a URL) or `current_presence` (the guest's cookie), then
`decide_for`, and render what it says."""

from dataclasses import dataclass

from flask import current_app, g, session
from flask_login import current_user
from peewee import JOIN, SQL, Select, fn

from . import audit, decision, denials, outbox, push, tokens
from .db import database
from .decision import Decision, InviteFacts, LinkFacts, RoomFacts, Visitor
from .emails import domain_allowed
from .models import DomainRule, GuestLink, Invitation, Participant, Room, User
from .prepared import loaded, prepared
from .timeutil import utcnow


@dataclass
class Door:
    """What a token opens: a shared link or a personal invitation, with its room."""
    kind: str
    token_version: int
    room: Room | None = None
    link: GuestLink | None = None
    invitation: Invitation | None = None


def device_id() -> str:
    """This browser's random id, kept in the signed, HttpOnly session cookie."""
    device = session.get("device")
    if not isinstance(device, str) or len(device) > 64:
        from .models import new_device_id

        device = new_device_id()
        session["device"] = device
        session.permanent = True
        g.new_device = True  # minted just now: it has no presence anywhere yet
    return device


def read_token(kind: str, token: str) -> tuple[int, int] | None:
    """The (id, version) a token names, verified once a request: a lobby submission's limits
    count by it and its door is opened by it."""
    verified = g.setdefault("verified_tokens", {})
    if (kind, token) not in verified:
        verified[kind, token] = tokens.read_token(current_app.config["SECRET_KEYS"], kind, token)
    return verified[kind, token]


def open_door(kind: str, token: str) -> Door | None:
    """The link or invitation a token names, or None when the token isn't valid (bad signature,
    wrong kind, unknown id): those are all `link_invalid` and reveal nothing."""
    parsed = read_token(kind, token)
    if parsed is None:
        return None
    obj_id, version = parsed
    if kind == tokens.LINK:
        link = _link_with_room.first(link_id=obj_id)
        return Door(kind, version, room=link.room, link=link) if link else None
    invitation = _invitation_with_room_and_user.first(invitation_id=obj_id)
    if invitation is None:
        return None
    return Door(kind, version, room=invitation.room, invitation=invitation)


@prepared
def _link_with_room(link_id):
    return GuestLink.select(GuestLink, Room).join(Room).where(GuestLink.id == link_id).limit(1)


@prepared
def _invitation_with_room_and_user(invitation_id):
    return (Invitation.select(Invitation, Room, User).join(Room)
            .switch(Invitation).join(User).where(Invitation.id == invitation_id).limit(1))


# The decision's facts, each built in one place from a row's columns, whether the row is a model
# (`room_facts(room)`) or the status poll's narrow dict, whose columns are the same names with
# the table's prefix (`_FACT_COLUMNS`: room_kind, link_uses, invitation_email ...).

def _room_facts(get) -> RoomFacts:
    return RoomFacts(deleted=get("deleted_at") is not None, kind=get("kind"),
                     guest_access_enabled=get("guest_access_enabled"),
                     require_approval=get("require_approval"),
                     require_email_match=get("require_email_match"),
                     starts_at=get("starts_at"), ends_at=get("ends_at"))


def _link_facts(get) -> LinkFacts:
    return LinkFacts(deleted=get("deleted_at") is not None, expires_at=get("expires_at"),
                     max_uses=get("max_uses"), uses=get("uses"))


def _invite_facts(get, version: int, account_access: str) -> InviteFacts:
    """`version`: the one the door (the token, or the presence's entry) carries."""
    return InviteFacts(removed=get("removed_at") is not None,
                       current_version=version == get("version"),
                       expires_at=get("expires_at"), valid_once=get("valid_once"),
                       bound_device=get("bound_device"), email=get("email"),
                       account_access=account_access, email_confirmed=get("email_confirmed"))


def _columns_of(row):
    return lambda name: getattr(row, name)


def _prefixed(row: dict, table: str):
    return lambda name: row[f"{table}_{name}"]


def room_facts(room: Room) -> RoomFacts:
    return _room_facts(_columns_of(room))


def link_facts(link: GuestLink) -> LinkFacts:
    return _link_facts(_columns_of(link))


def invite_facts(invitation: Invitation, version: int) -> InviteFacts:
    return _invite_facts(_columns_of(invitation), version, invitation.user.access)


@prepared
def _domain_rules():
    return DomainRule.select(DomainRule.domain, DomainRule.mode).tuples()


def domain_rules() -> list[tuple[str, str]]:
    return _domain_rules.all()


def email_domain_allowed(email: str | None) -> bool:
    return True if not email else domain_allowed(email, domain_rules())


def signed_in_email() -> str | None:
    return current_user.email if current_user.is_authenticated else None


def decide_for(door: Door, participant: Participant | None = None,
               email_typed: str | None = None) -> Decision:
    """The decision for this door and this browser: `participant` is the browser's presence
    through this door, if any; `email_typed` what the lobby form submitted, if anything."""
    status = visitor_status(participant.status, participant.removed_at,
                            participant.moved_at) if participant else None
    if door.link is not None:
        return _decide(room_facts(door.room), status, email_typed, link=link_facts(door.link))
    return _decide(room_facts(door.room), status, email_typed,
                   invite=invite_facts(door.invitation, door.token_version))


def visitor_status(status: str, removed_at, moved_at) -> str:
    """A presence's status as the decision reads it: a host's Remove and Move to waiting room
    are kept as times beside the status (see Participant), and named here."""
    if status == "rejected" and removed_at is not None:
        return decision.REMOVED
    if status == "waiting" and moved_at is not None:
        return decision.HELD
    return status


def _decide(room: RoomFacts, participant_status: str | None, email_typed: str | None,
            link: LinkFacts | None = None, invite: InviteFacts | None = None,
            device: str | None = None) -> Decision:
    # Only invitations ask who is signed in (a shared link never does).
    signed_in = signed_in_email() if invite is not None else None
    email_for_domain = email_typed
    if email_for_domain is None and invite is not None and signed_in == invite.email:
        email_for_domain = invite.email
    visitor = Visitor(device=device or device_id(), participant_status=participant_status,
                      email_typed=email_typed, signed_in_email=signed_in,
                      domain_allowed=email_domain_allowed(email_for_domain))
    return decision.decide(utcnow(), visitor, room, link=link, invite=invite)


def record_denial(result: Decision, door: Door | None, email: str = "",
                  announce: bool = False) -> None:
    """`announce`: also as the webhook guest.denied (a lobby submission refused; not every
    GET of a dead link, which mail scanners and link previews make too)."""
    denials.record(result.reason, room=door.room if door else None,
                   link=door.link if door else None,
                   invitation=door.invitation if door else None, email=email,
                   announce=announce)


def presence_through(door: Door) -> Participant | None:
    """This browser's presence in the door's room through this very link or invitation; or,
    when it has none in the room now, the latest it left through this door (status "left":
    Leave, or a host's Allow again), to come back as the same guest."""
    if not isinstance(session.get("device"), str):
        return None  # a browser seen for the first time can't be inside yet
    participant = _presence_or_left.first(
        room_id=door.room.id, device=device_id(),
        link_id=door.link.id if door.link is not None else 0,  # ids start at 1: never found
        invitation_id=door.invitation.id if door.invitation is not None else 0,
        door_version=door.token_version)
    return participant if participant is not None and _same_door(participant, door) else None


@prepared
def _presence_or_left(room_id, device, link_id, invitation_id, door_version):
    """As Participant.current, and else the latest presence left through the door: one query
    along the (device, room) index (a browser has a few rows in a room at most)."""
    left = Participant.status == "left"
    through_door = ((Participant.link == link_id) | (Participant.invitation == invitation_id)) \
        & (Participant.door_version == door_version)
    return Participant.select().where(
        (Participant.room == room_id) & (Participant.device == device)
        & (~left | through_door)).order_by(left.asc(), Participant.id.desc()).limit(1)


class UsedUp(Exception):
    """The last use went to someone else between the decision and the claim."""


class NotAdmitted(Exception):
    """A host denied or removed this browser in this room; entering again through a link
    doesn't undo it (until the host's Allow again). `reason`: not_admitted or removed; `note`
    the host's message with their Deny, if any."""

    def __init__(self, reason: str = "not_admitted", note: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.note = note


def role_through(door: Door) -> str:
    """The role a door gives on entry: a shared link makes a viewer; an invitation its role
    (decision.role_now)."""
    return decision.role_now("viewer", door.invitation and door.invitation.role)


def email_source(door: Door) -> str:
    """How far the email of someone entering through `door` can be trusted (for the platform)."""
    if door.invitation is None:
        return "unverified"  # typed in a shared link's lobby; nobody checked it
    if signed_in_email() == door.invitation.email:
        return "account"
    if door.invitation.email_confirmed or door.room.require_email_match:
        return "confirmed"  # proven by a registration's confirmation, or typed and matched
    return "invitation"


def enter(door: Door, name: str, email: str, consent_version: int | None = None,
          consented_at=None) -> Participant:
    """Consume one use and make (or move) this browser's presence, in one transaction: a use is
    never counted without its participant, and a participant never exists without its use.
    A browser that entered through this link before is the same guest returning: no new use
    (GuestLink.claim). `consent_version`: the version of the room's text the guest agreed to,
    if it asks — just now, or at `consented_at` (a returning guest's agreement still stands).

    A presence follows the door it last came through: its role is that door's, and a shared
    link after an invitation means the link's waiting room, as for anyone with the link."""
    device = device_id()
    now = utcnow()
    role = role_through(door)
    source = email_source(door)
    consent = {} if consent_version is None else {"consented_at": consented_at or now,
                                                  "consent_version": consent_version}
    with database.atomic() as transaction:
        if door.link is not None:
            if not door.link.claim(device, door.token_version):
                raise UsedUp()
            status = "waiting" if door.room.require_approval else "admitted"
        else:
            if door.invitation.valid_once and not door.invitation.bind_device(device):
                raise UsedUp()
            status = "admitted"
        # Looked up after the claim, which holds the link's row until commit: a second
        # submission from this browser, sent at the same moment, waits here and then finds the
        # presence the first one made.
        holds = _host_holds.all(room_id=door.room.id, device=device, email=email)
        # Deny and Remove hold against shared links; personal invitations answer to their own
        # removal and reset.
        refused = next((h for h in holds if h.status == "rejected"), None) \
            if door.link is not None else None
        if refused is not None:
            transaction.rollback()  # the host's Deny or Remove holds: no use spent on a refusal
            raise NotAdmitted("removed" if refused.removed_at is not None else "not_admitted",
                              refused.host_note)
        existing = None if g.get("new_device") else Participant.current(door.room.id, device)
        if existing is not None and _same_door(existing, door):
            transaction.rollback()  # already in through this door: the use goes back
            if consent:  # agreed again, to the host's newer text
                Participant.update(**consent).where(Participant.id == existing.id).execute()
                existing.consented_at = consent["consented_at"]
                existing.consent_version = consent_version
            return existing
        if existing is not None and existing.status in ("admitted", "waiting") \
                and existing.email == email:
            # Admission carries from one shared link to another (the host admitted this guest),
            # never from an invitation to a shared link.
            if existing.status == "admitted" and existing.link_id is not None:
                status = "admitted"
            # Moved to the waiting room by a host: another door doesn't let them skip it.
            if existing.status == "waiting" and existing.moved_at is not None:
                status = "waiting"
            Participant.update(
                role=role, status=status, link=door.link.id if door.link else None,
                invitation=door.invitation.id if door.invitation else None,
                door_version=door.token_version, email_source=source, updated_at=now,
                decided_at=now if status == "admitted" else None, **consent,
            ).where(Participant.id == existing.id).execute()
            entered = Participant.get_by_id(existing.id)
            _announce_entry(door, entered)
            return entered
        moved_at = None
        # Moved to the waiting room by a host: this browser, whatever the door, or (as Remove
        # holds) this email through a shared link — in another browser, or gone by Leave.
        held = [h for h in holds if h.status != "rejected"
                and (h.device == device or door.link is not None)]
        if held:
            status, moved_at = "waiting", now
            # The hold of one gone passes to the new presence, so Admit ends it for good.
            left_while_moved = [h.id for h in held if h.status == "left"]
            if left_while_moved:
                Participant.update(moved_at=None).where(
                    Participant.id.in_(left_while_moved)).execute()
        fields = dict(room=door.room.id, link=door.link.id if door.link else None,
                      invitation=door.invitation.id if door.invitation else None,
                      name=name, email=email, role=role, email_source=source, status=status,
                      device=device, door_version=door.token_version, created_at=now,
                      updated_at=now, decided_at=now if status == "admitted" else None,
                      consented_at=consent.get("consented_at"),
                      consent_version=consent.get("consent_version"), moved_at=moved_at)
        entered = loaded(Participant, id=_new_participant.insert(**fields),
                         **{**fields, "room": door.room, "link": door.link,
                            "invitation": door.invitation})
        _announce_entry(door, entered)
        return entered


def _announce_entry(door: Door, participant: Participant) -> None:
    """The webhooks of an entry, in its transaction: guest.waiting or guest.entered; the
    first entry through an invitation (at its version) is invitation.accepted; the entry that
    used a link's last click, link.exhausted. The last two happen once each (once_key)."""

    room = door.room
    outbox.guest_event("guest.waiting" if participant.status == "waiting"
                         else "guest.entered", room, participant)
    if door.invitation is not None:
        invitation = door.invitation
        outbox.emit("invitation.accepted", room, {
            "invitation": outbox.invitation_data(invitation),
            "guest": outbox.guest_data(participant)},
            once_key=f"invitation.accepted:{invitation.id}:{invitation.version}")
    elif door.link.max_uses is not None and outbox.wanting("link.exhausted", room):
        link = GuestLink.get_by_id(door.link.id)
        if link.uses >= link.max_uses:
            outbox.emit("link.exhausted", room, {"link": outbox.link_data(link)},
                          once_key=f"link.exhausted:{link.id}:{link.max_uses}")


def leave(participant: Participant) -> bool:
    """The guest's Leave, from the room, the countdown or the waiting room: off the host's list
    (In the room, or the waiting list), with an audit event. A host's Deny or Remove stays on
    record (status rejected): leaving doesn't let them queue again. False when nothing was
    left to leave."""
    now = utcnow()
    with database.atomic():
        done = Participant.update(status="left", updated_at=now).where(
            (Participant.id == participant.id)
            & Participant.status.in_(("waiting", "admitted"))).execute()
        if done:
            audit.record("guest_left_waiting" if participant.status == "waiting"
                         else "guest_left", participant.room_id,
                         f"{participant.name} <{participant.email}>",
                         actor=audit.Actor.of_guest(participant))
            push.guest_news([participant.id])  # their other tabs
            outbox.guest_event("guest.left", participant.room, participant, status="left",
                                 left_from=participant.status)
    return bool(done)


def _same_door(participant: Participant, door: Door) -> bool:
    same = (participant.link_id == door.link.id) if door.link is not None else \
        (participant.invitation_id == door.invitation.id)
    return same and participant.door_version == door.token_version


# A host's holds in this room, in the one query an entry makes for them: this browser or this
# email denied or removed (Leave and a new link don't undo it), or moved to the waiting room and
# not admitted since — this browser gone, or this email waiting or gone (Leave, another browser
# and entering again don't skip the waiting room).
@prepared
def _host_holds(room_id, device, email):
    # Four terms, each found through its own index, (device, room) or (room, email), not by
    # walking every guest the room ever had. `status || ''` keeps SQLite's planner (which has
    # no statistics) off the (room, status) index, which would walk all the room's refused.
    in_room = Participant.room == room_id
    status = Participant.status.concat("")
    moved = Participant.moved_at.is_null(False)
    return Participant.select(Participant.id, Participant.status, Participant.removed_at,
                              Participant.device, Participant.host_note).where(
        (in_room & (Participant.device == device) & (status == "rejected"))
        | (in_room & (Participant.email == email) & (status == "rejected"))
        | (in_room & (Participant.device == device) & (status == "left") & moved)
        | (in_room & (Participant.email == email) & status.in_(("waiting", "left")) & moved))


# Every field a guest's entry sets, named: defaults would be fixed when the SQL is built.
@prepared
def _new_participant(room, link, invitation, name, email, role, email_source, status, device,
                     door_version, created_at, updated_at, decided_at, consented_at,
                     consent_version, moved_at):
    return Participant.insert(
        room=room, link=link, invitation=invitation, name=name, email=email, role=role,
        email_source=email_source, status=status, device=device, door_version=door_version,
        created_at=created_at, updated_at=updated_at, decided_at=decided_at,
        consented_at=consented_at, consent_version=consent_version, moved_at=moved_at)


def _presence_query(room_id, device, *columns):
    """This device's latest presence in a room (that it hasn't left), with its room, link,
    invitation and invited account, selecting `columns`."""
    return (
        Participant.select(*columns)
        # Room by the constant: joining on participant.room_id would lead SQLite to the room
        # index and walk every participant of the room, not this device's few rows.
        .join(Room, on=(Room.id == room_id))
        .switch(Participant)
        .join(GuestLink, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
        .switch(Participant)
        .join(Invitation, JOIN.LEFT_OUTER, on=(Participant.invitation == Invitation.id))
        .join(User, JOIN.LEFT_OUTER, on=(Invitation.user == User.id))
        .where((Participant.room == room_id) & (Participant.device == device)
               & (Participant.status != "left"))
        .order_by(Participant.id.desc())
        .limit(1))


@prepared
def _presence(room_id, device):
    return _presence_query(room_id, device, Participant, Room, GuestLink, Invitation, User)


# What the status poll decides with, and nothing else: plain values (half the columns of the
# full presence: no descriptions, no password hash), for the request every waiting guest makes
# every few seconds.
_FACT_COLUMNS = (
    Participant.id.alias("participant_id"), Participant.status.alias("status"),
    Participant.link.alias("link_id"), Participant.invitation.alias("invitation_id"),
    Participant.door_version.alias("door_version"), Participant.role.alias("role_at_entry"),
    Participant.removed_at.alias("removed_at"), Participant.moved_at.alias("moved_at"),
    Participant.created_at.alias("created_at"),
    Room.deleted_at.alias("room_deleted_at"), Room.kind.alias("room_kind"),
    Room.guest_access_enabled.alias("room_guest_access_enabled"),
    Room.require_approval.alias("room_require_approval"),
    Room.require_email_match.alias("room_require_email_match"),
    Room.starts_at.alias("room_starts_at"), Room.ends_at.alias("room_ends_at"),
    Room.host_message.alias("room_host_message"),
    GuestLink.deleted_at.alias("link_deleted_at"), GuestLink.expires_at.alias("link_expires_at"),
    GuestLink.max_uses.alias("link_max_uses"), GuestLink.uses.alias("link_uses"),
    Invitation.removed_at.alias("invitation_removed_at"),
    Invitation.version.alias("invitation_version"),
    Invitation.expires_at.alias("invitation_expires_at"),
    Invitation.valid_once.alias("invitation_valid_once"),
    Invitation.bound_device.alias("invitation_bound_device"),
    Invitation.email.alias("invitation_email"), Invitation.role.alias("invitation_role"),
    Invitation.email_confirmed.alias("invitation_email_confirmed"),
    User.access.alias("user_access"),
)


@prepared
def _presence_facts(room_id, device):
    return _presence_query(room_id, device, *_FACT_COLUMNS).dicts()


def current_presence(room_id: int) -> tuple[Participant | None, Door | None]:
    """This browser's presence in a room, and the door it came through (for deciding again):
    one indexed query, prepared."""
    row = _presence.first(room_id=room_id, device=device_id())
    if row is None:
        return None, None
    room = row.room
    if row.link_id is not None:
        door = Door(tokens.LINK, row.door_version, room=room, link=row.link)
    elif row.invitation_id is not None:
        door = Door(tokens.INVITE, row.door_version, room=room, invitation=row.invitation)
    else:  # the link or invitation row is gone altogether (its reference was cleared)
        return row, Door(tokens.LINK, row.door_version, room=None)
    row.role = decision.role_now(row.role, door.invitation and door.invitation.role)
    return row, door


def decide_presence(participant: Participant, door: Door) -> Decision:
    if door.room is None:
        return decision.deny("link_deleted")
    return decide_for(door, participant=participant)


@dataclass(frozen=True)
class PresenceFacts:
    """A browser's presence in a room as plain values, for deciding again (the status poll).
    `link` and `invite` are both None when the link or invitation row is gone altogether."""
    participant_id: int
    status: str  # as visitor_status names it
    created_at: object  # for the place in the queue
    role: str  # the door's role now (see role_through)
    host_message: str
    room: RoomFacts
    link: LinkFacts | None
    invite: InviteFacts | None

    def decide(self, device: str | None = None) -> Decision:
        """`device`: this browser's, when the caller read it itself (outside a request; then
        only for a link's presence: an invitation's decision asks who is signed in)."""
        if self.link is None and self.invite is None:
            return decision.deny("link_deleted")
        return _decide(self.room, self.status, None, link=self.link, invite=self.invite,
                       device=device)

    def decide_polled(self, device: str | None = None) -> Decision:
        """What the guest's polling page is told (guest.status and portal/quickpoll.py alike):
        while they keep their seat in the room (decision.keeps_seat), that they are in,
        whatever became of their door; otherwise what their next page load will decide."""
        if decision.keeps_seat(utcnow(), self.status, self.room):
            return Decision(decision.ENTER)
        return self.decide(device)


def presence_facts(room_id: int, device: str | None = None) -> PresenceFacts | None:
    """What `current_presence` and `decide_presence` would decide with, read from one narrow
    row: every waiting guest's page asks this every few seconds. `device`: this browser's,
    when the caller has read it (portal/quickpoll.py, outside a request)."""
    row = _presence_facts.first(room_id=room_id, device=device or device_id())
    if row is None:
        return None
    link = invite = None
    if row["link_id"] is not None:
        link = _link_facts(_prefixed(row, "link"))
    elif row["invitation_id"] is not None:
        invite = _invite_facts(_prefixed(row, "invitation"), row["door_version"],
                               row["user_access"])
    status = visitor_status(row["status"], row["removed_at"], row["moved_at"])
    return PresenceFacts(participant_id=row["participant_id"], status=status,
                         created_at=row["created_at"],
                         role=decision.role_now(row["role_at_entry"], invite is not None
                                                and row["invitation_role"]),
                         host_message=row["room_host_message"],
                         room=_room_facts(_prefixed(row, "room")), link=link,
                         invite=invite)


@prepared
def _crowd(room_id, status):
    return Participant.select(fn.COUNT(Participant.id)).where(
        (Participant.room == room_id) & (Participant.status == status)).tuples()


def crowd(room_id: int, status: str) -> int:
    """How many of a room's guests have this status: one count over the (room, status, ...)
    index, prepared (a waiting or room page asks it on every load)."""
    return _crowd.first(room_id=room_id, status=status)[0]


@prepared
def _ahead_in_line(room_id, participant_id, created_at, counted):
    ahead = Participant.select(Participant.id).where(
        (Participant.room == room_id) & (Participant.status == "waiting")
        & ((Participant.created_at < created_at)
           | ((Participant.created_at == created_at) & (Participant.id < participant_id)))
    ).limit(counted)
    return Select([ahead.alias("ahead")], [fn.COUNT(SQL("1"))]).bind(database).tuples()


def queue_position(room_id: int, participant_id: int, created_at, counted: int) -> int:
    """1 for the next to be admitted, in the waiting room's order (services.hosting.waiting);
    past `counted` ahead, counted + 1: every waiting guest's poll asks this, so it walks the
    (room, status, created_at) index at most that far, however long the queue (prepared: the
    query's SQL built once, not on each of thousands of polls a second)."""
    return _ahead_in_line.first(room_id=room_id, participant_id=participant_id,
                                created_at=created_at, counted=counted)[0] + 1
