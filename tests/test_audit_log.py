"""The audit log: every owner action is recorded with who and when; each room's log for its
owner (paginated), and the admin's log of every room, filterable by room and action."""

import html
import re
from datetime import timedelta

import pytest
from helpers import (
    HTMX,
    PASSWORD,
    GuestActions,
    OwnerActions,
    invitation,
    invitation_path,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal.models import AuditEvent, GuestLink, Invitation, Participant, Room
from portal.timeutil import utcnow


def actions(room):
    return [e.action for e in AuditEvent.select().where(AuditEvent.room == room)
            .order_by(AuditEvent.id)]


def sign_in(app, email):
    client = app.test_client()
    client.post("/sign-in", data={"email": email, "password": PASSWORD})
    return client


def test_every_owner_action_is_recorded_and_shown(app, client, owner_browser, db):
    start = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    end = (utcnow() + timedelta(days=1, hours=1)).strftime("%Y-%m-%dT%H:%M")
    form = {"title": "Board", "starts_at": start, "ends_at": end, "timezone": "UTC",
            "kind": "regular", "require_approval": "y"}
    client.post("/rooms/new", data=form)
    room = Room.get(Room.title == "Board")
    client.post(f"/rooms/{room.id}/edit", data={**form, "title": "Board meeting"})
    client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "on"})
    client.post(f"/rooms/{room.id}/links", data={"link-name": "Guests"})
    link = GuestLink.get(GuestLink.room == room)
    client.post(f"/rooms/{room.id}/links/{link.id}/delete")
    owner_browser.invite(room, "ada@example.com")
    inv = invitation(room, "ada@example.com")
    owner_browser.change_role(room, inv, "speaker")
    owner_browser.reset_invitation(room, inv)
    owner_browser.remove_invitation(room, inv)
    waiting = [Participant.create(room=room, name=n, email=f"{n}@example.com", device=n)
               for n in ("amy", "ben")]
    owner_browser.admit(room, waiting[0])
    owner_browser.deny(room, waiting[1])
    client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "off"})

    assert actions(room) == ["room_created", "room_edited", "guest_access_on", "link_created",
                             "link_deleted", "invited", "role_changed", "invitation_reset",
                             "invitation_removed", "guest_admitted", "guest_denied",
                             "guest_access_off"]
    assert {e.actor_email for e in AuditEvent.select()} == {"owner@example.com"}

    page = client.get(f"/rooms/{room.id}/insights")
    assert f'href="/rooms/{room.id}/audit"' in page.get_data(as_text=True)
    response = client.get(f"/rooms/{room.id}/audit")
    text = text_of(response)
    assert response.status_code == 200
    for words in ("Turned guest access on", "Turned guest access off", "Created a guest link",
                  "Deleted a guest link", "Invited a guest", "Removed a guest",
                  "Reset a guest link", "Changed a guest's role", "Admitted a guest",
                  "Denied a guest", "Edited the room", "viewer → speaker",
                  "amy@example.com"):
        assert words in text, words
    assert "owner@example.com" in text
    # Newest first.
    assert text.index("Turned guest access off") < text.index("Turned guest access on")


def test_room_log_is_paginated_and_never_a_500(app, client, signed_in_owner, owner, db):
    room = make_room(owner)
    for i in range(120):
        AuditEvent.create(room=room, action="link_created", target=f"link {i:03}")
    first = text_of(client.get(f"/rooms/{room.id}/audit"))
    assert "Page 1 of 3" in first and "link 119" in first and "link 069" not in first
    third = client.get(f"/rooms/{room.id}/audit?page=3")
    assert "Page 3 of 3" in text_of(third) and len(re.findall(r"<tr data-action",
                                                             third.get_data(as_text=True))) == 20
    for page in ("abc", "-1", "0", "99999999999999999", "2.5"):
        response = client.get(f"/rooms/{room.id}/audit?page={page}")
        assert response.status_code == 200, page
    assert "Page 3 of 3" in text_of(client.get(f"/rooms/{room.id}/audit?page=999"))


def test_room_log_is_for_its_owner_and_admins(app, client, owner, db):
    room = make_room(owner)
    make_user("other@example.com")
    make_user("guest@example.com", access="guest")
    make_user("admin@example.com", access="admin")
    url = f"/rooms/{room.id}/audit"
    assert sign_in(app, "other@example.com").get(url).status_code == 404
    assert sign_in(app, "guest@example.com").get(url).status_code == 403
    assert sign_in(app, "admin@example.com").get(url).status_code == 200
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and "/sign-in" in anonymous.location


@pytest.fixture
def two_rooms(db, owner):
    a, b = make_room(owner, title="Alpha"), make_room(owner, title="Beta")
    AuditEvent.create(room=a, action="guest_access_on", target="Alpha",
                      actor_email="owner@example.com")
    AuditEvent.create(room=a, action="link_created", target="alpha link")
    AuditEvent.create(room=b, action="link_created", target="beta link")
    AuditEvent.create(room=None, action="domain_rule_added", target="blocked.example")
    return a, b


def test_admin_log_of_all_rooms_with_filters(app, db, two_rooms):
    a, b = two_rooms
    make_user("admin@example.com", access="admin")
    admin = sign_in(app, "admin@example.com")
    nav = admin.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/audit"' in nav

    everything = text_of(admin.get("/admin/audit"))
    for target in ("Alpha", "alpha link", "beta link", "blocked.example"):
        assert target in everything
    only_a = text_of(admin.get(f"/admin/audit?room={a.id}"))
    assert "alpha link" in only_a and "beta link" not in only_a
    links = text_of(admin.get("/admin/audit?action=link_created"))
    assert "alpha link" in links and "beta link" in links and "blocked.example" not in links
    both = text_of(admin.get(f"/admin/audit?room={b.id}&action=link_created"))
    assert "beta link" in both and "alpha link" not in both
    none = text_of(admin.get(f"/admin/audit?room={b.id}&action=guest_access_on"))
    assert "Nothing recorded that matches the filter" in none
    for query in ("room=abc", "room=-1", "action=drop%20table", "room=99999999999999999999",
                  "page=x", "room=&action="):
        assert admin.get(f"/admin/audit?{query}").status_code == 200, query


def test_admin_log_is_for_admins_only(app, db, two_rooms):
    make_user("other@example.com")
    assert sign_in(app, "owner@example.com").get("/admin/audit").status_code == 403
    assert sign_in(app, "other@example.com").get("/admin/audit").status_code == 403
    response = app.test_client().get("/admin/audit")
    assert response.status_code == 302 and "/sign-in" in response.location


def test_fixes_from_the_denial_panel_are_in_the_log(app, client, signed_in_owner, owner, db):
    room = make_room(owner, guest_access_enabled=False)
    link = GuestLink.create(room=room, name="Old", max_uses=2, uses=2,
                            expires_at=utcnow() - timedelta(days=1))
    client.post(f"/rooms/{room.id}/denials/guest-access-on")
    client.post(f"/rooms/{room.id}/denials/links/{link.id}/extend",
                data={f"extend-{link.id}-days": "3"})
    client.post(f"/rooms/{room.id}/denials/links/{link.id}/raise",
                data={f"raise-{link.id}-clicks": "4"})
    assert actions(room) == ["guest_access_on", "link_extended", "link_limit_raised"]
    text = text_of(client.get(f"/rooms/{room.id}/audit"))
    assert "Extended a guest link" in text and "by 3 days" in text
    assert "Raised a guest link's click limit" in text and "2 → 6 clicks" in text


# --- who acted: an account, or a guest moderator and how far their email is known --------------

def who_column(response) -> list[str]:
    """The log's "Who" cells, newest first, as the reader sees them."""
    cells = re.findall(r'data-label="Who">(.*?)</td>', response.get_data(as_text=True), re.S)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in cells]


def moderator_by_link(app, owner, room, name, email):
    """A shared-link guest whom the owner made moderator: their browser."""
    link = GuestLink.get_or_none(GuestLink.room == room) or GuestLink.create(room=room,
                                                                             name="Guests")
    guest = GuestActions(app)
    assert guest.enter(link_path(app, link), name, email).status_code == 303
    owner.set_role(room, guest.participant, "moderator")
    return guest


def test_a_link_guest_made_moderator_is_named_as_one_not_as_the_account(
        app, client, owner_browser, owner, db):
    """They typed admin@example.com — an admin's address — and were made moderator: the log
    says a guest moderator with a typed, unverified email removed Ben, not the admin."""
    admin = make_user("admin@example.com", access="admin")
    room = make_room(owner, guest_access_enabled=True)
    mallory = moderator_by_link(app, owner_browser, room, "Mallory", "admin@example.com")
    ben = GuestActions(app)
    assert ben.enter(link_path(app, GuestLink.get()), "Ben", "ben@example.com").status_code \
        == 303
    assert mallory.post(f"/s/{room.id}/inside/{ben.participant.id}/remove",
                        headers=HTMX).status_code == 200

    event = AuditEvent.get(AuditEvent.action == "guest_removed")
    assert event.actor_id is None  # no account acted
    said = "guest moderator Mallory <admin@example.com> (typed email, unverified)"
    assert who_column(client.get(f"/rooms/{room.id}/audit"))[0] == said
    admin_log = sign_in(app, admin.email).get(f"/admin/audit?room={room.id}")
    assert who_column(admin_log)[0] == said
    # The owner's own actions stay theirs.
    assert who_column(client.get(f"/rooms/{room.id}/audit"))[1] == "owner@example.com"


@pytest.mark.parametrize("require_email_match, signed_in, said", [
    (True, False, "guest moderator Ivy <ivy@example.com> (invited email, confirmed in the "
                  "lobby)"),
    (False, False, "guest moderator Ivy <ivy@example.com> (invitation link, email not asked)"),
    (True, True, "guest moderator Ivy <ivy@example.com> (signed in to the invited account)"),
])
def test_an_invited_moderator_is_named_with_how_their_email_was_established(
        app, client, owner_browser, owner, db, require_email_match, signed_in, said):
    room = make_room(owner, guest_access_enabled=True, require_approval=True,
                     require_email_match=require_email_match)
    user = make_user("ivy@example.com", access="guest", name="Ivy")
    invited = Invitation.create(room=room, user=user, email=user.email, role="moderator")
    ivy = GuestActions(app)
    if signed_in:
        OwnerActions(ivy.client).sign_in("ivy@example.com")
        assert ivy.get(invitation_path(app, invited)).status_code == 303
    else:
        assert ivy.enter(invitation_path(app, invited), "Ivy", "ivy@example.com") \
            .status_code == 303
    waiting = GuestActions(app)
    waiting.enter(link_path(app, GuestLink.create(room=room, name="Guests")), "Wes",
                  "wes@example.com")
    assert ivy.post(f"/s/{room.id}/waiting/{waiting.participant.id}/admit").status_code == 303

    event = AuditEvent.get(AuditEvent.action == "guest_admitted")
    assert event.actor_id == user.id  # the invitation's account, as before
    assert who_column(client.get(f"/rooms/{room.id}/audit"))[0] == said
