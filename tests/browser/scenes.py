"""Rooms with every section filled, for the accessibility tests and `make screenshots`: an admin
who owns a live room (guest access on, 3 links, invitations in several states, guests waiting,
attachments, a host message, denials, registration with approval and registrants in each
state) plus rooms for each guest page, and a guest-only user with
an invitation (My sessions). Call inside an app context with the database connected."""

from datetime import timedelta
from pathlib import Path

from helpers import make_user

from portal import denials, tokens
from portal.models import (
    Attachment,
    GuestLink,
    Invitation,
    Participant,
    Registration,
    RegistrationSettings,
    Room,
)
from portal.timeutil import utcnow

ADMIN = "admin@example.com"
GUEST = "ada@example.com"


def _link_url(keys, link) -> str:
    return "/g/" + tokens.make_token(keys, tokens.LINK, link.id, link.version)


def _invite_url(keys, invitation) -> str:
    return "/i/" + tokens.make_token(keys, tokens.INVITE, invitation.id, invitation.version)


def seed(app) -> dict:
    """Everything the screens show. Returns the ids and guest URLs the tests need."""
    now = utcnow()
    keys = app.config["SECRET_KEYS"]
    admin = make_user(ADMIN, access="admin", name="Alex Admin")
    make_user("host@example.com", access="broadcaster", name="Harriet Host")
    guest_user = make_user(GUEST, access="guest", name="Ada Lovelace")
    grace = make_user("grace@example.com", access="guest")
    failed_user = make_user("bounce@example.org", access="guest")
    expired_user = make_user("late@example.net", access="guest")
    colleague = make_user("colleague@example.com", access="broadcaster")

    room = Room.create(
        owner=admin, title="Quarterly customer round-table", guest_access_enabled=True,
        require_approval=True, join_url="https://meet.example.com/r/quarterly",
        description="How the last quarter went, what we're building next,\nand your questions.",
        speakers="Ada Lovelace\nGrace Hopper",
        host_message="We start 10 minutes late — grab a coffee.",
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=2))
    links = [
        GuestLink.create(room=room, name="Customers", max_uses=50, uses=12, created_by=admin),
        GuestLink.create(room=room, name="Press", expires_at=now + timedelta(days=7),
                         created_by=admin),
        GuestLink.create(room=room, name="Partners (used up)", max_uses=2, uses=2,
                         created_by=admin),
    ]
    invitations = [
        Invitation.create(room=room, user=guest_user, email=guest_user.email, role="speaker",
                          email_status="sent", emailed_at=now - timedelta(hours=1)),
        Invitation.create(room=room, user=grace, email=grace.email, role="moderator",
                          valid_once=True),
        Invitation.create(room=room, user=failed_user, email=failed_user.email,
                          email_status="failed", email_error="550 mailbox unavailable"),
        Invitation.create(room=room, user=expired_user, email=expired_user.email,
                          expires_at=now - timedelta(days=1)),
        Invitation.create(room=room, user=colleague, email=colleague.email, role="moderator"),
    ]
    for i, (name, email) in enumerate([("Grace Guest", "grace.guest@example.com"),
                                       ("Linus Waiting", "linus@example.org")]):
        Participant.create(room=room, link=links[0], name=name, email=email,
                           device=f"seed-device-{i}", status="waiting",
                           created_at=now - timedelta(minutes=3 - i))
    # In the room: a guest by a link, one by their invitation; and one a host removed.
    Participant.create(room=room, link=links[0], name="Inés Inside", email="ines@example.org",
                       device="seed-device-inside", status="admitted",
                       decided_at=now - timedelta(minutes=2))
    Participant.create(room=room, invitation=invitations[0], name="Ada Lovelace",
                       email=guest_user.email, role="speaker", device="seed-device-ada",
                       status="admitted", decided_at=now - timedelta(minutes=1))
    Participant.create(room=room, link=links[0], name="Rex Removed", email="rex@example.org",
                       device="seed-device-removed", status="rejected", removed_at=now,
                       decided_at=now)
    uploads = Path(app.config["UPLOAD_FOLDER"])
    uploads.mkdir(parents=True, exist_ok=True)
    for i, (filename, kind) in enumerate([("Agenda.pdf", "application/pdf"),
                                          ("Slides Q3.pptx", "application/vnd.openxmlformats-"
                                           "officedocument.presentationml.presentation")]):
        stored = f"seed{i:028d}.{filename.rsplit('.', 1)[1]}"
        (uploads / stored).write_bytes(b"%PDF-1.4 seed\n" * 200)
        Attachment.create(room=room, filename=filename, stored_name=stored, content_type=kind,
                          size=2800)
    # Registration on, with approval, a question and a registrant in each state a host acts on.
    RegistrationSettings.create(
        room=room, enabled=True, mode="approval", capacity=2, taken=1,
        questions='[{"id": "q1", "label": "Your company", "kind": "short", "required": false, '
                  '"choices": []}]')
    for i, (name, email, status) in enumerate([
            ("Paula Pending", "paula.pending@example.com", "pending"),
            ("Peter Pending-Longname", "peter.pending-longname@example.co.uk", "pending"),
            ("Rita Registered", "rita@example.org", "registered"),
            ("Walt Waitlisted", "walt@example.net", "waitlisted"),
            ("Una Unconfirmed", "una@example.com", "unconfirmed")]):
        Registration.create(room=room, name=name, email=email, status=status,
                            answers='{"q1": "Example Ltd"}', created_at=now - timedelta(hours=i),
                            confirmed_at=None if status == "unconfirmed" else now,
                            waitlisted_at=now if status == "waitlisted" else None)
    with app.app_context():  # denials read their limit from the app's config
        for reason, email in [("guest_access_off", "sam@example.com"),
                              ("link_used_up", "kim@example.com"),
                              ("email_mismatch", "eve@example.com")]:
            denials.record(reason, room=room, link=links[2], email=email)

    # A room per guest page.
    def guest_room(title, **fields):
        values = {"starts_at": now - timedelta(minutes=1), "ends_at": now + timedelta(hours=2),
                  "description": "What we will talk about.", "speakers": "Ada Lovelace"}
        values.update(fields)
        r = Room.create(owner=admin, title=title, guest_access_enabled=True, **values)
        return r, _link_url(keys, GuestLink.create(room=r, name="Guests"))

    live, live_url = guest_room("Product launch", join_url="https://meet.example.com/r/launch")
    later, later_url = guest_room("Starts in an hour", starts_at=now + timedelta(hours=1))
    approval, approval_url = guest_room("Guests wait here", require_approval=True)
    off, off_url = guest_room("Guest access off")
    Room.update(guest_access_enabled=False).where(Room.id == off.id).execute()
    Room.create(owner=admin, title="Last week's all-hands", starts_at=now - timedelta(days=7),
                ends_at=now - timedelta(days=7) + timedelta(hours=1))
    Room.create(owner=admin, title="Broadcast channel", kind="channel",
                starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=1))
    my_invitation = Invitation.create(room=live, user=guest_user, email=guest_user.email,
                                      role="viewer")
    # An invited moderator of the round-table: their room page shows its Live sections.
    moderator = make_user("mo@example.com", access="guest", name="Mo Moderator")
    moderator_invitation = Invitation.create(room=room, user=moderator, email=moderator.email,
                                             role="moderator")
    return {
        "admin": admin, "guest_user": guest_user, "room": room, "links": links,
        "invitations": invitations, "live": (live, live_url), "later": (later, later_url),
        "approval": (approval, approval_url), "off": (off, off_url),
        "my_invite_url": _invite_url(keys, my_invitation),
        "moderator_url": _invite_url(keys, moderator_invitation),
    }
