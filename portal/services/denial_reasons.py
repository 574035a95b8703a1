"""Why guests couldn't join a room, as its hosts read it: counts by reason for the last 24
hours, 7 days and all time (from the daily counters: a few rows whatever the flood), and the
newest events. The room page's denial panel and the API read them here; portal/denials.py
records them."""

from peewee import JOIN, Case, fn

from .. import denials
from ..models import DenialCount, DenialEvent, GuestLink, Invitation, Room

WINDOWS = (("day", "Last 24 hours", 24), ("week", "Last 7 days", 24 * 7), ("all", "All time", None))


def reason_counts(room: Room) -> dict[str, dict[str, int]]:
    """{reason: {"day": n, "week": n, "all": n}} in one grouped query over the daily counters."""
    columns = [fn.SUM(Case(None, [(DenialCount.day >= denials.window_start(hours),
                                    DenialCount.count)], 0)) if hours else fn.SUM(DenialCount.count)
               for _key, _label, hours in WINDOWS]
    query = (DenialCount.select(DenialCount.reason, *columns)
             .where(DenialCount.room_key == room.id).group_by(DenialCount.reason).tuples())
    return {reason: {key: int(n or 0) for (key, _l, _h), n in zip(WINDOWS, sums, strict=True)}
            for reason, *sums in query}


def recent_events(room: Room, limit: int) -> list[DenialEvent]:
    Linked = GuestLink.alias()
    Invited = Invitation.alias()
    return list(DenialEvent.select(DenialEvent, Linked, Invited)
                .join(Linked, JOIN.LEFT_OUTER, on=(DenialEvent.link == Linked.id),
                      attr="link")
                .switch(DenialEvent)
                .join(Invited, JOIN.LEFT_OUTER, on=(DenialEvent.invitation == Invited.id),
                      attr="invitation")
                .where(DenialEvent.room == room.id)
                .order_by(DenialEvent.id.desc()).limit(limit))
