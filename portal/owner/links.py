"""Guest access and shared guest links (Kaltura's "Manage guest access"): the Enable guest access
toggle, Create new link, the links list with Copy link and Delete, and their demo data.

Every view answers by web.answer's rule: htmx gets the #guest-access section alone, a plain form
a redirect back to the room page. Refusals (bad input, the link limit, a channel room) are shown
in the section: htmx gets it with 422, a plain form the room page with the errors and a 4xx."""

from datetime import timedelta

from flask import (
    abort,
    current_app,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional

from .. import access, audit, decision, timeutil, tokens
from ..auth import owner_required
from ..db import database
from ..forms import WholeNumberField, no_control_characters, strip
from ..models import GuestLink, Room
from ..web import public_url
from . import answer_section, bp, owned_room

MAX_USES = 1_000_000
MAX_DAYS = 3650

CHANNEL_REFUSAL = "Guest access isn't supported for channel rooms."


class GuestAccessForm(FlaskForm):
    enabled = HiddenField(validators=[AnyOf(["on", "off"], message="Choose on or off.")])


class LinkForm(FlaskForm):
    """Create new link: name, number of clicks (optional), duration in days (optional)."""

    name = StringField("Name", filters=[strip],
                       validators=[DataRequired("Enter a name for the link."),
                                   Length(max=100, message="Use at most 100 characters."),
                                   no_control_characters()])
    max_uses = WholeNumberField(
        "Number of clicks (optional)",
        validators=[Optional(), NumberRange(
            min=1, max=MAX_USES, message=f"Enter a whole number from 1 to {MAX_USES:,}.")],
        render_kw={"min": 1, "step": 1, "inputmode": "numeric"})
    duration_days = WholeNumberField(
        "Duration in days (optional)",
        validators=[Optional(), NumberRange(min=1, max=MAX_DAYS,
                                            message=f"Enter a whole number of days from 1 to "
                                                    f"{MAX_DAYS:,}.")],
        render_kw={"min": 1, "step": 1, "inputmode": "numeric"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="link", **kwargs)


# --- what the section shows ---------------------------------------------------------------------

def guest_link_url(link: GuestLink) -> str:
    """The link a guest opens: a signed token, so it can be copied again at any time and dies
    when the link is deleted."""
    token = tokens.make_token(current_app.config["SECRET_KEYS"], tokens.LINK, link.id,
                              link.version)
    return public_url("guest.link_lobby", token=token)


# What the owner reads for a link, from the same decision guests get (so they never disagree).
STATES = {
    None: ("active", "Active"),
    "guest_access_off": ("inactive", "Inactive: guest access is off"),
    "link_expired": ("expired", "Expired"),
    "link_used_up": ("used_up", "Used up"),
    "session_ended": ("ended", "Inactive: the session has ended"),
    "channel_room": ("inactive", "Inactive: channel room"),
    "room_unavailable": ("inactive", "Inactive: room deleted"),
    "link_deleted": ("deleted", "Deleted"),
}


def link_state(link: GuestLink, room: Room, now) -> tuple[str, str]:
    result = decision.decide(now, decision.Visitor(), access.room_facts(room),
                             link=access.link_facts(link))
    return STATES.get(result.reason, ("inactive", "Inactive"))


def expires_soon(link: GuestLink, now) -> bool:
    """Worth a "Runs out soon" warning: under an hour left, or under a quarter of the link's
    lifetime and at most a day (a 1-day link is flagged in its last 6 hours, a 30-day link in
    its last day) — never a link created a moment ago."""
    if link.expires_at is None:
        return False
    left = link.expires_at - now
    lifetime = link.expires_at - link.created_at
    return left <= timedelta(hours=1) or left <= min(lifetime / 4, timedelta(days=1))


def max_links() -> int:
    return current_app.config["MAX_LINKS_PER_ROOM"]


def links_context(room: Room, **overrides) -> dict:
    now = timeutil.utcnow()
    links = list(room.live_links())
    rows = [{"link": link, "url": guest_link_url(link), "state": link_state(link, room, now),
             "expires_soon": expires_soon(link, now)} for link in links]
    context = {"guest_links": rows, "link_form": LinkForm(formdata=None),
               "links_full": len(links) >= max_links(), "max_links": max_links(),
               "guest_access_notice": None, "guest_access_error": None}
    context.update(overrides)
    return context



def _answer(room: Room, notice: str | None = None, error: str | None = None, status: int = 200,
            **overrides):
    return answer_section(room, "owner/_guest_access.html", links_context, "guest-access",
                          status=status, flashes=[("success", notice)] if notice else [],
                          guest_access_notice=notice, guest_access_error=error, **overrides)


# --- views ---------------------------------------------------------------------------------------

@bp.post("/<int:room_id>/guest-access")
@owner_required
def guest_access(room_id: int):
    room = owned_room(room_id)
    if room.kind == "channel":
        return _answer(room, error=CHANNEL_REFUSAL, status=403)
    form = GuestAccessForm()
    if not form.validate_on_submit():
        return _answer(room, error="Choose whether guest access is on or off.", status=422)
    enable = form.enabled.data == "on"
    with database.atomic():
        # Conditional, so a room turned into a channel room meanwhile is never switched on.
        query = Room.update(guest_access_enabled=enable, updated_at=timeutil.utcnow()).where(
            (Room.id == room.id) & Room.deleted_at.is_null())
        if enable:
            query = query.where(Room.kind != "channel")
        changed = query.execute() == 1
        if changed:
            audit.record("guest_access_on" if enable else "guest_access_off", room, room.title)
    if not changed:  # deleted (404) or made a channel room meanwhile
        return _answer(owned_room(room_id), error=CHANNEL_REFUSAL, status=403)
    room.guest_access_enabled = enable
    if enable:
        notice = "Guest access is on: guests can enter with the room's guest links."
    else:
        notice = ("Guest access is off: every guest link refuses new guests. Guests already "
                  "inside stay until they refresh or leave.")
    return _answer(room, notice=notice)


@bp.post("/<int:room_id>/links")
@owner_required
def create_link(room_id: int):
    room = owned_room(room_id)
    if room.kind == "channel":
        return _answer(room, error=CHANNEL_REFUSAL, status=403)
    form = LinkForm()
    if not form.validate_on_submit():
        return _answer(room, error="The link wasn't created: correct the highlighted fields.",
                       status=422, link_form=form)
    limit = max_links()
    with database.atomic():
        room.lock()  # two owners creating links at once can't both see two and make a fourth
        if room.live_links().count() >= limit:
            link = None
        else:
            now = timeutil.utcnow()
            days = form.duration_days.data
            link = GuestLink.create(
                room=room, name=form.name.data, max_uses=form.max_uses.data,
                expires_at=now + timedelta(days=days) if days else None,
                created_by=current_user.id, created_at=now)
            audit.record("link_created", room, link.name)
    if link is None:
        return _answer(room, error=f"A room can have at most {limit} guest links. Delete one "
                                   "to create another.", status=422, link_form=form)
    return _answer(room, notice=f"Link “{link.name}” created. Use Copy link to share it.")


@bp.post("/<int:room_id>/links/<int:link_id>/delete")
@owner_required
def delete_link(room_id: int, link_id: int):
    room = owned_room(room_id)
    link = GuestLink.get_or_none((GuestLink.id == link_id) & (GuestLink.room == room)
                                 & GuestLink.deleted_at.is_null())
    if link is None:
        abort(404)
    with database.atomic():
        deleted = GuestLink.update(deleted_at=timeutil.utcnow()).where(
            (GuestLink.id == link.id) & GuestLink.deleted_at.is_null()).execute() == 1
        if deleted:
            audit.record("link_deleted", room, link.name)
    return _answer(room, notice=f"Link “{link.name}” deleted. It no longer lets anyone in.")


# --- demo data ------------------------------------------------------------------------------------

def seed_guest_links(owner, rooms) -> dict:
    """seed-demo: guest access on and one link for each demo room except the channel room."""
    details = {}
    for room in rooms:
        if room.kind == "channel":
            details[room.id] = {"guest_links": []}
            continue
        Room.update(guest_access_enabled=True).where(Room.id == room.id).execute()
        room.guest_access_enabled = True
        link = GuestLink.create(room=room, name="Guests", max_uses=100,
                                expires_at=timeutil.utcnow() + timedelta(days=30),
                                created_by=owner)
        details[room.id] = {"guest_links": [{
            "name": link.name, "url": guest_link_url(link), "max_uses": link.max_uses,
            "expires_at": timeutil.iso_utc(link.expires_at)}]}
    return details

