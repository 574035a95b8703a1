"""Guest access and shared guest links (Kaltura's "Manage guest access"): the room's guest-access
switch, and each link's life — created (at most MAX_LINKS_PER_ROOM live a room), extended, its
click limit raised, deleted. The owner's Guest access section, the denial panel's fixes, the
command line and seed-demo call these; each change writes its audit event in its transaction.

`actor` (an audit.Actor) is who acts; None: the signed-in user, as audit.record reads it."""

from datetime import timedelta

from flask import current_app

from .. import access, audit, decision, outbox, push, timeutil
from ..audit import Actor
from ..db import database
from ..models import GuestLink, Room, User
from .urls import guest_link_url

MAX_USES = 1_000_000
MAX_DAYS = 3650


class ChannelRoom(Exception):
    """Guest access isn't supported for channel rooms."""


class RoomGone(Exception):
    """The room was deleted meanwhile."""


class TooManyLinks(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class SessionEnded(Exception):
    """A link can't be extended past the end of a session that has ended."""


class TooManyClicks(Exception):
    """A link can have at most MAX_USES clicks."""


def max_links() -> int:
    return current_app.config["MAX_LINKS_PER_ROOM"]


# --- guest access -----------------------------------------------------------------------------

def set_guest_access(room: Room, enable: bool, actor: Actor | None = None,
                     detail: str = "") -> bool:
    """Guest access on or off: shared links let new guests in, or refuse them (guests already
    inside stay until they load a page again). True when it changed, False when it already was
    so. Raises ChannelRoom for a channel room (also one made a channel room meanwhile: the
    update is conditional), RoomGone for a deleted one."""
    if room.kind == "channel":
        raise ChannelRoom()
    with database.atomic():
        query = Room.update(guest_access_enabled=enable, updated_at=timeutil.utcnow()).where(
            (Room.id == room.id) & Room.deleted_at.is_null()
            & (Room.guest_access_enabled != enable))
        if enable:
            query = query.where(Room.kind != "channel")
        changed = query.execute() == 1
        if changed:
            audit.record("guest_access_on" if enable else "guest_access_off", room, room.title,
                         detail=detail, actor=actor)
            outbox.emit("room.updated", room, {"changed": ["guest_access_enabled"],
                                                 "guest_access_enabled": enable,
                                                 "by": outbox.actor_data(actor)})
            push.room_news(room.id)
    if not changed:
        now = Room.get_or_none(Room.id == room.id)
        if now is None or now.is_deleted:
            raise RoomGone()
        if now.kind == "channel":
            raise ChannelRoom()
    room.guest_access_enabled = enable
    return changed


# --- links --------------------------------------------------------------------------------------

def create_link(room: Room, name: str, max_uses: int | None = None, days: int | None = None,
                actor: Actor | None = None) -> GuestLink:
    """A new shared link: `max_uses` clicks (None: no limit), valid `days` (None: until the
    session ends). Raises ChannelRoom, or TooManyLinks when the room has its limit of live
    links (counted under the room's lock: two owners at once can't make one too many)."""
    if room.kind == "channel":
        raise ChannelRoom()
    limit = max_links()
    with database.atomic():
        room.lock()
        if room.live_links().count() >= limit:
            raise TooManyLinks(limit)
        now = timeutil.utcnow()
        link = GuestLink.create(
            room=room, name=name, max_uses=max_uses,
            expires_at=now + timedelta(days=days) if days else None,
            created_by=actor.account_id if actor else None, created_at=now)
        audit.record("link_created", room, link.name, actor=actor)
        outbox.emit("link.created", room, {"link": outbox.link_data(link),
                                             "by": outbox.actor_data(actor)})
    return link


def delete_link(room: Room, link: GuestLink, actor: Actor | None = None) -> bool:
    """The link stops letting anyone new in (those inside stay until they load a page again).
    False when it was already deleted."""
    with database.atomic():
        deleted = GuestLink.update(deleted_at=timeutil.utcnow()).where(
            (GuestLink.id == link.id) & GuestLink.deleted_at.is_null()).execute() == 1
        if deleted:
            audit.record("link_deleted", room, link.name, actor=actor)
            push.room_news(room.id)
    return deleted


def extend_link(room: Room, link: GuestLink, days: int, actor: Actor | None = None):
    """`days` more, counted from now or from its expiry if later — never past the session's
    end (a link is no use after it; without a ceiling repeated extends overflowed the date).
    Gives (the new expiry, whether the session's end capped it). Raises SessionEnded."""
    now = timeutil.utcnow()
    if room.ends_at <= now:
        raise SessionEnded()
    # Compared before adding, so a far-out expiry can't overflow.
    start, more = max(now, link.expires_at or now), timedelta(days=days)
    capped = room.ends_at - start <= more
    until = room.ends_at if capped else start + more
    with database.atomic():
        GuestLink.update(expires_at=until).where(GuestLink.id == link.id).execute()
        audit.record("link_extended", room, link.name,
                     detail=f"by {days} days, until {timeutil.iso_utc(until)}"
                            + (" (the session's end)" if capped else ""), actor=actor)
    link.expires_at = until
    return until, capped


def raise_link_limit(room: Room, link: GuestLink, clicks: int,
                     actor: Actor | None = None) -> int | None:
    """`clicks` more than it allows now (or than it has used, if more): the new limit, or None
    for a link without one (nothing to raise). Raises TooManyClicks past MAX_USES."""
    if link.max_uses is None:
        return None
    new_limit = max(link.max_uses, link.uses) + clicks
    if new_limit > MAX_USES:
        raise TooManyClicks()
    with database.atomic():
        GuestLink.update(max_uses=new_limit).where(GuestLink.id == link.id).execute()
        audit.record("link_limit_raised", room, link.name,
                     detail=f"{link.max_uses} → {new_limit} clicks", actor=actor)
    link.max_uses = new_limit
    return new_limit


# --- what an owner reads of a link --------------------------------------------------------------

# From the same decision guests get, so the two never disagree.
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


# --- seed-demo ------------------------------------------------------------------------------------

def seed_guest_links(owner: User, rooms: list[Room]) -> dict:
    """Guest access on and one link for each demo room except the channel room."""
    details = {}
    for room in rooms:
        if room.kind == "channel":
            details[room.id] = {"guest_links": []}
            continue
        set_guest_access(room, True, actor=Actor.of_account(owner))
        link = create_link(room, "Guests", max_uses=100, days=30, actor=Actor.of_account(owner))
        details[room.id] = {"guest_links": [{
            "name": link.name, "url": guest_link_url(link), "max_uses": link.max_uses,
            "expires_at": timeutil.iso_utc(link.expires_at)}]}
    return details
