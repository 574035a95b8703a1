"""What the API reads and answers, as marshmallow schemas: flask-smorest parses requests with
them and writes the OpenAPI document from them. Limits and choices come from the services
(portal/services/*), which check every rule again: a schema only reads types and shapes."""

import marshmallow as ma
from marshmallow import validate

from .. import timeutil
from ..audit import ACTION_WORDS
from ..models import ROLES, ROOM_KINDS
from ..services import api_tokens
from ..services import hosting as hosting_rules
from ..services import invitations as invitation_rules
from ..services import links as link_rules
from ..services import registration as registration_rules
from ..services import rooms as room_rules
from ..services import webhooks as webhook_rules
from ..text import control_characters_problem


class UtcDateTime(ma.fields.DateTime):
    """Read: ISO 8601 (an offset, or none: see the field). Written: UTC with a Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return timeutil.iso_utc(value)


def plain_text(multiline: bool = False):
    """No control or text-direction characters (portal/text.py), as the forms refuse them."""
    def check(value):
        why = control_characters_problem(value, multiline)
        if why:
            raise ma.ValidationError(why)
    return check


def Count(**kwargs):  # noqa: N802 - a field factory
    """A whole number (never "10" or 1.5)."""
    return ma.fields.Integer(strict=True, **kwargs)


class Schema(ma.Schema):
    class Meta:
        unknown = ma.RAISE  # a misspelt field is an error naming it, not silently ignored


# --- paging ---------------------------------------------------------------------------------------

class PageArgs(Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 100),
                  metadata={"description": "At most this many items (1 to 100)."})
    cursor = ma.fields.String(load_default=None, validate=validate.Length(max=200),
                              metadata={"description": "`next_cursor` of the previous page."})


def page_of(item_schema, name: str):
    return type(name, (Schema,), {
        "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
        "next_cursor": ma.fields.String(required=True, allow_none=True, metadata={
            "description": "Pass as `cursor` for the next page; null on the last page."}),
    })


# --- rooms ----------------------------------------------------------------------------------------

def _length(name: str) -> dict:
    return {"maxLength": room_rules.MAX_LENGTH[name]}


class OwnerSchema(Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)


class RoomSchema(Schema):
    id = ma.fields.Integer(required=True)
    title = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    speakers = ma.fields.List(ma.fields.String(), required=True)
    starts_at = UtcDateTime(required=True)
    ends_at = UtcDateTime(required=True)
    timezone = ma.fields.String(required=True)
    kind = ma.fields.String(required=True, validate=validate.OneOf(ROOM_KINDS))
    platform = ma.fields.String(required=True)
    meeting_name = ma.fields.String(required=True, metadata={
        "description": "The meeting's name on its platform: Guestgate gives it."})
    join_url = ma.fields.String(required=True, allow_none=True)
    guest_access_enabled = ma.fields.Boolean(required=True)
    require_approval = ma.fields.Boolean(required=True)
    require_email_match = ma.fields.Boolean(required=True)
    consent_required = ma.fields.Boolean(required=True)
    consent_text = ma.fields.String(required=True)
    consent_version = ma.fields.Integer(required=True)
    alert_hosts = ma.fields.String(required=True, metadata={
        "enum": ["hosts", "owner", "nobody"],
        "description": "Who is alerted when guests wait unseen: the owner and the invited "
                       "moderators who opted in, the owner only, or nobody."})
    owner = ma.fields.Nested(OwnerSchema, required=True)
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The owner's room page."})


RoomPage = page_of(RoomSchema, "RoomPage")


class RoomListArgs(PageArgs):
    starts_after = ma.fields.AwareDateTime(load_default=None, metadata={
        "description": "Only rooms starting at or after this instant (ISO 8601 with offset)."})
    starts_before = ma.fields.AwareDateTime(load_default=None, metadata={
        "description": "Only rooms starting before this instant (ISO 8601 with offset)."})


_TIME = ("ISO 8601. With an offset (Z, +01:00) it is that instant; without one, a wall-clock "
         "time in `timezone`, as the room form reads it.")


class RoomWrite(Schema):
    """The room form's fields. Every rule is checked by portal/services/rooms.py."""
    title = ma.fields.String(metadata=_length("title"))
    description = ma.fields.String(metadata=_length("description"))
    speakers = ma.fields.List(ma.fields.String(validate=validate.Length(max=200)),
                              validate=validate.Length(max=100),
                              metadata={"description": "One name each."})
    starts_at = ma.fields.DateTime(metadata={"description": _TIME})
    ends_at = ma.fields.DateTime(metadata={"description": _TIME})
    timezone = ma.fields.String(validate=validate.Length(max=64), metadata={
        "description": "An IANA time zone such as Europe/Berlin (default UTC): calendar "
                       "invitations are written in it."})
    kind = ma.fields.String(metadata={"enum": list(ROOM_KINDS)})
    platform = ma.fields.String(metadata={
        "description": "A configured meeting platform (livekit, jitsi, bigbluebutton, "
                       "galene), or other (the join URL with Guestgate's ticket)."})
    join_url = ma.fields.String(allow_none=True, metadata=_length("join_url"))
    require_approval = ma.fields.Boolean()
    require_email_match = ma.fields.Boolean()
    consent_required = ma.fields.Boolean()
    consent_text = ma.fields.String(metadata=_length("consent_text"))
    alert_hosts = ma.fields.String(metadata={
        "enum": ["hosts", "owner", "nobody"],
        "description": "Who is alerted when guests wait unseen (default hosts: the owner and "
                       "the invited moderators who opted in)."})


class RoomCreate(RoomWrite):
    title = ma.fields.String(required=True, metadata=_length("title"))
    starts_at = ma.fields.DateTime(required=True, metadata={"description": _TIME})
    ends_at = ma.fields.DateTime(required=True, metadata={"description": _TIME})


class GuestAccessSchema(Schema):
    enabled = ma.fields.Boolean(required=True)


# --- guest links ----------------------------------------------------------------------------------

class LinkSchema(Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The link to share."})
    max_uses = ma.fields.Integer(required=True, allow_none=True)
    uses = ma.fields.Integer(required=True)
    uses_left = ma.fields.Integer(required=True, allow_none=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)
    state = ma.fields.String(required=True, metadata={
        "enum": sorted({code for code, _words in link_rules.STATES.values()})})
    state_words = ma.fields.String(required=True)


class LinkList(Schema):
    items = ma.fields.List(ma.fields.Nested(LinkSchema), required=True)


class LinkCreate(Schema):
    name = ma.fields.String(required=True, validate=[validate.Length(1, 100), plain_text()])
    max_uses = Count(load_default=None, allow_none=True,
                     validate=validate.Range(1, link_rules.MAX_USES),
                     metadata={"description": "Clicks allowed; null: no limit."})
    days = Count(load_default=None, allow_none=True,
                 validate=validate.Range(1, link_rules.MAX_DAYS),
                 metadata={"description": "Valid this many days; null: until the session ends."})


class LinkUpdate(Schema):
    extend_days = Count(validate=validate.Range(1, link_rules.MAX_DAYS), metadata={
        "description": "This many days more, from now or from its expiry if later (never past "
                       "the session's end)."})
    add_clicks = Count(validate=validate.Range(1, link_rules.MAX_USES), metadata={
        "description": "This many clicks more than it allows now."})


# --- invitations ----------------------------------------------------------------------------------

class InvitationSchema(Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    valid_once = ma.fields.Boolean(required=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    email_status = ma.fields.String(required=True,
                                    validate=validate.OneOf(("not_sent", "sent", "failed")))
    emailed_at = UtcDateTime(required=True, allow_none=True)
    email_error = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)
    url = ma.fields.String(required=True, metadata={"description": "The guest's personal link."})


class InvitationList(Schema):
    items = ma.fields.List(ma.fields.Nested(InvitationSchema), required=True)


class InvitationCreate(Schema):
    emails = ma.fields.List(ma.fields.String(validate=validate.Length(max=320)), required=True,
                            validate=validate.Length(1, invitation_rules.MAX_ADDRESSES_AT_ONCE),
                            metadata={"description": "One address each (\"Name <a@b>\" too)."})
    role = ma.fields.String(load_default="viewer", validate=validate.OneOf(ROLES))
    valid_once = ma.fields.Boolean(load_default=False, metadata={
        "description": "The link works in the first browser that enters with it only."})
    days = Count(load_default=None, allow_none=True,
                 validate=validate.Range(1, invitation_rules.MAX_DAYS),
                 metadata={"description": "Valid this many days; null: no limit."})
    send_now = ma.fields.Boolean(load_default=False, metadata={
        "description": "Email each added guest their link now."})


class Refused(Schema):
    email = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)


class SendResult(Schema):
    invitation_id = ma.fields.Integer(required=True)
    sent = ma.fields.Boolean(required=True)
    error = ma.fields.String(required=True, allow_none=True)


class InviteResult(Schema):
    added = ma.fields.List(ma.fields.Nested(InvitationSchema), required=True)
    refused = ma.fields.List(ma.fields.Nested(Refused), required=True)
    emailed = ma.fields.List(ma.fields.Nested(SendResult), required=True)


class RoleSchema(Schema):
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))


# --- denials and the audit log --------------------------------------------------------------------

class ReasonCount(Schema):
    reason = ma.fields.String(required=True)
    words = ma.fields.String(required=True, metadata={"description": "What the host reads."})
    day = ma.fields.Integer(required=True, metadata={"description": "Last 24 hours."})
    week = ma.fields.Integer(required=True, metadata={"description": "Last 7 days."})
    all = ma.fields.Integer(required=True)


class DenialEventSchema(Schema):
    id = ma.fields.Integer(required=True)
    reason = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    link_id = ma.fields.Integer(required=True, allow_none=True)
    invitation_id = ma.fields.Integer(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)


class DenialsSchema(Schema):
    counts = ma.fields.List(ma.fields.Nested(ReasonCount), required=True)
    recent = ma.fields.List(ma.fields.Nested(DenialEventSchema), required=True)


class DenialArgs(Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 300))


class AuditArgs(PageArgs):
    room_id = ma.fields.Integer(load_default=None, validate=validate.Range(1, 2**63 - 1),
                                metadata={"description": "Only this room's events."})
    action = ma.fields.String(load_default=None, validate=validate.OneOf(sorted(ACTION_WORDS)),
                              metadata={"description": "Only events of this action."})


class AuditEventSchema(Schema):
    id = ma.fields.Integer(required=True)
    room_id = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "The room; null for the organisation's settings (accounts, domain "
                       "rules, single sign-on, API tokens)."})
    action = ma.fields.String(required=True)
    action_words = ma.fields.String(required=True)
    who = ma.fields.String(required=True)
    target = ma.fields.String(required=True)
    detail = ma.fields.String(required=True)
    created_at = UtcDateTime(required=True)


AuditPage = page_of(AuditEventSchema, "AuditPage")


# --- people ---------------------------------------------------------------------------------------

class PersonSchema(Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    role = ma.fields.String(required=True, allow_none=True)
    status = ma.fields.String(required=True)
    link_id = ma.fields.Integer(required=True, allow_none=True)
    invitation_id = ma.fields.Integer(required=True, allow_none=True)
    since = UtcDateTime(required=True, allow_none=True)


class PeopleList(Schema):
    items = ma.fields.List(ma.fields.Nested(PersonSchema), required=True)
    total = ma.fields.Integer(required=True)


class DecidedSchema(Schema):
    done = ma.fields.List(ma.fields.Integer(), required=True, metadata={
        "description": "The people this changed (another host may have been quicker)."})


class PeopleIds(Schema):
    ids = ma.fields.List(Count(validate=validate.Range(1, 2**63 - 1)), required=True,
                         validate=validate.Length(1, 1000))


class DenyBody(PeopleIds):
    message = ma.fields.String(
        load_default=None, allow_none=True,
        validate=[validate.Length(max=hosting_rules.NOTE_MAX), plain_text()],
        metadata={"description": "Your words to them, shown on their page below “The host "
                                 "didn't admit you” (one line; also in the guest.denied "
                                 "webhook as `message`)."})


# --- registration ---------------------------------------------------------------------------------

_REG_TIME = ("ISO 8601. With an offset (Z, +01:00) it is that instant; without one, a wall-clock "
             "time in the room's `timezone`, as the room's screen reads it.")


class QuestionSchema(Schema):
    id = ma.fields.String(required=True, metadata={"description": "The key of its answers."})
    label = ma.fields.String(required=True)
    kind = ma.fields.String(required=True,
                            metadata={"enum": list(registration_rules.QUESTION_KINDS)})
    required = ma.fields.Boolean(required=True)
    choices = ma.fields.List(ma.fields.String(), required=True)


class RegistrationSettingsSchema(Schema):
    enabled = ma.fields.Boolean(required=True)
    mode = ma.fields.String(required=True, metadata={
        "enum": list(registration_rules.MODES),
        "description": "open: everyone who registers and confirms has a place; approval: a "
                       "host approves or declines each."})
    capacity = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "Places (null: no limit); when they are taken, people join the "
                       "waitlist."})
    taken = ma.fields.Integer(required=True)
    places_left = ma.fields.Integer(required=True, allow_none=True)
    opens_at = UtcDateTime(required=True, allow_none=True)
    closes_at = UtcDateTime(required=True, allow_none=True)
    page_url = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "The public registration page to share (null while registration has "
                       "never been turned on)."})
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema), required=True)


class RegistrationSettingsWrite(Schema):
    """The options of the room's Registration section; every rule is checked by
    portal/services/registration.py."""
    enabled = ma.fields.Boolean(required=True)
    mode = ma.fields.String(load_default="open",
                            metadata={"enum": list(registration_rules.MODES)})
    capacity = Count(load_default=None, allow_none=True, metadata={
        "description": f"1 to {registration_rules.MAX_CAPACITY:,} places, or null for no "
                       "limit."})
    opens_at = ma.fields.DateTime(load_default=None, allow_none=True,
                                  metadata={"description": _REG_TIME})
    closes_at = ma.fields.DateTime(load_default=None, allow_none=True,
                                   metadata={"description": _REG_TIME})


class RegistrationSchema(Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    email = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={
        "enum": list(registration_rules.STATUS_WORDS) + ["expired"],
        "description": "expired: never confirmed within REGISTRATION_CONFIRM_HOURS."})
    answers = ma.fields.Dict(keys=ma.fields.String(), required=True, metadata={
        "description": "By question id: text, a list of choices, or true/false."})
    waitlist_position = ma.fields.Integer(required=True, allow_none=True)
    invitation_id = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "Their personal link's invitation, while they have a place."})
    created_at = UtcDateTime(required=True)
    confirmed_at = UtcDateTime(required=True, allow_none=True)


class RegistrationListArgs(PageArgs):
    status = ma.fields.String(load_default=None, validate=validate.OneOf(
        list(registration_rules.STATUS_WORDS)))


RegistrationPage = page_of(RegistrationSchema, "RegistrationPage")


class RegistrationIds(Schema):
    ids = ma.fields.List(Count(validate=validate.Range(1, 2**63 - 1)), required=True,
                         validate=validate.Length(1, 1000))


class RegistrationDecided(Schema):
    done = ma.fields.List(ma.fields.Integer(), required=True, metadata={
        "description": "The registrations this changed; the others were not in a state it "
                       "applies to (approve: pending; decline: pending, registered or "
                       "waitlisted)."})
    moved_up = ma.fields.List(ma.fields.Integer(), required=True, metadata={
        "description": "Registrations that moved up from the waitlist into a freed place "
                       "(each was emailed)."})


# --- webhooks -------------------------------------------------------------------------------------

_EVENT_NAMES = sorted(webhook_rules.EVENTS)


class WebhookSchema(Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.String(metadata={"enum": _EVENT_NAMES}), required=True)
    room_ids = ma.fields.List(ma.fields.Integer(), required=True, metadata={
        "description": "Only these rooms; empty: every room the account may see."})
    enabled = ma.fields.Boolean(required=True)
    status = ma.fields.String(required=True, metadata={
        "enum": ["active", "disabled", "paused", "gone"],
        "description": "paused after repeated failure, gone after a 410: PATCH enabled=true "
                       "to send again."})
    status_detail = ma.fields.String(required=True)
    previous_secret_until = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "Until then the previous secret signs too (after a rotation)."})
    created_at = UtcDateTime(required=True)
    updated_at = UtcDateTime(required=True)


class WebhookCreated(WebhookSchema):
    secret = ma.fields.String(required=True, metadata={
        "description": "The signing secret (whsec_...), shown only in this answer."})


class WebhookList(Schema):
    items = ma.fields.List(ma.fields.Nested(WebhookSchema), required=True)


def _webhook_fields(required: bool) -> dict:
    return {
        "url": ma.fields.String(required=required, validate=validate.Length(1, 500), metadata={
            "description": "http(s) URL of the receiver."}),
        "events": ma.fields.List(ma.fields.String(metadata={"enum": _EVENT_NAMES}),
                                 required=required, validate=validate.Length(max=100)),
        "room_ids": ma.fields.List(Count(validate=validate.Range(1, 2**63 - 1)),
                                   validate=validate.Length(max=500),
                                   **({"load_default": list} if required else {})),
        "description": ma.fields.String(validate=[validate.Length(max=100), plain_text()],
                                        **({"load_default": ""} if required else {})),
    }


WebhookCreate = type("WebhookCreate", (Schema,), _webhook_fields(True))
WebhookUpdate = type("WebhookUpdate", (Schema,), {
    **_webhook_fields(False),
    "enabled": ma.fields.Boolean(metadata={"description": "false: disable; true: enable (also "
                                                          "a paused or gone endpoint)."})})


class SecretSchema(Schema):
    secret = ma.fields.String(required=True, metadata={
        "description": "The new signing secret, shown only in this answer."})
    previous_secret_until = UtcDateTime(required=True, allow_none=True)


class DeliverySchema(Schema):
    id = ma.fields.Integer(required=True)
    event_id = ma.fields.String(required=True, metadata={
        "description": "The webhook-id header: the same for every delivery of one event."})
    type = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={
        "enum": ["pending", "delivered", "failed"]})
    attempts = ma.fields.Integer(required=True)
    last_status = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "The receiver's last HTTP status, if it answered."})
    last_error = ma.fields.String(required=True)
    last_attempt_at = UtcDateTime(required=True, allow_none=True)
    next_attempt_at = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "The next try (pending only)."})
    delivered_at = UtcDateTime(required=True, allow_none=True)
    created_at = UtcDateTime(required=True)


class DeliveryList(Schema):
    items = ma.fields.List(ma.fields.Nested(DeliverySchema), required=True)


class DeliveryArgs(Schema):
    limit = ma.fields.Integer(load_default=50, validate=validate.Range(1, 100),
                              metadata={"description": "The newest this many (1 to 100)."})


# --- errors ---------------------------------------------------------------------------------------

class ProblemSchema(Schema):
    """RFC 9457 problem details."""
    type = ma.fields.String(required=True)
    title = ma.fields.String(required=True)
    status = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True, metadata={
        "description": "Stable: branch on this (token_missing, token_invalid, "
                       "insufficient_scope, account_not_owner, not_found, invalid, "
                       "invalid_json, channel_room, too_many_links, session_ended, "
                       "rate_limited ...)."})
    detail = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
                            metadata={"description": "Invalid input: messages by field name."})


SCOPES = api_tokens.SCOPES
