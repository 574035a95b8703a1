"""My sessions: the rooms a signed-in person is invited to, with Join."""

from flask import render_template
from flask_login import current_user, login_required

from ..models import Invitation, Room
from ..services.urls import invitation_token
from ..timeutil import utcnow
from . import bp


@bp.get("/my-sessions")
@login_required
def my_sessions():
    """The rooms a signed-in person is invited to, with Join."""
    now = utcnow()
    invitations = list(
        Invitation.select(Invitation, Room).join(Room)
        .where((Invitation.user == current_user.id) & Invitation.removed_at.is_null()
               & Room.deleted_at.is_null() & (Room.ends_at > now))
        .order_by(Room.starts_at))
    sessions = [(inv, invitation_token(inv)) for inv in invitations]
    return render_template("guest/my_sessions.html", sessions=sessions, now=now)
