"""The room page in views — the host's cockpit. Each view has its own URL and shows only its
own sections, so only they are queried and only they poll:

- **Live** (/rooms/<id>/live): Join as host, the waiting room, In the room (and Turned away),
  the message to waiting guests, the alert switches — what a host watches during the session;
- **Access** (/rooms/<id>/access): guest access, guest links, invitations (and their CSV
  import), registration;
- **Insights** (/rooms/<id>/insights): why guests couldn't join, the most recent refusals,
  attendance;
- **Details** (/rooms/<id>/details): the room's settings, Edit, attachments, Delete.

/rooms/<id> redirects to the view to open (`opening_view`, the one rule): a bookmark of the
room keeps meaning "what matters now", and each view keeps one address, so the nav's
aria-current, the browser's history and a reload all agree on what is shown.

Above the views, a nav counts who waits and who was refused in the last 24 hours: it asks
/rooms/<id>/views every few seconds (two counts; 204 while unchanged), so "Live · 3 waiting"
shows on every view without rendering the Live view."""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from flask import current_app, make_response, redirect, render_template, request, url_for

from .. import denials, host_alerts, meetings, timeutil
from ..auth import owner_required
from ..forms import HostMessageForm
from ..models import Room
from ..services import hosting
from ..web import answer, is_htmx, polled_section
from . import bp, owned_room

VIEWS = {"live": "Live", "access": "Access", "insights": "Insights", "details": "Details"}
# Which view each section lives in: where a plain form posted from it lands again.
SECTION_VIEW = {"join": "live", "waiting-room": "live", "in-the-room": "live",
                "host-message": "live", "waiting-alerts": "live",
                "guest-access": "access", "invitations": "access",
                "invitation-import": "access", "registration": "access",
                "registrants": "access", "registration-options": "access",
                "registration-questions": "access", "registration-reminders": "access",
                "denials": "insights", "attendance": "insights",
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

# Each view's sections, by their context functions, in the order declared. Each section's
# module declares where it is shown (`shown_on`), as its routes declare their URLs: the modules
# import this one, never the reverse.
_SHOWN: dict[str, list[Callable[[Room], dict]]] = {view: [] for view in VIEWS}


def shown_on(view: str):
    """Decorator: the context function of a section of `view`, called for each render of it."""
    def declare(context: Callable[[Room], dict]) -> Callable[[Room], dict]:
        _SHOWN[view].append(context)
        return context
    return declare


@shown_on("live")
def live_context(room: Room) -> dict:
    """Join as host and the host's message; the waiting room and In the room add their own."""
    return {"can_join": meetings.can_join(current_app.config, room.platform, room.join_url),
            "message_form": HostMessageForm(message=room.host_message)}


def view_context(room: Room, view: str, **overrides) -> dict:
    """Everything `view` shows — and nothing of the other views — with the nav's counts."""
    context = {"room": room, "now": timeutil.utcnow(), **nav_context(room, view)}
    for section in _SHOWN[view]:
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


# --- a section's answers -------------------------------------------------------------------------

def answer_section(room: Room, fragment: str, section: Callable[..., dict], anchor: str, *,
                   status: int = 200, flashes: Iterable[tuple[str, str]] = (), **overrides):
    """A room page section's answer (web.answer's rule): htmx gets `fragment` rendered from
    `section(room, **overrides)`; a refused plain form the view the section lives in, with
    `overrides`; a done plain form the flashes and that view at `#anchor`."""
    view = SECTION_VIEW[anchor]
    return answer(fragment, lambda: {"room": room, **section(room, **overrides)},
                  "owner/room.html", lambda: view_context(room, view, **overrides),
                  back=section_url(room, anchor), status=status, flashes=flashes)


def poll_section(room_id: int, fragment: str, section: Callable[[Room], dict], fingerprint: str,
                 anchor: str, seen: Callable[[Room], None] | None = None):
    """A room page section's poll (web.polled_section); without htmx, the view it lives in.
    `seen`: told of the room once the owner's access is checked."""
    room = owned_room(room_id)
    if seen is not None:
        seen(room)
    return polled_section(fragment, {"room": room, **section(room)}, fingerprint,
                          lambda: redirect(section_url(room, anchor), 303))


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
