"""Helpers for the invitation tests: rooms, inviting through the owner's screen, reading the
personal link back, and guests as separate browsers."""

import re
from datetime import timedelta

from portal.db import database
from portal.models import Invitation, Room
from portal.timeutil import utcnow

HTMX = {"HX-Request": "true"}


def make_room(owner, starts_in=timedelta(minutes=-10), duration=timedelta(hours=2), **fields):
    now = utcnow()
    values = {"title": "Launch", "starts_at": now + starts_in,
              "ends_at": now + starts_in + duration}
    values.update(fields)
    with database.connection_context():
        return Room.create(owner=owner, **values)


def invite(client, room, emails, role="viewer", validity="unlimited", days="", send_now=False,
           htmx=False):
    data = {"emails": emails, "role": role, "validity": validity, "days": days}
    if send_now:
        data["send_now"] = "y"
    return client.post(f"/rooms/{room.id}/invitations", data=data,
                       headers=HTMX if htmx else None)


def invitation(room, email) -> Invitation:
    with database.connection_context():
        return Invitation.get((Invitation.room == room) & (Invitation.email == email))


def url_of(app, inv) -> str:
    from portal.owner.invitations import invitation_url

    with app.app_context():
        return invitation_url(Invitation.get_by_id(inv.id))


def path_of(app, inv) -> str:
    return url_of(app, inv).removeprefix(app.config["BASE_URL"])


def links_on_page(html: str) -> list[str]:
    return re.findall(r'id="invite-link-\d+" value="([^"]+)"', html)
