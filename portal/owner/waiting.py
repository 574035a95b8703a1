"""The waiting room of a room whose guests wait to be admitted: the list of waiting guests
(polled by htmx every few seconds), Admit, Deny and Admit all (portal/services/hosting.py).

The polled fragment carries the number waiting in `data-waiting-count`; static/app.js puts it in
the page title ("(2 waiting) Room"), so owners notice a new guest without watching the list."""

from flask import abort, request, url_for

from .. import host, host_alerts
from ..auth import owner_required
from ..forms import DenyForm
from ..host import waiting_context
from ..models import Room
from ..services import hosting
from . import bp, me, owned_room
from .cockpit import answer_section, poll_section, section_url, shown_on

OWNER_ENDPOINTS = {"poll": "owner.waiting", "admit": "owner.admit", "deny": "owner.deny",
                   "admit_all": "owner.admit_all"}


@shown_on("live")
def owner_waiting_context(room: Room, **overrides) -> dict:
    """The room page's waiting-room section, as its owner sees it."""
    return waiting_context(room, OWNER_ENDPOINTS, by_owner=True, **overrides)


def _answer(room: Room, notice: str):
    return answer_section(room, "host/_waiting.html", owner_waiting_context, "waiting-room",
                          flashes=[("success", notice)], waiting_notice=notice)



def _guest_of(room: Room, participant_id: int):
    participant = hosting.participant_of(room, participant_id)
    if participant is None:
        abort(404)
    return participant


@bp.get("/<int:room_id>/waiting")
@owner_required
def waiting(room_id: int):
    # A host is watching (portal/host_alerts.py): the poll of a room the owner may see.
    return poll_section(room_id, "host/_waiting.html", owner_waiting_context,
                        "waiting_fingerprint", "waiting-room",
                        seen=lambda room: host_alerts.host_seen(room.id))


@bp.post("/<int:room_id>/waiting/<int:participant_id>/admit")
@owner_required
def admit(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    if hosting.admit(room, [guest.id], me()):
        return _answer(room, f"{guest.name} was admitted.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.route("/<int:room_id>/waiting/<int:participant_id>/deny", methods=["GET", "POST"])
@owner_required
def deny(room_id: int, participant_id: int):
    """POST: Deny, with the host's message to the guest if the form has one (the row's button
    sends none). GET: the page to write one."""
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    form = DenyForm()
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "GET" and guest.status != "waiting":
            return _answer(room, f"{guest.name} is no longer waiting.")
        return host.deny_page(room, guest, form, True,
                              url_for("owner.deny", room_id=room.id, participant_id=guest.id),
                              section_url(room, "waiting-room"),
                              status=200 if request.method == "GET" else 422)
    if hosting.deny(room, [guest.id], me(), form.message.data):
        return _answer(room, f"{guest.name} was denied entry.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.post("/<int:room_id>/waiting/admit-all")
@owner_required
def admit_all(room_id: int):
    room = owned_room(room_id)
    done = hosting.admit(room, None, me())
    if not done:
        return _answer(room, "Nobody is waiting.")
    return _answer(room, f"Admitted {len(done)} {'guest' if len(done) == 1 else 'guests'}.")
