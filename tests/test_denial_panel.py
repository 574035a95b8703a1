"""The room page's "Why guests couldn't join": each reason, produced through the real guest
routes, shows up in the host's words with its fix; each fix works (the same guest gets in
after it), writes an audit event, and is checked like the screen it shortcuts. Plus the rooms
list's 24-hour counts and the "runs out soon" warning on guest links."""

import re
from datetime import datetime, timedelta

import pytest
from helpers import (
    HTMX,
    PASSWORD,
    GuestActions,
    invitation,
    invite,
    link_path,
    make_room,
    make_user,
    path_of,
    text_of,
)

from portal import denials
from portal.decision import REASONS
from portal.models import AuditEvent, DenialCount, DomainRule, GuestLink, Invitation, Room
from portal.timeutil import utcnow


@pytest.fixture
def room(db, owner):
    return make_room(owner, guest_access_enabled=True, title="Launch")


@pytest.fixture
def guest(app):
    """The guest: a browser of their own, never signed in."""
    return GuestActions(app)


def panel(client, room) -> str:
    response = client.get(f"/rooms/{room.id}/denials", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def reason_row(html: str, code: str) -> str:
    match = re.search(rf'<tr id="denial-reason-{code}".*?</tr>', html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def actions(room):
    return [e.action for e in AuditEvent.select().where(AuditEvent.room == room)
            .order_by(AuditEvent.id)]


# --- each reason, its words and its fix -------------------------------------------------------

def test_expired_link_extend_by_seven_days_lets_the_same_guest_in(app, client, guest,
                                                                 signed_in_owner, room):
    Room.update(ends_at=utcnow() + timedelta(days=30)).where(Room.id == room.id).execute()
    link = GuestLink.create(room=room, name="Customers",
                            expires_at=utcnow() - timedelta(hours=1))
    path = link_path(app, link)
    assert guest.get(path).status_code == 410
    assert guest.enter(path, "Grace", "grace@example.com").status_code == 410

    page = client.get(f"/rooms/{room.id}/insights")
    assert "Why guests couldn't join" in text_of(page)
    row = reason_row(page.get_data(as_text=True), "link_expired")
    assert REASONS["link_expired"].host_words in row
    assert "“Customers” expired" in text_of_html(row)
    assert re.search(r'data-window="day">\s*<span class="count">2</span>', row)
    assert re.search(r'data-window="all">\s*<span class="count">2</span>', row)
    assert 'value="7"' in row  # the default

    response = client.post(f"/rooms/{room.id}/denials/links/{link.id}/extend",
                           data={f"extend-{link.id}-days": "7"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="denials"')
    assert "“Customers” now works until" in text_of(response)
    assert "“Customers” works again." in text_of(response)
    expires = GuestLink.get_by_id(link.id).expires_at
    assert timedelta(days=6, hours=23) < expires - utcnow() <= timedelta(days=7)
    assert actions(room) == ["link_extended"]

    entered = guest.enter(path, "Grace", "grace@example.com")
    assert entered.status_code == 303 and entered.headers["Location"] == f"/s/{room.id}"


def test_extend_stops_at_the_end_of_the_room(app, client, signed_in_owner, room):
    """Each Extend used to add its days with no ceiling, until the date overflowed (500)."""
    link = GuestLink.create(room=room, name="Customers",
                            expires_at=utcnow() - timedelta(hours=1))
    url = f"/rooms/{room.id}/denials/links/{link.id}/extend"
    response = client.post(url, data={f"extend-{link.id}-days": "3650"}, headers=HTMX)
    assert response.status_code == 200
    assert "“Customers” now works until the session ends (" in text_of(response)
    assert GuestLink.get_by_id(link.id).expires_at == room.ends_at
    # A link already far out (extended before there was a ceiling) comes back to the room's end.
    GuestLink.update(expires_at=datetime(9999, 12, 1)).where(GuestLink.id == link.id).execute()
    response = client.post(url, data={f"extend-{link.id}-days": "3650"}, headers=HTMX)
    assert response.status_code == 200 and "until the session ends" in text_of(response)
    assert GuestLink.get_by_id(link.id).expires_at == room.ends_at
    assert actions(room) == ["link_extended", "link_extended"]


def test_extend_after_the_session_ended_says_so(app, client, signed_in_owner, room):
    ended = utcnow() - timedelta(minutes=5)
    Room.update(ends_at=ended).where(Room.id == room.id).execute()
    link = GuestLink.create(room=room, name="Customers", expires_at=ended)
    response = client.post(f"/rooms/{room.id}/denials/links/{link.id}/extend",
                           data={f"extend-{link.id}-days": "7"}, headers=HTMX)
    assert response.status_code == 422
    assert "The session has ended: move its end (Edit room) before extending “Customers”." \
        in text_of(response)
    assert GuestLink.get_by_id(link.id).expires_at == ended
    assert actions(room) == []


def text_of_html(html: str) -> str:
    class R:
        def get_data(self, as_text=True):
            return html
    return text_of(R())


def test_guest_access_off_turn_it_on(app, client, guest, signed_in_owner, room):
    Room.update(guest_access_enabled=False).where(Room.id == room.id).execute()
    link = GuestLink.create(room=room, name="Everyone")
    path = link_path(app, link)
    assert guest.get(path).status_code == 403
    row = reason_row(panel(client, room), "guest_access_off")
    assert "Guest access was off" in row and "Turn guest access on" in row

    response = client.post(f"/rooms/{room.id}/denials/guest-access-on")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/insights#denials")
    assert Room.get_by_id(room.id).guest_access_enabled is True
    assert actions(room) == ["guest_access_on"]
    assert "Guest access is on now." in text_of_html(reason_row(panel(client, room),
                                                                 "guest_access_off"))
    assert guest.get(path).status_code == 200
    assert guest.enter(path, "Grace", "grace@example.com").status_code == 303


def test_used_up_link_raise_the_click_limit(app, client, guest, signed_in_owner, room):
    link = GuestLink.create(room=room, name="Press", max_uses=1)
    path = link_path(app, link)
    assert GuestActions(app).enter(path, "Grace", "first@example.com").status_code == 303
    assert guest.get(path).status_code == 410
    row = reason_row(panel(client, room), "link_used_up")
    assert "Raise the click limit" in row and "“Press” used all 1 clicks." in text_of_html(row)

    response = client.post(f"/rooms/{room.id}/denials/links/{link.id}/raise",
                           data={f"raise-{link.id}-clicks": "5"}, headers=HTMX)
    assert response.status_code == 200
    assert "“Press” now allows 6 clicks (5 left)." in text_of(response)
    assert GuestLink.get_by_id(link.id).max_uses == 6
    assert actions(room) == ["link_limit_raised"]
    assert guest.enter(path, "Grace", "grace@example.com").status_code == 303


def test_removed_invitation_invite_again(app, client, guest, owner_browser, room):
    invite(client, room, "ada@example.com", role="speaker")
    inv = invitation(room, "ada@example.com")
    old_path = path_of(app, inv)
    owner_browser.remove_invitation(room, inv)
    assert guest.get(old_path).status_code == 410

    row = reason_row(panel(client, room), "invite_removed")
    assert REASONS["invite_removed"].host_words in row
    assert "ada@example.com was removed from the guest list." in text_of_html(row)
    response = client.post(f"/rooms/{room.id}/denials/invitations/{inv.id}/invite-again",
                           headers=HTMX)
    assert "ada@example.com is invited again as speaker." in text_of(response)
    again = Invitation.get_by_id(inv.id)
    assert again.removed_at is None and again.version == inv.version + 1
    assert again.role == "speaker"
    assert actions(room)[-1] == "invited"
    # The old link stays dead; the new one (copy it from the Guests section) works.
    assert guest.get(old_path).status_code == 410
    new_path = path_of(app, again)
    assert guest.get(new_path).status_code == 200
    assert guest.enter(new_path, "Grace", "ada@example.com").status_code == 303


def test_reset_invitation_offers_the_current_link(app, client, guest, owner_browser, room):
    invite(client, room, "bo@example.com")
    inv = invitation(room, "bo@example.com")
    old_path = path_of(app, inv)
    owner_browser.reset_invitation(room, inv)
    assert guest.get(old_path).status_code == 410
    row = reason_row(panel(client, room), "invite_removed")
    current = app.config["BASE_URL"] + path_of(app, invitation(room, "bo@example.com"))
    assert f'value="{current}"' in row and "Copy guest link" in row
    assert "Invite again" not in row


def test_email_mismatch_shows_the_invited_address_and_resends(app, client, guest,
                                                             signed_in_owner, room):
    invite(client, room, "cy@example.com")
    inv = invitation(room, "cy@example.com")
    response = guest.enter(path_of(app, inv), "Grace", "cy@other.example")
    assert response.status_code == 403
    row = reason_row(panel(client, room), "email_mismatch")
    assert "The email typed differs from the invited one" in row
    assert "Invited address: cy@example.com" in text_of_html(row)
    events = text_of_html(panel(client, room).split("denial-events", 1)[1])
    assert "cy@other.example" in events and "Invitation of cy@example.com" in events

    response = client.post(f"/rooms/{room.id}/denials/invitations/{inv.id}/email",
                           headers=HTMX)
    assert "Emailed the guest link to cy@example.com." in text_of(response)
    assert Invitation.get_by_id(inv.id).email_status == "sent"
    assert actions(room)[-1] == "invitation_emailed"


def test_domain_blocked_offers_the_domain_rules_to_admins_only(app, client, guest,
                                                               signed_in_owner, room):
    DomainRule.create(domain="blocked.example", mode="block")
    link = GuestLink.create(room=room, name="Open")
    assert guest.enter(link_path(app, link), "Grace", "x@blocked.example").status_code == 403
    row = reason_row(panel(client, room), "domain_blocked")
    assert "blocked by a domain rule" in row
    assert "/admin/domains" not in row and "An admin can change" in row

    make_user("admin@example.com", access="admin")
    admin = app.test_client()
    admin.post("/sign-in", data={"email": "admin@example.com", "password": PASSWORD})
    row = reason_row(panel(admin, room), "domain_blocked")
    assert 'href="/admin/domains"' in row and "Open the domain rules" in row


def test_events_in_the_owners_zone_newest_first(app, client, guest, db):
    owner = make_user("berlin@example.com", timezone="Europe/Berlin")
    room = make_room(owner, guest_access_enabled=True)
    client.post("/sign-in", data={"email": owner.email, "password": PASSWORD})
    link = GuestLink.create(room=room, name="Late", expires_at=utcnow() - timedelta(days=1))
    guest.enter(link_path(app, link), "Grace", "late@example.com")
    html = panel(client, room).split("denial-events", 1)[1]
    assert re.search(r"\d\d:\d\d CES?T", html)
    assert "Link “Late”" in html


def test_no_denials_yet(client, signed_in_owner, room):
    assert "Nobody has been turned away from this room." in text_of(
        client.get(f"/rooms/{room.id}/insights"))


# --- updates by itself ------------------------------------------------------------------------

def test_poll_answers_204_until_a_denial_arrives(app, client, guest, signed_in_owner, room):
    html = panel(client, room)
    assert 'hx-trigger="every 10s"' in html
    poll = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert client.get(poll, headers=HTMX).status_code == 204
    link = GuestLink.create(room=room, name="Old", expires_at=utcnow() - timedelta(hours=1))
    guest.get(link_path(app, link))
    response = client.get(poll, headers=HTMX)
    assert response.status_code == 200 and "The link had expired" in text_of(response)
    # Without htmx the same URL is the whole room page.
    assert "<html" in client.get(f"/rooms/{room.id}/denials").get_data(as_text=True)


# --- bad input and permissions ----------------------------------------------------------------

def test_bad_numbers_are_refused_in_words(app, client, signed_in_owner, room):
    link = GuestLink.create(room=room, name="X", expires_at=utcnow() - timedelta(hours=1))
    with app.test_request_context():
        denials.record("link_expired", room=room, link=link)
    url = f"/rooms/{room.id}/denials/links/{link.id}/extend"
    for value in ("abc", "0", "-3", "99999999999999999999", "", "7.5"):
        response = client.post(url, data={f"extend-{link.id}-days": value}, headers=HTMX)
        assert response.status_code == 422, value
        assert "has-error" in response.get_data(as_text=True), value
        response = client.post(url, data={f"extend-{link.id}-days": value})
        assert response.status_code == 422, value
    full = GuestLink.create(room=room, name="Full", max_uses=1, uses=1)
    with app.test_request_context():
        denials.record("link_used_up", room=room, link=full)
    response = client.post(f"/rooms/{room.id}/denials/links/{full.id}/raise",
                           data={f"raise-{full.id}-clicks": "lots"}, headers=HTMX)
    assert response.status_code == 422 and "Enter a whole number" in text_of(response)
    assert GuestLink.get_by_id(link.id).expires_at < utcnow()
    assert actions(room) == []


def fix_urls(room, link, inv):
    base = f"/rooms/{room.id}/denials"
    return [f"{base}/guest-access-on", f"{base}/links/{link.id}/extend",
            f"{base}/links/{link.id}/raise", f"{base}/invitations/{inv.id}/invite-again",
            f"{base}/invitations/{inv.id}/email"]


def test_fixes_are_checked_like_the_screens_they_shortcut(app, client, owner, room):
    link = GuestLink.create(room=room, name="L", max_uses=1, uses=1,
                            expires_at=utcnow() - timedelta(hours=1))
    guest_user = make_user("guest@example.com", access="guest")
    inv = Invitation.create(room=room, user=guest_user, email=guest_user.email,
                            removed_at=utcnow())
    make_user("other@example.com")
    before = GuestLink.get_by_id(link.id)
    cases = {"anonymous": None, "other@example.com": 404, "guest@example.com": 403}
    for who, status in cases.items():
        c = app.test_client()
        if status:
            c.post("/sign-in", data={"email": who, "password": PASSWORD})
        for url in [f"/rooms/{room.id}/denials", *fix_urls(room, link, inv)]:
            response = c.post(url, data={f"extend-{link.id}-days": "7",
                                         f"raise-{link.id}-clicks": "3"}) \
                if url != f"/rooms/{room.id}/denials" else c.get(url)
            if status is None:
                assert response.status_code == 302 and "/sign-in" in response.location, url
            else:
                assert response.status_code == status, (who, url)
    after = GuestLink.get_by_id(link.id)
    assert (after.expires_at, after.max_uses) == (before.expires_at, before.max_uses)
    assert Invitation.get_by_id(inv.id).removed_at is not None
    assert actions(room) == []


def test_a_link_of_another_room_is_404(app, client, signed_in_owner, owner, room):
    other_room = make_room(owner, title="Other")
    link = GuestLink.create(room=other_room, name="Theirs",
                            expires_at=utcnow() - timedelta(hours=1))
    response = client.post(f"/rooms/{room.id}/denials/links/{link.id}/extend",
                           data={f"extend-{link.id}-days": "7"})
    assert response.status_code == 404
    assert client.post(f"/rooms/{room.id}/denials/invitations/999999/email").status_code == 404


# --- the rooms list ---------------------------------------------------------------------------

def test_rooms_list_shows_denials_of_the_last_24_hours(app, client, signed_in_owner, owner, db):
    busy = make_room(owner, title="Busy")
    quiet = make_room(owner, title="Quiet")
    long_ago = make_room(owner, title="Long ago")
    with app.test_request_context():
        for _ in range(3):
            denials.record("link_expired", room=busy)
    DenialCount.create(room_key=long_ago.id, reason="link_expired",
                       day=(utcnow() - timedelta(days=10)).date(), count=50)
    response = client.get("/rooms/")
    html = response.get_data(as_text=True)
    assert "Guests were turned away in the last 24 hours" in text_of(response)
    assert "Busy : 3 denials" in text_of(response)
    assert f'href="/rooms/{busy.id}/insights#denials"' in html
    assert "Quiet :" not in text_of(response) and "Long ago :" not in text_of(response)
    assert 'data-denied="3"' in html
    assert quiet.id and html.count('data-denied="0"') == 2


def test_rooms_list_counts_with_one_grouped_query(app, db, owner):
    rooms = [make_room(owner, title=f"R{i}") for i in range(5)]
    with app.test_request_context():
        for i, r in enumerate(rooms):
            for _ in range(i):
                denials.record("guest_access_off", room=r)
    counts = denials.rooms_denied_since([r.id for r in rooms], denials.window_start(24))
    assert counts == {r.id: i for i, r in enumerate(rooms) if i}


# --- links about to run out -------------------------------------------------------------------

def test_warning_when_a_link_is_about_to_run_out(client, signed_in_owner, room):
    GuestLink.create(room=room, name="Nearly full", max_uses=20, uses=18)
    GuestLink.create(room=room, name="Ending", expires_at=utcnow() + timedelta(hours=3),
                     created_at=utcnow() - timedelta(days=2))
    GuestLink.create(room=room, name="Fine", max_uses=20, uses=5,
                     expires_at=utcnow() + timedelta(days=3))
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert html.count("data-runs-out") == 2
    sections = re.split(r'<li class="guest-link"', html)[1:]
    by_name = {re.search(r"<strong>([^<]+)</strong>", s).group(1): s for s in sections}
    assert "2 of 20 clicks left." in text_of_html(by_name["Nearly full"])
    assert "within 24 hours" in text_of_html(by_name["Ending"])
    assert "Runs out soon" not in by_name["Fine"]
