"""The audit log: who did what to which room, link or invitation, and when."""

from flask_login import current_user

from .models import AuditEvent


def record(action: str, room=None, target: str = "", detail: str = "") -> None:
    actor = current_user if getattr(current_user, "is_authenticated", False) else None
    AuditEvent.create(room=room, actor=actor, actor_email=actor.email if actor else "",
                      action=action, target=target[:255], detail=detail)
