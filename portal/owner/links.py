"""Guest access and shared guest links (Kaltura's "Manage guest access"): the Enable guest access
toggle, Create new link, the links list with Copy link and Delete (portal/services/links.py does
what they ask).

Every view answers by web.answer's rule: htmx gets the #guest-access section alone, a plain form
a redirect back to the room page. Refusals (bad input, the link limit, a channel room) are shown
in the section: htmx gets it with 422, a plain form the room page with the errors and a 4xx."""

from flask import abort

from .. import timeutil
from ..auth import owner_required
from ..forms import GuestAccessForm, LinkForm
from ..models import GuestLink, Room
from ..services import links
from ..services.urls import guest_link_url
from . import bp, me, owned_room
from .cockpit import answer_section, shown_on

CHANNEL_REFUSAL = "Guest access isn't supported for channel rooms."


# --- what the section shows ---------------------------------------------------------------------

@shown_on("access")
def links_context(room: Room, **overrides) -> dict:
    now = timeutil.utcnow()
    live = list(room.live_links())
    rows = [{"link": link, "url": guest_link_url(link),
             "state": links.link_state(link, room, now),
             "expires_soon": links.expires_soon(link, now)} for link in live]
    limit = links.max_links()
    context = {"guest_links": rows, "link_form": LinkForm(formdata=None),
               "links_full": len(live) >= limit, "max_links": limit,
               "guest_access_notice": None, "guest_access_error": None}
    context.update(overrides)
    return context



def _answer(room: Room, notice: str | None = None, error: str | None = None, status: int = 200,
            **overrides):
    return answer_section(room, "owner/_guest_access.html", links_context, "guest-access",
                          status=status, flashes=[("success", notice)] if notice else [],
                          guest_access_notice=notice, guest_access_error=error, **overrides)


# --- views ---------------------------------------------------------------------------------------

@bp.post("/<int:room_id>/guest-access")
@owner_required
def guest_access(room_id: int):
    room = owned_room(room_id)
    form = GuestAccessForm()
    if room.kind != "channel" and not form.validate_on_submit():
        return _answer(room, error="Choose whether guest access is on or off.", status=422)
    enable = form.enabled.data == "on"
    try:
        links.set_guest_access(room, enable, actor=me())
    except links.RoomGone:
        abort(404)
    except links.ChannelRoom:
        return _answer(room, error=CHANNEL_REFUSAL, status=403)
    if enable:
        notice = "Guest access is on: guests can enter with the room's guest links."
    else:
        notice = ("Guest access is off: every guest link refuses new guests. Guests already "
                  "inside stay until they refresh or leave.")
    return _answer(room, notice=notice)


@bp.post("/<int:room_id>/links")
@owner_required
def create_link(room_id: int):
    room = owned_room(room_id)
    if room.kind == "channel":
        return _answer(room, error=CHANNEL_REFUSAL, status=403)
    form = LinkForm()
    if not form.validate_on_submit():
        return _answer(room, error="The link wasn't created: correct the highlighted fields.",
                       status=422, link_form=form)
    try:
        link = links.create_link(room, form.name.data, form.max_uses.data,
                                 form.duration_days.data,
                                 actor=me())
    except links.ChannelRoom:
        return _answer(room, error=CHANNEL_REFUSAL, status=403)
    except links.TooManyLinks as full:
        return _answer(room, error=f"A room can have at most {full.limit} guest links. Delete "
                                   "one to create another.", status=422, link_form=form)
    return _answer(room, notice=f"Link “{link.name}” created. Use Copy link to share it.")


@bp.post("/<int:room_id>/links/<int:link_id>/delete")
@owner_required
def delete_link(room_id: int, link_id: int):
    room = owned_room(room_id)
    link = GuestLink.get_or_none((GuestLink.id == link_id) & (GuestLink.room == room)
                                 & GuestLink.deleted_at.is_null())
    if link is None:
        abort(404)
    links.delete_link(room, link, actor=me())
    return _answer(room, notice=f"Link “{link.name}” deleted. It no longer lets anyone in.")
