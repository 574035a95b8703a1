"""The addresses guests open: a shared guest link and a personal invitation's link. Each is a
signed token of (kind, id, version), so it can be copied again at any time, and dies when the
link is deleted or the invitation reset or removed. BASE_URL and the route's path, never the
request's Host header (web.public_url)."""

from flask import current_app

from .. import tokens
from ..models import GuestLink, Invitation
from ..web import public_url


def _token(kind: str, obj) -> str:
    return tokens.make_token(current_app.config["SECRET_KEYS"], kind, obj.id, obj.version)


def guest_link_url(link: GuestLink) -> str:
    return public_url("guest.link_lobby", token=_token(tokens.LINK, link))


def invitation_token(invitation: Invitation) -> str:
    return _token(tokens.INVITE, invitation)


def invitation_url(invitation: Invitation) -> str:
    return public_url("guest.invite_lobby", token=invitation_token(invitation))
