"""The Join moment, for guests (guest.join_live) and hosts (owner.join_as_host): one redirect
to the meeting with a credential made just now, or a page that says the live session can't be
reached — never a 500 because a platform is down."""

import time

from flask import current_app, flash, make_response, redirect, render_template, request
from flask_babel import gettext

from . import meetings
from .models import Room


def to_meeting(room: Room, attendee: meetings.Attendee, back: str, on_minted=None):
    """Redirect to the room's meeting with `attendee`'s credential, or say in words that the
    live session can't be reached (the platform refused, timed out, or is no longer set up)."""
    config = current_app.config
    if room.platform == meetings.OTHER and not room.join_url:
        flash(gettext("This session has no live meeting to join yet."), "info")
        return redirect(back, 303)
    meeting = meetings.Meeting(name=room.meeting, title=room.title, join_url=room.join_url)
    try:
        target = meetings.join_url(config, room.platform, meeting, attendee, time.time())
    except meetings.Unreachable as exc:
        current_app.logger.warning("Join room %s: %s", room.id, exc)
        response = make_response(render_template("guest/unreachable.html", room=room,
                                                 back_url=back, retry_url=request.path), 503)
        response.headers["Retry-After"] = "60"
        return response
    if on_minted is not None:  # the credential exists: say so (guest.joined_live)
        on_minted()
    response = redirect(target, 303)
    response.headers["Cache-Control"] = "no-store"  # the credential is this person's alone
    return response
