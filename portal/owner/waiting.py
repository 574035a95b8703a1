"""The waiting room of a room whose guests wait to be admitted: the list of waiting guests
(polled by htmx every few seconds), Admit, Deny and Admit all.

The polled fragment carries the number waiting in `data-waiting-count`; static/app.js puts it in
the page title ("(2 waiting) Room"), so owners notice a new guest without watching the list."""

from flask import abort

from ..auth import owner_required
from ..models import Participant, Room
from ..waiting import decide_waiting, waiting_context
from . import answer_section, bp, owned_room, poll_section

OWNER_ENDPOINTS = {"poll": "owner.waiting", "admit": "owner.admit", "deny": "owner.deny",
                   "admit_all": "owner.admit_all"}


def owner_waiting_context(room: Room, **overrides) -> dict:
    """The room page's waiting-room section, as its owner sees it."""
    return waiting_context(room, OWNER_ENDPOINTS, by_owner=True, **overrides)


def _answer(room: Room, notice: str):
    return answer_section(room, "owner/_waiting.html", owner_waiting_context, "waiting-room",
                          flashes=[("success", notice)], waiting_notice=notice)


def _guest_of(room: Room, participant_id: int) -> Participant:
    participant = Participant.get_or_none((Participant.id == participant_id)
                                          & (Participant.room == room))
    if participant is None:
        abort(404)
    return participant


@bp.get("/<int:room_id>/waiting")
@owner_required
def waiting(room_id: int):
    return poll_section(room_id, "owner/_waiting.html", owner_waiting_context,
                        "waiting_fingerprint")


@bp.post("/<int:room_id>/waiting/<int:participant_id>/admit")
@owner_required
def admit(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    if decide_waiting(room, [guest], "admitted"):
        return _answer(room, f"{guest.name} was admitted.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.post("/<int:room_id>/waiting/<int:participant_id>/deny")
@owner_required
def deny(room_id: int, participant_id: int):
    room = owned_room(room_id)
    guest = _guest_of(room, participant_id)
    if decide_waiting(room, [guest], "rejected"):
        return _answer(room, f"{guest.name} was denied entry.")
    return _answer(room, f"{guest.name} is no longer waiting.")


@bp.post("/<int:room_id>/waiting/admit-all")
@owner_required
def admit_all(room_id: int):
    room = owned_room(room_id)
    done = decide_waiting(room, None, "admitted")
    if not done:
        return _answer(room, "Nobody is waiting.")
    return _answer(room, f"Admitted {len(done)} {'guest' if len(done) == 1 else 'guests'}.")
