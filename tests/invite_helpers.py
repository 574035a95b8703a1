"""Helpers for the invitation tests: rooms, inviting through the owner's screen, reading the
personal link back, and guests as separate browsers."""

import re

from helpers import HTMX, OwnerActions, make_room  # noqa: F401  (one room maker, in helpers)

from portal.db import database
from portal.models import Invitation


def invite(client, room, emails, role="viewer", validity="unlimited", days="", send_now=False,
           htmx=False):
    """OwnerActions.invite for tests holding a bare client."""
    return OwnerActions(client).invite(room, emails, role=role, validity=validity, days=days,
                                       send_now=send_now, htmx=htmx)


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
