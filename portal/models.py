"""Every model of the design, with the indexes their lookups need, and only query helpers."""

import secrets

from peewee import (
    SQL,
    BigIntegerField,
    BooleanField,
    Case,
    CharField,
    Check,
    DateField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    fn,
)

from .db import database
from .meetings import derive_name
from .prepared import prepared
from .timeutil import utcnow

ACCESS_LEVELS = ("admin", "broadcaster", "guest")
ROLES = ("viewer", "moderator", "speaker")
ROOM_KINDS = ("regular", "channel")
PARTICIPANT_STATUSES = ("waiting", "admitted", "rejected", "left")
EMAIL_STATUSES = ("not_sent", "sent", "failed")


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(default=utcnow)


class User(BaseModel):
    email = CharField(max_length=254, unique=True)  # normalised: see portal.emails.normalize
    name = CharField(max_length=120, default="")
    password_hash = CharField(max_length=255)
    access = CharField(max_length=16, default="guest",
                       constraints=[Check("access IN ('admin', 'broadcaster', 'guest')")])
    timezone = CharField(max_length=64, default="UTC")
    created_at = DateTimeField(default=utcnow)
    # bumped when the password changes: signs password-reset tokens so each works once
    password_version = IntegerField(default=1)
    # bumped at sign-out and by an admin's "sign out everywhere": ends every session
    # (a default in the schema too, so the upgrade adds the column without rebuilding the table)
    session_generation = IntegerField(default=1, constraints=[SQL("DEFAULT 1")])
    # Single sign-on (portal/sso.py): the provider's issuer and subject name the account — never
    # the email alone. Both empty for an account that signs in with its password only.
    oidc_issuer = CharField(max_length=255, null=True)
    oidc_subject = CharField(max_length=255, null=True)
    # What the provider's roles claim said at the last sign-on: "groups: staff, gg-admins", or
    # "" when roles aren't taken from the provider (shown on the admin's Users screen)
    sso_roles = CharField(max_length=500, default="", constraints=[SQL("DEFAULT ''")])
    last_sign_in_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("oidc_issuer", "oidc_subject"), True),)

    # Flask-Login
    is_active = True
    is_anonymous = False
    is_authenticated = True

    def get_id(self) -> str:
        # A session holds this id: changing either number ends every session made before.
        return f"{self.id}:{self.password_version}:{self.session_generation}"

    def end_sessions(self) -> None:
        User.update(session_generation=User.session_generation + 1).where(
            User.id == self.id).execute()

    @property
    def is_owner(self) -> bool:
        return self.access in ("admin", "broadcaster")

    @property
    def signs_on(self) -> bool:
        """Linked to the organisation's provider: it signs in there, not with a password."""
        return bool(self.oidc_subject)

    @property
    def is_admin(self) -> bool:
        return self.access == "admin"


class Room(BaseModel):
    owner = ForeignKeyField(User, backref="rooms", on_delete="RESTRICT")
    title = CharField(max_length=200)
    description = TextField(default="")
    speakers = TextField(default="")  # one per line
    starts_at = DateTimeField()
    ends_at = DateTimeField()
    kind = CharField(max_length=16, default="regular",
                     constraints=[Check("kind IN ('regular', 'channel')")])
    guest_access_enabled = BooleanField(default=False)
    require_approval = BooleanField(default=False)
    require_email_match = BooleanField(default=True)
    join_url = CharField(max_length=500, null=True)
    # where the live session runs (portal.meetings: livekit, jitsi, bigbluebutton, galene, or
    # other = join_url with Guestgate's ticket) and the meeting's name there: always Guestgate's
    # (portal.services.rooms.save), held by this one room on its platform (the index below)
    platform = CharField(max_length=16, default="other")
    meeting_name = CharField(max_length=64, default=derive_name)
    host_message = CharField(max_length=500, default="")
    # The zone the owner gave start and end in (they are stored in UTC): calendar invites are
    # written in it, so a calendar keeps the session at the owner's wall-clock time.
    timezone = CharField(max_length=64, default="UTC", constraints=[SQL("DEFAULT 'UTC'")])
    # "Guests must agree before they enter": the owner's text, and its version — bumped whenever
    # the text changes, so each participant's agreement says which text they agreed to.
    consent_required = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    consent_text = TextField(default="", constraints=[SQL("DEFAULT ''")])
    consent_version = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    # Who is told when guests wait unseen (portal/host_alerts.py): the owner and the invited
    # moderators who opted in, the owner only, or nobody.
    alert_hosts = CharField(max_length=16, default="hosts", constraints=[
        SQL("DEFAULT 'hosts'"), Check("alert_hosts IN ('hosts', 'owner', 'nobody')")])
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("owner", "deleted_at", "starts_at"), False),)

    @property
    def asks_consent(self) -> bool:
        return self.consent_required and bool(self.consent_text)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def meeting(self) -> str:
        """The meeting's name on its platform (version 11 gave `room-<id>` to the rooms made
        before there were platforms, which had none)."""
        return self.meeting_name or f"room-{self.id}"

    @property
    def speaker_list(self) -> list[str]:
        return [s.strip() for s in self.speakers.splitlines() if s.strip()]

    @classmethod
    def live(cls):
        return cls.select().where(cls.deleted_at.is_null())

    def live_links(self):
        return (GuestLink.select().where((GuestLink.room == self) & GuestLink.deleted_at.is_null())
                .order_by(GuestLink.created_at, GuestLink.id))

    def live_invitations(self):
        return (Invitation.select().where((Invitation.room == self)
                                          & Invitation.removed_at.is_null())
                .order_by(Invitation.created_at, Invitation.id))

    def lock(self) -> None:
        """First in a transaction that counts the room's links, invitations or attachments
        before adding one: a no-op update takes the row lock on PostgreSQL and the write lock
        on SQLite, so two such transactions can't both see room for one more."""
        Room.update(kind=Room.kind).where(Room.id == self.id).execute()

    def waiting_participants(self):
        return (Participant.select().where((Participant.room == self)
                                           & (Participant.status == "waiting"))
                .order_by(Participant.created_at, Participant.id))


# A meeting name names one room's meeting on its platform: a second room holding it would get
# credentials for the first one's meeting (its owner a moderator's). Deleted rooms keep theirs:
# a meeting can outlive its room. Compared lower-cased, as Jitsi compares room names (for the
# platforms that tell case apart, that is only stricter).
Room.add_index(Room.index(Room.platform, fn.LOWER(Room.meeting_name), unique=True,
                          name="room_platform_meeting_name"))


class Attachment(BaseModel):
    room = ForeignKeyField(Room, backref="attachments", on_delete="CASCADE")
    filename = CharField(max_length=255)  # as uploaded, shown to people
    stored_name = CharField(max_length=64, unique=True)  # random, on disk
    content_type = CharField(max_length=100)
    size = IntegerField()
    uploaded_at = DateTimeField(default=utcnow)


class GuestLink(BaseModel):
    room = ForeignKeyField(Room, backref="links", on_delete="CASCADE")
    name = CharField(max_length=100)
    max_uses = IntegerField(null=True, constraints=[Check("max_uses IS NULL OR max_uses >= 1")])
    uses = IntegerField(default=0, constraints=[Check("uses >= 0")])
    expires_at = DateTimeField(null=True)
    version = IntegerField(default=1)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("room", "deleted_at"), False),)

    @property
    def uses_left(self) -> int | None:
        return None if self.max_uses is None else max(self.max_uses - self.uses, 0)

    def claim(self, device: str = "", door_version: int = 0) -> bool:
        """Consume one use atomically: one conditional UPDATE, so a burst never overshoots.
        A use is a browser's first entry through the link: a browser (`device`) that entered
        through it before, at this version (`door_version`), is the same guest returning —
        after Leave, or a host's Allow again — and its claim succeeds without a use, also
        when the link has none left. The claim holds the link's row until commit either way."""
        return _claim_link.execute(link_id=self.id, room_id=self.room_id, device=device,
                                   door_version=door_version) == 1


class Invitation(BaseModel):
    room = ForeignKeyField(Room, backref="invitations", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="invitations", on_delete="CASCADE")
    email = CharField(max_length=254)  # normalised
    role = CharField(max_length=16, default="viewer",
                     constraints=[Check("role IN ('viewer', 'moderator', 'speaker')")])
    valid_once = BooleanField(default=False)
    expires_at = DateTimeField(null=True)
    version = IntegerField(default=1)
    bound_device = CharField(max_length=64, null=True)  # valid once: the browser that used it
    email_status = CharField(max_length=16, default="not_sent",
                             constraints=[Check("email_status IN ('not_sent', 'sent', 'failed')")])
    emailed_at = DateTimeField(null=True)
    email_error = CharField(max_length=500, default="")
    # The SEQUENCE of the calendar event this invitation's emails carry (its UID is fixed):
    # one more for every update or cancellation sent, so calendars apply the newest.
    ics_sequence = IntegerField(default=0, constraints=[SQL("DEFAULT 0")])
    # The address is proven already (a registrant confirmed it from the email's link): the
    # lobby doesn't ask for it, whatever the room's require_email_match (portal/decision.py).
    email_confirmed = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    removed_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("room", "email"), True), (("room", "removed_at"), False))

    def bind_device(self, device: str) -> bool:
        """Valid-once invitations belong to the first browser that enters with them."""
        if self.bound_device == device:
            return True
        if _bind_invitation.execute(invitation_id=self.id, device=device) == 1:
            self.bound_device = device
            return True
        return False


class Participant(BaseModel):
    # No index of its own: (room, status, created_at) serves room lookups, and a lone room index
    # tempts SQLite away from (device, room) when a guest's page looks up their presence.
    room = ForeignKeyField(Room, backref="participants", on_delete="CASCADE", index=False)
    link = ForeignKeyField(GuestLink, null=True, backref="participants", on_delete="SET NULL")
    invitation = ForeignKeyField(Invitation, null=True, backref="participants",
                                 on_delete="SET NULL")
    name = CharField(max_length=100)
    email = CharField(max_length=254)
    role = CharField(max_length=16, default="viewer")
    # how the email was established at entry (see portal.meetings.Attendee.email_source)
    email_source = CharField(max_length=16, default="unverified")
    status = CharField(max_length=16, default="waiting",
                       constraints=[Check("status IN ('waiting', 'admitted', 'rejected', 'left')")])
    device = CharField(max_length=64)  # random id kept in the guest's signed cookie
    # the link's or invitation's version at entry: a reset afterwards turns the guest away
    door_version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # When they ticked "I agree" in the lobby, and the version of the room's text it showed
    consented_at = DateTimeField(null=True)
    consent_version = IntegerField(null=True)
    # A host's Remove: the presence is refused (status rejected) and the guest reads that they
    # were removed, not that they weren't admitted. Nullable columns, not a new status: SQLite
    # can't change the status CHECK in place.
    removed_at = DateTimeField(null=True)
    # A host's Move to waiting room: the guest waits (status waiting) whatever their door, until
    # Admit; cleared by Admit.
    moved_at = DateTimeField(null=True)
    # A host's words to a guest they Deny ("This session is for staff only"), shown on the
    # guest's page; cleared when the guest is admitted or allowed again.
    host_note = CharField(max_length=300, null=True)
    # The first time this presence got its credential for the live session (Join): the
    # attendance screen's "joined the live session", whether or not a webhook wanted it.
    joined_live_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("room", "status", "created_at"), False),
            (("device", "room"), False),
            # a host's Remove or Deny holds by email too (access._host_holds, on every entry)
            (("room", "email"), False),
        )

    @classmethod
    def current(cls, room_id: int, device: str):
        """This browser's latest presence in the room that hasn't ended by leaving."""
        return _current_presence.first(room_id=room_id, device=device)


# The hosts' lists show a room's latest and stop there (HOST_LIST_ROWS): In the room the last to
# come in (decided_at when a host admitted them, created_at when they came straight in; the
# order portal/services/hosting.py asks for), Turned away the last refused. Read backwards along
# these indexes, 16,000 inside cost what 50 do.
INSIDE_SINCE = fn.COALESCE(Participant.decided_at, Participant.created_at)
Participant.add_index(Participant.index(Participant.room, Participant.status, INSIDE_SINCE,
                                        Participant.id, name="participant_room_status_since"))
Participant.add_index(Participant.index(Participant.room, Participant.status,
                                        Participant.updated_at,
                                        name="participant_room_status_updated_at"))
# How many are inside (services/hosting.inside_count): a room's admitted grouped by the door
# they came in by, read from this index alone, so 16,000 inside are counted without visiting
# their rows.
Participant.add_index(Participant.index(Participant.room, Participant.status, Participant.link,
                                        Participant.invitation, Participant.door_version,
                                        name="participant_room_status_door"))


class DenialEvent(BaseModel):
    """The most recent denials of a room (bounded per room; see portal.denials)."""
    room = ForeignKeyField(Room, null=True, on_delete="CASCADE")
    reason = CharField(max_length=32)
    link = ForeignKeyField(GuestLink, null=True, on_delete="SET NULL")
    invitation = ForeignKeyField(Invitation, null=True, on_delete="SET NULL")
    email = CharField(max_length=254, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "id"), False),)


class DenialCount(BaseModel):
    """Exact counts per room, reason and day. room_key is the room's id, or 0 for denials that
    can't be tied to a room (garbled tokens): a plain integer, so the upsert's unique key works
    the same on SQLite and PostgreSQL (NULLs are never equal in a UNIQUE index)."""
    room_key = IntegerField()
    reason = CharField(max_length=32)
    day = DateField()
    count = BigIntegerField(default=0)

    class Meta:
        indexes = ((("room_key", "reason", "day"), True),)


class DomainRule(BaseModel):
    domain = CharField(max_length=253, unique=True)
    mode = CharField(max_length=8, constraints=[Check("mode IN ('allow', 'block')")])
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)


class AuditEvent(BaseModel):
    room = ForeignKeyField(Room, null=True, backref="audit_events", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    actor_email = CharField(max_length=254, default="")
    # A guest moderator acting from inside the room (not a host's account): their name and how
    # their email was established (Participant.email_source); both empty for an account.
    actor_name = CharField(max_length=100, default="", constraints=[SQL("DEFAULT ''")])
    actor_source = CharField(max_length=16, default="", constraints=[SQL("DEFAULT ''")])
    action = CharField(max_length=40)
    target = CharField(max_length=255, default="")
    detail = TextField(default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "created_at"), False), (("action", "created_at"), False))


class ApiToken(BaseModel):
    """A personal access token for the REST API (portal/services/api_tokens.py). Only the
    SHA-256 of the token is kept: the token itself is shown once, when it is made. `prefix` is
    its first characters, so its owner can tell tokens apart in the list."""
    user = ForeignKeyField(User, backref="api_tokens", on_delete="CASCADE")
    name = CharField(max_length=100)
    scope = CharField(max_length=8, constraints=[Check("scope IN ('read', 'write')")])
    token_hash = CharField(max_length=64, unique=True)
    prefix = CharField(max_length=16)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    revoked_by = ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

    class Meta:
        indexes = ((("user", "revoked_at"), False),)

    @property
    def is_write(self) -> bool:
        return self.scope == "write"


class RateLimitCounter(BaseModel):
    """One fixed window of a rate limit (portal/ratelimit.py, `database://`): every worker and
    host using the database counts in the same row. `expires_at` is a Unix time (seconds)."""
    key = TextField(primary_key=True)
    count = BigIntegerField(default=0)
    expires_at = DoubleField(index=True)  # the sweep of expired windows walks this index


# --- webhooks (portal/services/webhooks.py writes them; portal/webhook_delivery.py sends) ------

WEBHOOK_ENDPOINT_STATUSES = ("active", "disabled", "paused", "gone")


class WebhookEndpoint(BaseModel):
    """An owner's receiver: the events it wants (space-separated), optionally only some rooms
    (space-separated ids; empty: every room the owner may see). The secret signs; during a
    rotation the previous one signs too until `previous_secret_until`. Kept as they are (they
    sign every delivery), shown to the owner only once. Status: active; disabled by the owner;
    paused after repeated failure; gone (the receiver answered 410)."""
    owner = ForeignKeyField(User, backref="webhook_endpoints", on_delete="CASCADE")
    url = CharField(max_length=500)
    description = CharField(max_length=100, default="")
    events = TextField()
    room_ids = TextField(default="")
    secret = CharField(max_length=100)
    previous_secret = CharField(max_length=100, default="")
    previous_secret_until = DateTimeField(null=True)
    status = CharField(max_length=16, default="active",
                       constraints=[Check("status IN ('active', 'disabled', 'paused', 'gone')")])
    status_detail = CharField(max_length=500, default="")
    # failed attempts in a row (any event): reaching WEBHOOK_PAUSE_AFTER_FAILURES pauses it
    failures_in_a_row = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status",), False), (("owner", "id"), False))

    @property
    def event_list(self) -> list[str]:
        return self.events.split()

    @property
    def room_id_list(self) -> list[int]:
        return [int(i) for i in self.room_ids.split()]


class WebhookEvent(BaseModel):
    """The outbox: one row per event that some endpoint wanted, written in the transaction of
    the change that caused it. `event_id` is the webhook-id (the receivers' idempotency key);
    `payload` the exact body sent. `once_key` makes a time-based event (room.started,
    link.expired) happen once however many delivery workers notice the time has come."""
    event_id = CharField(max_length=64, unique=True)
    type = CharField(max_length=40)
    room_id = IntegerField(null=True)
    payload = TextField()
    once_key = CharField(max_length=100, null=True, unique=True)
    created_at = DateTimeField(default=utcnow)


class WebhookDelivery(BaseModel):
    """One event to one endpoint. Pending until delivered, failed (retries ran out, the
    receiver is gone) or delivered. A worker claims a due row by setting `claim` and moving
    `next_attempt_at` a lease ahead: a worker killed mid-send leaves a row that is due again
    when the lease ends."""
    endpoint = ForeignKeyField(WebhookEndpoint, backref="deliveries", on_delete="CASCADE")
    event = ForeignKeyField(WebhookEvent, backref="deliveries", on_delete="CASCADE")
    status = CharField(max_length=16, default="pending",
                       constraints=[Check("status IN ('pending', 'delivered', 'failed')")])
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    claim = CharField(max_length=64, null=True)
    last_status = IntegerField(null=True)  # the receiver's last HTTP status, if it answered
    last_error = CharField(max_length=500, default="")
    last_attempt_at = DateTimeField(null=True)
    delivered_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("status", "next_attempt_at"), False), (("endpoint", "id"), False),
                   (("event",), False))


class AlertPreference(BaseModel):
    """An account's choices for host alerts (portal/host_alerts.py); no row: the defaults.
    `moderated_rooms`: also the rooms the account moderates by invitation (opt-in). Quiet hours
    are "HH:MM" in the account's time zone, both empty for none; they may span midnight."""
    user = ForeignKeyField(User, primary_key=True, on_delete="CASCADE")
    email = BooleanField(default=True)
    push = BooleanField(default=True)
    moderated_rooms = BooleanField(default=False)
    quiet_from = CharField(max_length=5, default="")
    quiet_until = CharField(max_length=5, default="")
    updated_at = DateTimeField(default=utcnow)


class PushSubscription(BaseModel):
    """One browser's Web Push subscription of an account: the push service's endpoint and the
    browser's keys (p256dh, auth) that encrypt what is sent. Removed by its owner, or when the
    push service answers 404/410 (the browser unsubscribed or is gone)."""
    user = ForeignKeyField(User, backref="push_subscriptions", on_delete="CASCADE")
    endpoint = CharField(max_length=1000, unique=True)
    p256dh = CharField(max_length=200)
    auth = CharField(max_length=100)
    label = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)
    last_sent_at = DateTimeField(null=True)
    last_error = CharField(max_length=500, default="")

    class Meta:
        indexes = ((("user", "id"), False),)


class RoomAlertState(BaseModel):
    """Per room, what host alerts need to be the same across workers and hosts: when a host's
    page last asked for the waiting list (`host_seen_at`: someone is watching), when the last
    alert went (the throttle), and the last waiting guest it named (`alerted_through`, a
    participant id: each guest is named in one alert)."""
    room = ForeignKeyField(Room, primary_key=True, on_delete="CASCADE")
    host_seen_at = DateTimeField(null=True)
    last_alert_at = DateTimeField(null=True)
    alerted_through = BigIntegerField(default=0)


# --- registration (portal/services/registration.py) -------------------------------------------

REGISTRATION_MODES = ("open", "approval")
# unconfirmed: the email's link not opened yet; pending: confirmed, waiting for a host's
# approval; registered: has a place (and a personal invitation); waitlisted: confirmed (and
# approved), waiting for a place; declined: a host said no; cancelled: the registrant's own
# choice — never shown as a denial, and they may register again.
REGISTRATION_STATUSES = ("unconfirmed", "pending", "registered", "waitlisted", "declined",
                         "cancelled")


class RegistrationSettings(BaseModel):
    """A room's registration: off by default (no row: off). `taken` counts the places held
    (registered): the one conditional UPDATE that claims a place reads and moves it, so a
    burst never overshoots `capacity` (None: no limit). `version` signs the public page's
    link (Reset bumps it). `questions`: the owner's custom questions, as JSON."""
    room = ForeignKeyField(Room, primary_key=True, on_delete="CASCADE")
    enabled = BooleanField(default=False)
    mode = CharField(max_length=16, default="open",
                     constraints=[Check("mode IN ('open', 'approval')")])
    capacity = IntegerField(null=True, constraints=[Check("capacity IS NULL OR capacity >= 1")])
    taken = IntegerField(default=0, constraints=[Check("taken >= 0")])
    opens_at = DateTimeField(null=True)
    closes_at = DateTimeField(null=True)
    questions = TextField(default="[]")
    version = IntegerField(default=1)
    updated_at = DateTimeField(default=utcnow)
    # Reminders to the registrants with a place, hours before the start ("24,1"; empty: none),
    # and the follow-up after the session (off by default), one text for those who came and
    # one for those who didn't (portal/reminders.py sends them).
    reminder_hours = CharField(max_length=40, default="24,1", constraints=[SQL("DEFAULT '24,1'")])
    follow_up = BooleanField(default=False, constraints=[SQL("DEFAULT FALSE")])
    follow_up_came = TextField(default="", constraints=[SQL("DEFAULT ''")])
    follow_up_missed = TextField(default="", constraints=[SQL("DEFAULT ''")])


class ReminderClaim(BaseModel):
    """One reminder or follow-up to one person, claimed by the loop that sends it: the unique
    (room, kind, email) makes it once across workers, hosts and restarts. `kind`: reminder-24,
    reminder-1 (hours before), follow-up."""
    room = ForeignKeyField(Room, on_delete="CASCADE", index=False)
    kind = CharField(max_length=20)
    email = CharField(max_length=254)
    claimed_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("room", "kind", "email"), True),)


class Registration(BaseModel):
    """One person's registration for a room (unique by room and email: registering again after
    a cancellation, or after an unconfirmed one expired, takes the same row back with a new
    `version`, which kills its old confirmation and cancel links)."""
    room = ForeignKeyField(Room, backref="registrations", on_delete="CASCADE")
    email = CharField(max_length=254)  # normalised
    name = CharField(max_length=100)
    answers = TextField(default="{}")  # JSON: question id -> answer (text or list)
    status = CharField(max_length=16, default="unconfirmed", constraints=[Check(
        "status IN ('unconfirmed', 'pending', 'registered', 'waitlisted', 'declined', "
        "'cancelled')")])
    version = IntegerField(default=1)
    language = CharField(max_length=8, default="en")  # the page's, for every email after
    invitation = ForeignKeyField(Invitation, null=True, on_delete="SET NULL")
    # the waitlist's order: when they joined it (ties by id)
    waitlisted_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    confirmed_at = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)
    cancelled_at = DateTimeField(null=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("room", "email"), True), (("room", "status", "waitlisted_at"), False))

    @property
    def answer_map(self) -> dict:
        import json
        try:
            value = json.loads(self.answers or "{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class StartAnnounced(BaseModel):
    """Each room's start the push server was told of (portal/push.py): the row is the claim,
    so the start is announced once however many workers and hosts notice the time."""
    room = ForeignKeyField(Room, on_delete="CASCADE")
    starts_at = DateTimeField()

    class Meta:
        indexes = ((("room", "starts_at"), True),)


# The lookups and claims of every guest's entry, prepared once (see portal.prepared).
@prepared
def _claim_link(link_id, room_id, device, door_version):
    # Found through the (device, room) index: a browser has a few rows in a room at most.
    earlier = Participant.alias("earlier")
    returning = fn.EXISTS(earlier.select(SQL("1")).where(
        (earlier.device == device) & (earlier.room == room_id) & (earlier.link == link_id)
        & (earlier.door_version == door_version)))
    return GuestLink.update(uses=GuestLink.uses + Case(None, [(returning, 0)], 1)).where(
        (GuestLink.id == link_id)
        & GuestLink.deleted_at.is_null()
        & (GuestLink.max_uses.is_null() | (GuestLink.uses < GuestLink.max_uses) | returning))


@prepared
def _bind_invitation(invitation_id, device):
    return Invitation.update(bound_device=device).where(
        (Invitation.id == invitation_id) & Invitation.bound_device.is_null())


@prepared
def _current_presence(room_id, device):
    return Participant.select().where(
        (Participant.room == room_id) & (Participant.device == device)
        & (Participant.status != "left")).order_by(Participant.id.desc()).limit(1)


MODELS = [SchemaVersion, User, Room, Attachment, GuestLink, Invitation, Participant,
          DenialEvent, DenialCount, DomainRule, AuditEvent, RateLimitCounter, ApiToken,
          WebhookEndpoint, WebhookEvent, WebhookDelivery, AlertPreference, PushSubscription,
          RoomAlertState, RegistrationSettings, Registration, ReminderClaim, StartAnnounced]


def new_device_id() -> str:
    return secrets.token_urlsafe(24)
