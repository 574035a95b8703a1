"""The audit log: who did what to which room, link or invitation, and when."""

from flask_login import current_user

from .models import AuditEvent


def record(action: str, room=None, target: str = "", detail: str = "", actor=None,
           actor_email: str = "") -> None:
    """By default the signed-in user acted; an invited moderator in the room passes their
    invited account (or just their email) instead."""
    if actor is None and not actor_email and getattr(current_user, "is_authenticated", False):
        actor = current_user
    AuditEvent.create(room=room, actor=actor, actor_email=actor.email if actor else actor_email,
                      action=action, target=target[:255], detail=detail)
