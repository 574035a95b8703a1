"""The room page in views — the host's cockpit. Each view has its own URL and shows only its
own sections, so only they are queried and only they poll:

- **Live** (/rooms/<id>/live): Join as host, the waiting room, In the room (and Turned away),
  the message to waiting guests, the alert switches — what a host watches during the session;
- **Access** (/rooms/<id>/access): guest access, guest links, invitations;
- **Insights** (/rooms/<id>/insights): why guests couldn't join, the most recent refusals;
- **Details** (/rooms/<id>/details): the room's settings, Edit, attachments, Delete.

/rooms/<id> redirects to the view to open (`opening_view`, the one rule): a bookmark of the
room keeps meaning "what matters now", and each view keeps one address, so the nav's
aria-current, the browser's history and a reload all agree on what is shown.

Above the views, a nav counts who waits and who was refused in the last 24 hours: it asks
/rooms/<id>/views every few seconds (two counts; 204 while unchanged), so "Live · 3 waiting"
shows on every view without rendering the Live view."""

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app, make_response, redirect, render_template, request, url_for

from .. import denials, host_alerts, meetings, timeutil
from ..auth import owner_required
from ..forms import HostMessageForm
from ..models import Room
from ..services import hosting
from ..web import is_htmx, polled_section
from . import bp, owned_room

VIEWS = {"live": "Live", "access": "Access", "insights": "Insights", "details": "Details"}
# Which view each section lives in: where a plain form posted from it lands again.
SECTION_VIEW = {"join": "live", "waiting-room": "live", "in-the-room": "live",
                "host-message": "live", "waiting-alerts": "live",
                "guest-access": "access", "invitations": "access",
                "denials": "insights",
                "details": "details", "attachments": "details"}
# "Starts within the hour" opens on Live: the host admits early guests before the start.
LIVE_AHEAD = timedelta(hours=1)


def opening_view(room: Room, now: datetime) -> str:
    """The view /rooms/<id> opens: Live while the session runs or starts within the hour,
    Access otherwise (before: share the links; after: who came and who didn't is Insights',
    one click away)."""
    return "live" if room.starts_at - LIVE_AHEAD <= now < room.ends_at else "access"


def view_url(room: Room | int, view: str, anchor: str | None = None) -> str:
    room_id = room if isinstance(room, int) else room.id
    return url_for("owner.room_view", room_id=room_id, view=view, _anchor=anchor)


def section_url(room: Room | int, section: str) -> str:
    """The view a section lives in, at the section: where its plain forms land again."""
    return view_url(room, SECTION_VIEW[section], section)


# --- what each view shows -------------------------------------------------------------------------

def live_context(room: Room) -> dict:
    """Join as host and the host's message; the waiting room and In the room add their own."""
    return {"can_join": meetings.can_join(current_app.config, room.platform, room.join_url),
            "message_form": HostMessageForm(message=room.host_message)}


def registration_summary(room: Room) -> dict:
    """The Access view's line on registration (its own screen manages it): one lookup."""
    from ..services import registration

    return {"registration": registration.settings_of(room)}


def _sections() -> dict[str, tuple[Callable[[Room], dict], ...]]:
    """Each view's sections, by their context functions. Imported here: those modules import
    this one, for the view their forms land on."""
    from . import denials as denial_panel
    from . import inside, invitations, links, rooms, waiting
    return {"live": (live_context, waiting.owner_waiting_context, inside.owner_inside_context),
            "access": (links.links_context, invitations.invitations_section,
                       registration_summary),
            "insights": (denial_panel.denials_context,),
            "details": (rooms.details_context,)}


def view_context(room: Room, view: str, **overrides) -> dict:
    """Everything `view` shows — and nothing of the other views — with the nav's counts."""
    context = {"room": room, "now": timeutil.utcnow(), **nav_context(room, view)}
    for section in _sections()[view]:
        context.update(section(room))
    context.update(overrides)
    return context


def render_view(room: Room, view: str, status: int = 200, **overrides):
    """The view as a page, or (htmx, the nav's links) the view alone with the nav. A boosted
    form (Remove an attachment) lands here after its redirect and wants the whole page."""
    context = view_context(room, view, **overrides)
    alone = is_htmx() and not request.htmx.boosted
    page = "owner/_room_view.html" if alone else "owner/room.html"
    response = make_response(render_template(page, **context), status)
    response.vary.add("HX-Request")  # one URL, two answers
    return response


# --- the nav and its counts -----------------------------------------------------------------------

def nav_context(room: Room, view: str, seen: str | None = None) -> dict:
    """The views' nav: which is shown, and the counts beside Live and Insights. The nav's poll
    passes `seen`, the counts it showed: what changed since is said out loud, once — except
    the waiting count on Live, where the waiting room says it itself."""
    waiting = hosting.waiting_count(room) if room.kind != "channel" else 0
    refused = denials.room_denied_since(room.id, denials.window_start(24))
    counts = {"live": f"{waiting} waiting" if waiting else "",
              "insights": f"{refused} refused (24 h)" if refused else ""}
    fingerprint = f"{waiting}-{refused}"  # the counts themselves: the nav shows them anyway
    said = []
    if seen is not None and seen != fingerprint:
        before = seen.split("-") + ["", ""]
        if before[0] != str(waiting) and view != "live":
            said.append(f"Live: {waiting} waiting." if waiting else "Live: nobody waiting.")
        if before[1] != str(refused):
            said.append(f"Insights: {refused} refused in the last 24 hours.")
    # The page title, as the waiting room's own answer writes it: "(2 waiting) Room".
    title = f"({waiting} waiting) {room.title}" if waiting else room.title
    return {"view": view, "views": VIEWS, "nav_counts": counts, "nav_waiting": waiting,
            "nav_announce": " ".join(said), "nav_fingerprint": fingerprint,
            "page_title": f"{title} — Guestgate"}


# --- views ----------------------------------------------------------------------------------------

@bp.get("/<int:room_id>")
@owner_required
def room(room_id: int):
    room = owned_room(room_id)
    return redirect(view_url(room, opening_view(room, timeutil.utcnow())), 302)


@bp.get("/<int:room_id>/<any(live, access, insights, details):view>")
@owner_required
def room_view(room_id: int, view: str):
    room = owned_room(room_id)
    _watching(room)
    return render_view(room, view)


def _watching(room: Room) -> None:
    """A host has the room's page open, whichever view: its nav counts who waits
    (portal/host_alerts.py: nobody is alerted while a host watches)."""
    if room.require_approval:
        host_alerts.host_seen(room.id)


@bp.get("/<int:room_id>/views")
@owner_required
def room_nav(room_id: int):
    """The nav's poll: the nav again when a count changed (204 while not); a plain load goes
    to the view named."""
    room = owned_room(room_id)
    _watching(room)
    view = request.args.get("view") if request.args.get("view") in VIEWS else "live"
    return polled_section("owner/_room_nav.html",
                          {"room": room, **nav_context(room, view, request.args.get("seen", ""))},
                          "nav_fingerprint", lambda: redirect(view_url(room, view), 303))
