"""Personal invitations (the room page's "Guests" section): Invite a guest (one or many emails,
a role, how long the link is valid, send now or later), and per guest: change the role, Email
guest link, Copy guest link, Reset guest link, Delete; Email links to all guests.

Every control answers by web.answer's rule: htmx gets the section alone, a plain form
post/redirect/get; a refusal shows in the section (htmx: 422) or the room page (plain: 4xx)."""

from dataclasses import dataclass, field

from flask import abort, current_app, redirect, render_template

from .. import mail, timeutil
from ..auth import owner_required
from ..forms import InviteForm, RoleForm
from ..models import Invitation, Room, User
from ..services import invitations as service
from ..services.invitations import INVALID, MAX_ADDRESSES_AT_ONCE
from ..services.urls import invitation_url
from ..web import is_htmx
from . import bp, me, owned_room
from .cockpit import answer_section, section_url, shown_on

# --- what the section says ---------------------------------------------------------------------

def _sending_notices(results: dict[int, str | None], by_id: dict[int, Invitation]) -> list:
    sent = [by_id[i].email for i, err in results.items() if err is None]
    failed = [f"{by_id[i].email}: {err}" for i, err in results.items() if err is not None]
    notices = []
    if sent:
        where = " (saved to the outbox folder: no email server is configured)" \
            if mail.outbox_mode() else ""
        notices.append(Notice("success", f"Emailed {_count(len(sent), 'guest')}{where}.", sent))
    if failed:
        notices.append(Notice("error", "Couldn't send the email to "
                              f"{_count(len(failed), 'guest')}. The invitations are kept: "
                              "use Email guest link to try again.", failed))
    return notices


# --- the room page's section ----------------------------------------------------------------------

@dataclass
class Notice:
    category: str
    text: str
    items: list[str] = field(default_factory=list)


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@shown_on("access")
def invitations_section(room: Room, **overrides) -> dict:
    invitations = list(room.live_invitations())
    context = {
        "now": timeutil.utcnow(),
        "invitations": [(inv, invitation_url(inv)) for inv in invitations],
        "invitation_agreements": service.agreements(room) if room.consent_version else {},
        "invite_form": InviteForm(formdata=None),
        "role_form": RoleForm(formdata=None),
        "invitation_limit": current_app.config["MAX_INVITATIONS_PER_ROOM"],
        "mail_outbox_mode": mail.outbox_mode(),
        "invitation_notices": [],
    }
    context.update(overrides)
    return context



def _answer(room: Room, notices: list[Notice], form: InviteForm | None = None,
            status: int = 200):
    """web.answer's rule; a form with errors is a refusal (422)."""
    if form is not None and form.errors:
        status = 422
    overrides = {"invitation_notices": notices}
    if form is not None:
        overrides["invite_form"] = form
    flashes = [(n.category, n.text + (" " + "; ".join(n.items) if n.items else ""))
               for n in notices]
    return answer_section(room, "owner/_invitations.html", invitations_section, "invitations",
                          status=status, flashes=flashes, **overrides)


def _invitation(room: Room, invitation_id: int) -> Invitation:
    invitation = (Invitation.select(Invitation, User).join(User)
                  .where((Invitation.id == invitation_id) & (Invitation.room == room)
                         & Invitation.removed_at.is_null()).first())
    if invitation is None:
        abort(404)
    invitation.room = room
    return invitation


@bp.get("/<int:room_id>/invitations")
@owner_required
def invitations(room_id: int):
    room = owned_room(room_id)
    if is_htmx():
        return render_template("owner/_invitations.html", room=room, **invitations_section(room))
    return redirect(section_url(room, "invitations"), 303)


@bp.post("/<int:room_id>/invitations")
@owner_required
def add_invitations(room_id: int):
    room = owned_room(room_id)
    form = InviteForm()
    if room.kind == "channel":
        return _answer(room, [Notice("error", "Guest access isn't supported for channel "
                                     "rooms, so guests can't be invited here.")], status=403)
    if not form.validate_on_submit():
        return _answer(room, [], form)
    addresses = service.split_addresses(form.emails.data)
    if len(addresses) > MAX_ADDRESSES_AT_ONCE:
        form.emails.errors = [service.TOO_MANY_AT_ONCE]
        return _answer(room, [], form)
    result = service.invite(room, addresses, form.role.data,
                            valid_once=form.validity.data == "once",
                            days=form.days.data if form.validity.data == "days" else None,
                            actor=me())
    notices = []
    if result.added:
        notices.append(Notice("success", f"Added {_count(len(result.added), 'guest')} as "
                              f"{form.role.data}.", result.added))
    if result.refused:
        notices.append(Notice("error", f"Not added: {_count(len(result.refused), 'address')}.",
                              [f"{email} — {why}" for email, why in result.refused]))
    if result.added and form.send_now.data:
        by_id = {inv.id: inv for inv in result.invitations}
        notices += _sending_notices(service.email_invitations(result.invitations, me()), by_id)
    # Keep the refused addresses in the box so the owner can correct them.
    form = InviteForm(formdata=None, role=form.role.data, validity=form.validity.data,
                      days=form.days.data if form.validity.data == "days" else None,
                      send_now=form.send_now.data,
                      emails="\n".join(email for email, why in result.refused
                                       if why == INVALID))
    return _answer(room, notices, form)


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/role")
@owner_required
def change_role(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _answer(room, [Notice("error", "Choose viewer, moderator or speaker.")],
                       status=422)
    new = form.role.data
    service.change_role(room, invitation.id, invitation.role, new, invitation.email, me())
    return _answer(room, [Notice("success", f"{invitation.email} is now {_article(new)} {new}.")])


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/email")
@owner_required
def email_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    results = service.email_invitations([invitation], me())
    return _answer(room, _sending_notices(results, {invitation.id: invitation}))


@bp.post("/<int:room_id>/invitations/email-all")
@owner_required
def email_all(room_id: int):
    room = owned_room(room_id)
    invitations = list(room.live_invitations())
    if not invitations:
        return _answer(room, [Notice("info", "There are no guests to email yet.")])
    results = service.email_invitations(invitations, me())
    return _answer(room, _sending_notices(results, {inv.id: inv for inv in invitations}))


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/reset")
@owner_required
def reset_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    service.reset(room, invitation, me())
    return _answer(room, [Notice("success", f"The guest link of {invitation.email} was reset: "
                                 "the old link no longer works. Email or copy the new one.")])


@bp.post("/<int:room_id>/invitations/<int:invitation_id>/delete")
@owner_required
def delete_invitation(room_id: int, invitation_id: int):
    room = owned_room(room_id)
    invitation = _invitation(room, invitation_id)
    service.remove(room, invitation, me())
    return _answer(room, [Notice("success", f"{invitation.email} was removed from the guest "
                                 "list; their link no longer works.")])

