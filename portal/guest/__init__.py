"""The guest's path: the lobby of a shared link (/g/TOKEN) or a personal invitation (/i/TOKEN),
then the guest's place in the room (/s/ROOM) — countdown, waiting, the room itself or a denial —
decided again on every full page load. After the first visit the guest continues on /s/ROOM:
the token stays out of the address bar, the cookie carries them.

- lobby.py: the lobby, its form and its limits;
- room.py: the guest's place (countdown, waiting, the room), its poll, Join, Leave, files;
- moderator.py: an invited moderator's host controls on their room page;
- sessions.py: My sessions, the rooms a signed-in person is invited to."""

from flask import Blueprint, render_template, request
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from .. import access, decision
from ..access import Door
from ..decision import REASONS
from ..poll import QUEUE_COUNTED

bp = Blueprint("guest", __name__)

ROLE_NAMES = {"viewer": _l("Viewer"), "moderator": _l("Moderator"), "speaker": _l("Speaker")}
ROLE_FEATURES = {
    "viewer": _l("You can watch the live session, chat, ask in Q&A and answer interactions."),
    "moderator": _l("You can moderate Q&A and use the backchannel."),
    "speaker": _l("You can use Q&A and the backchannel."),
}


@bp.context_processor
def _roles():
    return {"role_names": ROLE_NAMES, "role_features": ROLE_FEATURES, "queue_place": queue_place}


def queue_place(position: int) -> str:
    """The waiting page's "You're 3rd in line", with the ordinal each language writes."""
    if position <= 1:
        return gettext("You're next in line.")
    if position > QUEUE_COUNTED:
        return gettext("At least %(n)s people are ahead of you in line.", n=QUEUE_COUNTED)
    if str(get_locale()).startswith("de"):
        place = f"{position}."
    else:
        suffix = "th" if 10 <= position % 100 <= 20 else \
            {1: "st", 2: "nd", 3: "rd"}.get(position % 10, "th")
        place = f"{position}{suffix}"
    return gettext("You're %(place)s in line.", place=place)


def denied_page(result: decision.Decision, door: Door | None, email: str = "",
                host_note: str | None = None):
    """`host_note`: a host's message to the guest they denied (services.hosting.deny)."""
    # A lobby submission refused is announced (guest.denied); a GET of a dead link is not.
    access.record_denial(result, door, email, announce=request.method == "POST")
    reason = REASONS[result.reason]
    where = door.room if door is not None else None
    # Only the room's title, and only when the room still exists and guests could know it.
    title = where.title if where is not None and result.reason not in (
        "link_invalid", "room_unavailable") else None
    # Declined in the waiting room: a way out (Leave), as on the pages before it.
    leave_room = where if where is not None and result.reason == "not_admitted" else None
    return render_template("guest/denied.html", reason=reason, room_title=title,
                           leave_room=leave_room,
                           host_note=host_note if result.reason == "not_admitted" else None), \
        reason.status


def presence_or_none(room_id: int):
    participant, door = access.current_presence(room_id)
    if participant is None:
        return None, None, None
    return participant, door, access.decide_presence(participant, door)


# The views register on bp.
from . import lobby, moderator, registration, room, sessions  # noqa: E402,F401
