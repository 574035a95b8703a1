"""Recording why guests were turned away, in bounded storage: an exact counter per room, reason
and day, plus only the most recent events of each room. Denials that can't be tied to a room
(garbled tokens) are only counted, under room_key 0."""

from flask import current_app

from .db import database
from .models import DenialCount, DenialEvent
from .timeutil import utcnow

NO_ROOM = 0


def record(reason: str, room=None, link=None, invitation=None, email: str = "") -> None:
    now = utcnow()
    room_id = room.id if room is not None else None
    keep = current_app.config["DENIAL_EVENTS_PER_ROOM"]
    with database.atomic():
        (DenialCount.insert(room_key=room_id or NO_ROOM, reason=reason, day=now.date(), count=1)
         .on_conflict(conflict_target=[DenialCount.room_key, DenialCount.reason, DenialCount.day],
                      update={DenialCount.count: DenialCount.count + 1})
         .execute())
        if room_id is None:
            return
        DenialEvent.create(room=room_id, reason=reason, link=link, invitation=invitation,
                                   email=(email or "")[:254], created_at=now)
        # Keep the newest `keep` events of the room: everything older than the keep-th newest.
        prune(room_id, keep)


def prune(room_id: int, keep: int) -> int:
    cutoff = (DenialEvent.select(DenialEvent.id).where(DenialEvent.room == room_id)
              .order_by(DenialEvent.id.desc()).offset(keep).limit(1).scalar())
    if cutoff is None:
        return 0
    return DenialEvent.delete().where((DenialEvent.room == room_id)
                                      & (DenialEvent.id <= cutoff)).execute()
