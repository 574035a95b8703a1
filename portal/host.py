"""The host's live sections — Waiting room and In the room — as the owner's room page
(portal/owner/) and an invited moderator's room page (portal/guest/moderator.py) show them:
what each fragment (templates/host/) is given, their polls' fingerprints, the notices a control
answers with. What the controls do is portal/services/hosting.py.

The polled fragments carry a fingerprint: the poll answers 204 while it is unchanged, so screen
readers and focus aren't disturbed every few seconds."""

import hashlib

from flask import current_app, render_template
from flask_babel import gettext
from markupsafe import Markup

from . import timeutil
from .decision import N_
from .forms import DenyForm, PresenceRoleForm
from .models import Participant, Room
from .services import hosting
from .web import owner_time

# --- the waiting room ---------------------------------------------------------------------------

def waiting_fingerprint(guests: list, total: int) -> str:
    """Short and stable while nobody arrives or leaves."""
    ids = ",".join(str(g.id) for g in guests)
    return hashlib.sha256(f"{total}:{ids}".encode()).hexdigest()[:12]


def waiting_context(room: Room, endpoints: dict, by_owner: bool, **overrides) -> dict:
    """What _waiting.html shows; `endpoints` names the poll, admit, deny and admit_all views of
    the audience (owner or moderator)."""
    guests, total = hosting.waiting_shown(room, current_app.config["HOST_LIST_ROWS"])
    context = {"waiting_guests": guests, "waiting_total": total,
               "waiting_fingerprint": waiting_fingerprint(guests, total),
               "waiting_notice": None,
               "waiting_endpoints": endpoints, "waiting_by_owner": by_owner,
               "waiting_rows": waiting_rows}
    context.update(overrides)
    return context


def waiting_rows(guests: list, row, consent, invitation: str) -> Markup:
    """The waiting room's rows, each `row` (the template's pattern, portal/web.py) filled with
    a guest's values: `consent` is the pattern of the line saying they agreed, `invitation` the
    word for a guest who came by one."""
    return Markup("".join(row.fill(
        id=g.id, name=g.name, email=g.email, consent=_agreed(g, consent),
        door=g.link_name if g.link_name is not None else (invitation if g.invitation_id else "—"),
        since_iso=timeutil.iso_utc(g.created_at), since=owner_time(g.created_at, "%H:%M"))
        for g in guests))


def _agreed(guest, consent) -> str:
    return consent.fill(time=owner_time(guest.consented_at, "%H:%M"),
                        n=guest.consent_version) if guest.consented_at else ""


def deny_page(room: Room, guest: Participant, form: DenyForm, by_owner: bool, deny_url: str,
               back_url: str, status: int = 200):
    """Deny with a message: the page with its form (`status` 422 when the message was
    refused), in the owner's or the moderator's layout."""
    page = "owner/deny.html" if by_owner else "guest/deny.html"
    form.message.label.text = notice("deny_label", by_owner, name=guest.name)
    return render_template(page, room=room, guest=guest, form=form, waiting_by_owner=by_owner,
                           deny_url=deny_url, back_url=back_url,
                           note_max=hosting.NOTE_MAX), status


# --- in the room --------------------------------------------------------------------------------

NOTICES = {
    "removed": N_("%(name)s was removed from the session."),
    "moved": N_("%(name)s was moved to the waiting room."),
    "not_inside": N_("%(name)s is no longer in the room."),
    "role": N_("%(name)s is now: %(role)s."),
    hosting.REFUSED: N_("Choose viewer, speaker or moderator."),
    "allowed": N_("%(name)s can enter again."),
    "not_turned_away": N_("%(name)s isn't turned away."),
    "deny_label": N_("Message to %(name)s (optional)"),
}


def notice(key: str, by_owner: bool, **values) -> str:
    """A notice in the moderator's language; owner screens stay English."""
    text = NOTICES[key]
    return (text if by_owner else gettext(text)) % values


def posted_role() -> str | None:
    """The role a posted In the room form asks for, or None when it names none."""
    form = PresenceRoleForm()
    return form.role.data if form.validate_on_submit() else None


def inside_fingerprint(inside: list, total: int, away: list) -> str:
    """Unchanged while nobody enters, leaves, changes role or agrees to a new text."""
    parts = [f"{p.id}:{hosting.role_of(p)}:{p.consent_version}" for p in inside] + \
        [f"|{total}|"] + [str(p.id) for p in away]
    return hashlib.sha256(",".join(parts).encode()).hexdigest()[:12]


def inside_context(room: Room, endpoints: dict, by_owner: bool, me: Participant | None = None,
                   **overrides) -> dict:
    """What _inside.html shows; `endpoints` names the poll, remove, move, role and allow views
    of the audience (owner or moderator); `me` is the moderator looking (no controls on their
    own row)."""
    inside, total = hosting.inside_shown(room, current_app.config["HOST_LIST_ROWS"])
    away = hosting.turned_away(room)
    context = {"inside_guests": inside, "inside_total": total, "turned_away": away,
               "inside_fingerprint": inside_fingerprint(inside, total, away),
               "inside_notice": None, "inside_error": False, "inside_endpoints": endpoints,
               "inside_by_owner": by_owner, "inside_me": me.id if me is not None else None,
               "inside_roles": ("viewer", "speaker", "moderator"),  # by what they may do
               "inside_rows": inside_rows}
    context.update(overrides)
    return context


def inside_rows(guests: list, rows: dict, me: int | None, options: dict,
                role_label: dict, consent, by_link, invitation: str) -> Markup:
    """In the room's rows, each filled with a guest's values into the template's pattern
    (portal/web.py): `rows["mine"]` for the moderator looking (`me`), `rows["other"]` for the
    rest; `options` the role <option>s for each role, `by_link` the pattern of "Guest link
    “…”"."""
    drawn = []
    for g in guests:
        role, since = hosting.role_of(g), g.decided_at or g.created_at
        drawn.append(rows["mine" if g.id == me else "other"].fill(
            id=g.id, name=g.name, email=g.email, consent=_agreed(g, consent),
            role=role_label[role], options=options[role],
            door=invitation if g.invitation_id else (
                by_link.fill(name=g.link_name) if g.link_name is not None else "—"),
            since_iso=timeutil.iso_utc(since), since=owner_time(since, "%H:%M")))
    return Markup("".join(drawn))
