"""The room page's "Why guests couldn't join": counts by reason for the last 24 hours, 7 days and
all time (from the daily counters: a few rows whatever the flood), the newest events, and next
to each reason the fix at hand — turn guest access on, extend a link, raise its click limit,
invite again, copy or email the current link, open the domain rules (admins).

The section polls itself every POLL_DENIALS_SECONDS (a setting); the answer is 204 while its
fingerprint is unchanged. Each fix is one POST answering by web.answer's rule: htmx gets the
section alone, a plain form a redirect back to the room; a refusal is shown in the section (htmx:
422) or the room page (plain: 4xx). Each reaches the room through `owned_room` and writes an
audit event in the same transaction."""

import hashlib
from dataclasses import dataclass

from flask import abort, request

from .. import timeutil
from ..auth import owner_required
from ..decision import REASONS
from ..forms import extend_form, raise_form
from ..models import DenialEvent, GuestLink, Invitation, Room
from ..services import invitations, links
from ..services.denial_reasons import WINDOWS, reason_counts, recent_events
from ..services.links import MAX_USES
from ..services.urls import invitation_url
from ..web import owner_time
from . import bp, me, owned_room
from .cockpit import answer_section, poll_section, shown_on

RECENT_EVENTS = 20
# The newest events looked at to find what each reason's fix applies to (one LIMIT query).
FIX_LOOKBACK = 100


# --- what the section shows ---------------------------------------------------------------------

@dataclass
class Fix:
    """What the host can do about a reason now: `kind` picks the control in _denials.html;
    `done` says in words that the cause no longer stands."""
    kind: str | None = None
    link: GuestLink | None = None
    invitation: Invitation | None = None
    url: str | None = None
    done: str | None = None


@dataclass
class ReasonRow:
    code: str
    words: str
    counts: dict  # window key -> count
    fix: Fix


def fix_for(code: str, room: Room, event: DenialEvent | None, now) -> Fix:
    link = event.link if event is not None and event.link_id else None
    inv = event.invitation if event is not None and event.invitation_id else None
    if link is not None and link.deleted_at is not None:
        link = None
    if code == "guest_access_off" and room.kind != "channel":
        if room.guest_access_enabled:
            return Fix(done="Guest access is on now.")
        return Fix("access_on")
    if code == "link_expired" and link is not None:
        if link.expires_at is not None and link.expires_at <= now:
            return Fix("extend", link=link)
        return Fix(done=f"“{link.name}” works again.")
    if code == "link_used_up" and link is not None and link.max_uses is not None:
        if link.uses >= link.max_uses:
            return Fix("raise", link=link)
        return Fix(done=f"“{link.name}” has {link.uses_left} of {link.max_uses} clicks left.")
    if code == "invite_removed" and inv is not None:
        if inv.removed_at is not None:
            return Fix("invite_again", invitation=inv)
        return Fix("copy_link", invitation=inv, url=invitation_url(inv))
    if code == "email_mismatch" and inv is not None and inv.removed_at is None:
        return Fix("resend", invitation=inv)
    if code == "domain_blocked":
        return Fix("domains")
    if code == "session_ended":
        return Fix("edit_room")
    if code in ("not_admitted", "removed"):
        return Fix("allow_again")  # under In the room's Turned away
    return Fix()


@shown_on("insights")
def denials_context(room: Room, **overrides) -> dict:
    now = timeutil.utcnow()
    counts = reason_counts(room)
    looked_at = recent_events(room, FIX_LOOKBACK)
    newest_of = {}
    for event in looked_at:
        newest_of.setdefault(event.reason, event)
    rows = [ReasonRow(code, REASONS[code].host_words if code in REASONS else code, n,
                      fix_for(code, room, newest_of.get(code), now))
            for code, n in sorted(counts.items(), key=lambda item: (-item[1]["all"], item[0]))]
    top = {key: max([row.counts[key] for row in rows] or [0]) for key, _l, _h in WINDOWS}
    context = {"denial_rows": rows, "denial_top": top, "denial_windows": WINDOWS,
               "denial_events": looked_at[:RECENT_EVENTS],
               "denial_notice": None, "denial_error": None, "denial_forms": {},
               "extend_form": extend_form, "raise_form": raise_form, "reasons": REASONS}
    context["denial_fingerprint"] = fingerprint(room, rows, looked_at)
    context.update(overrides)
    return context



def fingerprint(room: Room, rows: list[ReasonRow], events: list[DenialEvent]) -> str:
    """Changes when a denial is recorded or a fix's target changes (so the section shows the
    fix done even when another control made it): the poll answers 204 while it holds."""
    state = [room.guest_access_enabled, events[0].id if events else 0]
    for row in rows:
        fix = row.fix
        state += [row.code, *row.counts.values(), fix.kind, fix.done,
                  fix.link and (fix.link.expires_at, fix.link.max_uses, fix.link.uses),
                  fix.invitation and (fix.invitation.version, fix.invitation.removed_at,
                                      fix.invitation.email_status)]
    return hashlib.sha256(repr(state).encode()).hexdigest()[:12]


# --- answers --------------------------------------------------------------------------------------

def _answer(room: Room, notice: str | None = None, error: str | None = None,
            forms: dict | None = None, status: int = 200):
    """web.answer's rule; a form with errors is a refusal (422)."""
    if forms:
        status = 422
    flashes = [("error", error)] if error else [("success", notice)] if notice else []
    return answer_section(room, "owner/_denials.html", denials_context, "denials",
                          status=status, flashes=flashes, denial_notice=notice,
                          denial_error=error, denial_forms=forms or {})


def _live_link(room: Room, link_id: int) -> GuestLink:
    link = GuestLink.get_or_none((GuestLink.id == link_id) & (GuestLink.room == room.id)
                                 & GuestLink.deleted_at.is_null())
    if link is None:
        abort(404)
    return link


def _invitation(room: Room, invitation_id: int) -> Invitation:
    """The room's invitation, removed or not (inviting again is for removed ones)."""
    invitation = Invitation.get_or_none((Invitation.id == invitation_id)
                                        & (Invitation.room == room.id))
    if invitation is None:
        abort(404)
    invitation.room = room
    return invitation


# --- views ----------------------------------------------------------------------------------------

@bp.get("/<int:room_id>/denials")
@owner_required
def denials_panel(room_id: int):
    return poll_section(room_id, "owner/_denials.html", denials_context, "denial_fingerprint",
                        "denials")


@bp.post("/<int:room_id>/denials/guest-access-on")
@owner_required
def fix_guest_access(room_id: int):
    room = owned_room(room_id)
    try:
        changed = links.set_guest_access(room, True, actor=me(),
                                         detail="from the denial reasons")
    except links.RoomGone:
        abort(404)
    except links.ChannelRoom:
        return _answer(room, error="Guest access isn't supported for channel rooms.",
                       status=403)
    return _answer(room, notice="Guest access is on: guests can enter with the room's guest "
                                "links." if changed else "Guest access was already on.")


@bp.post("/<int:room_id>/denials/links/<int:link_id>/extend")
@owner_required
def extend_link(room_id: int, link_id: int):
    room = owned_room(room_id)
    link = _live_link(room, link_id)
    form = extend_form(link.id, formdata=request.form)
    if not form.validate():
        return _answer(room, forms={form._prefix.rstrip('-'): form})
    try:
        until, capped = links.extend_link(room, link, form.days.data, actor=me())
    except links.SessionEnded:
        return _answer(room, error="The session has ended: move its end (Edit room) before "
                                   f"extending “{link.name}”.", status=422)
    when = f"the session ends ({owner_time(until)})" if capped else owner_time(until)
    return _answer(room, notice=f"“{link.name}” now works until {when}.")


@bp.post("/<int:room_id>/denials/links/<int:link_id>/raise")
@owner_required
def raise_link_limit(room_id: int, link_id: int):
    room = owned_room(room_id)
    link = _live_link(room, link_id)
    if link.max_uses is None:
        return _answer(room, notice=f"“{link.name}” has no click limit.")
    form = raise_form(link.id, formdata=request.form)
    if not form.validate():
        return _answer(room, forms={form._prefix.rstrip('-'): form})
    try:
        new_limit = links.raise_link_limit(room, link, form.clicks.data, actor=me())
    except links.TooManyClicks:
        form.clicks.errors = [f"A link can have at most {MAX_USES:,} clicks."]
        return _answer(room, forms={form._prefix.rstrip('-'): form})
    return _answer(room, notice=f"“{link.name}” now allows {new_limit} clicks "
                                f"({new_limit - link.uses} left).")


@bp.post("/<int:room_id>/denials/invitations/<int:invitation_id>/invite-again")
@owner_required
def invite_again(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    if invitation.removed_at is None:
        return _answer(room, notice=f"{invitation.email} is on the guest list: copy or email "
                                    "their current link.")
    if room.kind == "channel":
        return _answer(room, error="Guest access isn't supported for channel rooms.",
                       status=403)
    result = invitations.invite_again(room, invitation, actor=me())
    if result.refused:
        email, why = result.refused[0]
        return _answer(room, error=f"{email} wasn't invited again: {why}.", status=422)
    return _answer(room, notice=f"{invitation.email} is invited again as {invitation.role}. "
                                "Copy or email the new link.")


@bp.post("/<int:room_id>/denials/invitations/<int:invitation_id>/email")
@owner_required
def resend_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    if invitation.removed_at is not None:
        abort(404)
    error = invitations.email_invitations([invitation], me())[invitation.id]
    if error:
        return _answer(room, error=f"Couldn't email {invitation.email}: {error}")
    return _answer(room, notice=f"Emailed the guest link to {invitation.email}.")

