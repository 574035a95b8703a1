"""The room page in views (issue 33): Live, Access, Insights and Details, each its own URL;
/rooms/<id> opens the one that matters now; only the view shown is rendered and polled; the
nav says which view is shown and counts who waits and who was refused, by itself."""

import re
from datetime import timedelta

import pytest
from helpers import HTMX, count_queries, invited_guest, make_room, text_of

from portal import denials
from portal.models import GuestLink, Participant, Room
from portal.owner.cockpit import opening_view
from portal.timeutil import utcnow

VIEWS = ("live", "access", "insights", "details")


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", guest_access_enabled=True,
                     require_approval=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


def waiting(room, link, n):
    for i in range(n):
        Participant.create(room=room, link=link, name=f"Wendy {i}", email=f"w{i}@example.com",
                           device=f"waiting-{i}", status="waiting")


def current_view(html: str) -> str:
    return re.search(r'<a [^>]*id="view-(\w+)"[^>]*aria-current="page"', html).group(1)


# --- which view opens ---------------------------------------------------------------------------

@pytest.mark.parametrize("starts_in, lasts, view", [
    (timedelta(minutes=-10), timedelta(hours=2), "live"),      # running
    (timedelta(minutes=59), timedelta(hours=1), "live"),       # starts within the hour
    (timedelta(hours=1), timedelta(hours=1), "live"),          # exactly an hour ahead
    (timedelta(hours=1, seconds=1), timedelta(hours=1), "access"),  # later
    (timedelta(days=-1), timedelta(hours=1), "access"),        # ended
    (timedelta(hours=-1), timedelta(hours=1), "access"),       # ends now
])
def test_the_room_opens_on_live_while_it_runs_or_within_the_hour(starts_in, lasts, view):
    now = utcnow()
    room = Room(starts_at=now + starts_in, ends_at=now + starts_in + lasts)
    assert opening_view(room, now) == view


def test_room_url_redirects_to_the_view_that_opens(client, signed_in_owner, owner, db):
    live = make_room(owner, starts_in=timedelta(minutes=30))
    later = make_room(owner, starts_in=timedelta(days=2))
    response = client.get(f"/rooms/{live.id}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/rooms/{live.id}/live"
    assert client.get(f"/rooms/{later.id}").headers["Location"] == f"/rooms/{later.id}/access"


def test_each_view_is_its_own_page_with_only_its_sections(client, signed_in_owner, room, link):
    waiting(room, link, 1)
    sections = {"live": ("Join as host", "Waiting room", "In the room",
                         "Message to waiting guests"),
                "access": ("Guest access", "Create new link", "Invite a guest"),
                "insights": ("Why guests couldn't join", "Audit log"),
                "details": ("Details", "Edit room", "Delete room", "Attachments")}
    room.join_url = "https://meet.example.com/r/1"
    room.save()
    for view in sections:
        response = client.get(f"/rooms/{room.id}/{view}")
        assert response.status_code == 200
        html, page = response.get_data(as_text=True), text_of(response)
        assert current_view(html) == view
        assert html.count('aria-current="page"') == 1
        for other, their_words in sections.items():
            for word in their_words:
                if other == view:
                    assert word in page, (view, word)
                elif word not in sections[view] and word not in ("Details",):
                    assert word not in page, (view, word)


def test_only_the_live_view_polls_and_queries_the_waiting_room(client, signed_in_owner, room,
                                                               link):
    waiting(room, link, 3)
    for view in ("access", "insights", "details"):
        with count_queries() as statements:
            html = client.get(f"/rooms/{room.id}/{view}").get_data(as_text=True)
        assert f"/rooms/{room.id}/waiting" not in html and f"/rooms/{room.id}/inside" not in html
        people = [s for s in statements if '"participant"' in s]
        if view == "insights":
            # Attendance lists who came (a waiting guest came): its own bounded reads, the
            # first people only (LIMIT), never the waiting room's list.
            assert "Wendy 0" in html and 'id="waiting-room"' not in html
            assert any("LIMIT" in s.upper() for s in people), people
            continue
        assert "Wendy 0" not in html
        # Nobody's row is read: the nav counts who waits, and that is all.
        assert len(people) == 1 and "COUNT(" in people[0].upper(), people
    html = client.get(f"/rooms/{room.id}/live").get_data(as_text=True)
    assert f'hx-get="/rooms/{room.id}/waiting?seen=' in html
    assert f'hx-get="/rooms/{room.id}/inside?seen=' in html
    assert "Wendy 0" in html


def test_the_nav_counts_who_waits_and_who_was_refused(app, client, signed_in_owner, room,
                                                     link):
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert "waiting</span>" not in html and "refused" not in html
    waiting(room, link, 3)
    with app.app_context():
        denials.record("link_expired", room=room, link=link, email="late@example.com")
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "Live · 3 waiting" in page and "Insights · 1 refused (24 h)" in page
    assert page.startswith("(3 waiting) Round-table — Guestgate")


def test_the_nav_updates_itself_and_says_a_change_once(client, signed_in_owner, room, link):
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    poll = re.search(r'id="room-views"[^>]*hx-get="([^"]+)"', html, re.S).group(1)
    poll = poll.replace("&amp;", "&")
    assert client.get(poll, headers=HTMX).status_code == 204  # nothing changed

    waiting(room, link, 2)
    changed = client.get(poll, headers=HTMX)
    assert changed.status_code == 200
    text = text_of(changed)
    assert "Live · 2 waiting" in text and "<html" not in changed.get_data(as_text=True)
    assert 'hx-swap-oob="innerHTML:#live-announcer">Live: 2 waiting.<' in \
        changed.get_data(as_text=True)
    # The nav it answered polls with the new counts: quiet again until the next change.
    again = re.search(r'hx-get="([^"]+)"', changed.get_data(as_text=True)).group(1)
    assert client.get(again.replace("&amp;", "&"), headers=HTMX).status_code == 204


def test_on_live_the_nav_leaves_the_waiting_count_to_the_waiting_room(client, signed_in_owner,
                                                                      room, link):
    html = client.get(f"/rooms/{room.id}/live").get_data(as_text=True)
    poll = re.search(r'id="room-views"[^>]*hx-get="([^"]+)"', html, re.S).group(1)
    waiting(room, link, 1)
    changed = client.get(poll.replace("&amp;", "&"), headers=HTMX)
    assert "Live · 1 waiting" in text_of(changed)
    assert "live-announcer" not in changed.get_data(as_text=True)


def test_a_view_asked_by_htmx_is_the_view_alone_and_a_plain_load_the_page(client,
                                                                         signed_in_owner, room):
    fragment = client.get(f"/rooms/{room.id}/details", headers=HTMX)
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="room-view"')
    assert "<title>Round-table — Guestgate</title>" in html
    assert "HX-Request" in fragment.headers["Vary"]
    page = client.get(f"/rooms/{room.id}/details")
    assert "<html" in page.get_data(as_text=True) and "HX-Request" in page.headers["Vary"]
    nav = client.get(f"/rooms/{room.id}/views?view=details")
    assert nav.status_code == 303 and nav.headers["Location"] == f"/rooms/{room.id}/details"


def test_forms_land_on_the_view_their_section_is_in(client, signed_in_owner, room, link):
    waiting(room, link, 1)
    guest = Participant.get(Participant.room == room)
    lands = {
        f"/rooms/{room.id}/waiting/{guest.id}/admit": "/live#waiting-room",
        f"/rooms/{room.id}/inside/{guest.id}/move": "/live#in-the-room",
        f"/rooms/{room.id}/message": "/live#host-message",
        f"/rooms/{room.id}/guest-access": "/access#guest-access",
        f"/rooms/{room.id}/links/{link.id}/delete": "/access#guest-access",
        f"/rooms/{room.id}/invitations/email-all": "/access#invitations",
        f"/rooms/{room.id}/denials/guest-access-on": "/insights#denials",
    }
    for url, where in lands.items():
        response = client.post(url, data={"enabled": "on", "message": "Soon"})
        assert response.status_code == 303, url
        assert response.headers["Location"] == f"/rooms/{room.id}{where}", url
    assert "Room saved." in text_of(client.get(client.post(
        f"/rooms/{room.id}/edit", data={
            "title": "Round-table", "starts_at": "2031-01-01T10:00",
            "ends_at": "2031-01-01T11:00", "timezone": "UTC", "kind": "regular",
            "platform": "other", "require_approval": "y"}).headers["Location"]))


def test_another_owner_sees_no_view_of_the_room(app, room):
    from helpers import OwnerActions, make_user
    make_user("other@example.com")
    other = OwnerActions(app.test_client())
    other.sign_in("other@example.com")
    for view in VIEWS:
        assert other.client.get(f"/rooms/{room.id}/{view}").status_code == 404
    assert other.client.get(f"/rooms/{room.id}/views").status_code == 404
    assert other.client.get(f"/rooms/{room.id}/elsewhere").status_code == 404


def test_invited_moderators_see_live_only(app, room, link):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
    waiting(room, link, 1)
    page = moderator.place(room)
    html = page.get_data(as_text=True)
    assert 'id="waiting-room"' in html and 'id="in-the-room"' in html
    assert "Wendy 0" in text_of(page)
    for elsewhere in ('id="room-views"', 'id="guest-access"', 'id="invitations"',
                      'id="denials"', 'id="attachments"'):
        assert elsewhere not in html
    for view in VIEWS:  # the owner's views are the owner's
        assert moderator.get(f"/rooms/{room.id}/{view}").status_code in (302, 403)


def test_registration_is_a_section_of_access_and_attendance_of_insights(
        app, client, signed_in_owner, room):
    access = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "Off: people can't register for this room." in access
    assert "Save registration options" in access and "Import guests from a CSV file" in access
    with app.test_request_context():
        from portal.services import registration
        registration.save_settings(room, enabled=True, mode="approval", capacity=5,
                                   opens_at=None, closes_at=None)
    access = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "On: a host approves each registration. 0 of 5 places taken; 0 on the waitlist." \
        in access
    assert "Nobody has registered yet." in access
    insights = client.get(f"/rooms/{room.id}/insights").get_data(as_text=True)
    assert 'id="attendance"' in insights
    assert f'href="/rooms/{room.id}/attendance/export.csv"' in insights
    # The old screens' addresses lead to the sections (CSV addresses stay as they are).
    for old, where in (("attendance", "/insights#attendance"),
                       ("registration", "/access#registration"),
                       ("invitations/import", "/access#invitation-import")):
        response = client.get(f"/rooms/{room.id}/{old}")
        assert response.status_code == 302, old
        assert response.headers["Location"] == f"/rooms/{room.id}{where}"
