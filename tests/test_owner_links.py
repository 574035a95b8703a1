"""The owner's guest access: the Enable guest access toggle, Create new link (at most three),
the links list with Copy link and Delete, who may do it, the audit trail, and seed-demo."""

import json
import re
from datetime import datetime, timedelta

import pytest
from helpers import HTMX, PASSWORD, OwnerActions, make_room, make_user, text_of

from portal import tokens
from portal.models import AuditEvent, GuestLink, Room
from portal.timeutil import utcnow


def new_link(client, room, headers=None, **fields):
    data = {"link-name": fields.pop("name", "Guest speakers")}
    data.update({f"link-{k}": v for k, v in fields.items()})
    return client.post(f"/rooms/{room.id}/links", data=data, headers=headers or {})


def actions(room):
    return [e.action for e in AuditEvent.select().where(AuditEvent.room == room)
            .order_by(AuditEvent.id)]


@pytest.fixture
def room(db, owner):
    return make_room(owner, guest_access_enabled=False)


def test_room_page_shows_guest_access_with_kaltura_words(client, signed_in_owner, room):
    response = client.get(f"/rooms/{room.id}/access")
    page = text_of(response)
    assert response.status_code == 200
    assert "Enable guest access" in page and "Create new link" in page
    assert 'role="switch"' in response.get_data(as_text=True)
    assert 'aria-checked="false"' in response.get_data(as_text=True)


def test_toggle_guest_access_plain_form_and_htmx(client, signed_in_owner, room):
    response = client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "on"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/access#guest-access")
    assert Room.get_by_id(room.id).guest_access_enabled is True
    assert "Guest access is on" in text_of(client.get(f"/rooms/{room.id}/access"))

    response = client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "off"},
                           headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="guest-access"')
    assert "<html" not in html
    assert 'aria-checked="false"' in html
    assert "Guest access is off" in text_of(response)
    assert Room.get_by_id(room.id).guest_access_enabled is False
    assert actions(room) == ["guest_access_on", "guest_access_off"]


def test_toggle_rejects_nonsense(client, signed_in_owner, room):
    response = client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "maybe"})
    assert response.status_code == 422
    assert "Choose whether guest access is on or off." in text_of(response)
    assert Room.get_by_id(room.id).guest_access_enabled is False


def test_channel_room_refuses_guest_access_and_links(client, signed_in_owner, owner, db):
    channel = make_room(owner, kind="channel", guest_access_enabled=False, title="Channel")
    page = client.get(f"/rooms/{channel.id}/access")
    assert "Guest access isn't supported for channel rooms" in text_of(page)
    assert 'role="switch"' not in page.get_data(as_text=True)

    response = client.post(f"/rooms/{channel.id}/guest-access", data={"enabled": "on"})
    assert response.status_code == 403
    assert "Guest access isn't supported for channel rooms." in text_of(response)
    response = client.post(f"/rooms/{channel.id}/guest-access", data={"enabled": "on"},
                           headers=HTMX)
    # htmx swaps 422 (base.html's htmx-config), not 403: the refusal is in the fragment
    assert response.status_code == 422
    assert "Guest access isn't supported for channel rooms." in text_of(response)
    assert Room.get_by_id(channel.id).guest_access_enabled is False
    assert client.post(f"/rooms/{channel.id}/guest-access",
                       data={"enabled": "off"}).status_code == 403

    assert new_link(client, channel).status_code == 403
    assert GuestLink.select().count() == 0
    assert actions(channel) == []


def test_channel_room_sections_agree_that_guests_cant_come_in(client, signed_in_owner, owner,
                                                              db):
    channel = make_room(owner, kind="channel", guest_access_enabled=False, title="Channel")
    page = text_of(client.get(f"/rooms/{channel.id}/access"))
    assert "Invite people with an account instead" not in page
    assert "guests can't enter with links or invitations here" in page
    assert "guests can't be invited here" in page


def test_runs_out_soon_only_in_a_links_last_quarter_or_hour(client, signed_in_owner, room):
    Room.update(guest_access_enabled=True).where(Room.id == room.id).execute()  # links active
    assert new_link(client, room, name="Day", duration_days="1").status_code == 303
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert "Runs out soon" not in html and "data-runs-out" not in html

    now = utcnow()
    GuestLink.update(created_at=now - timedelta(hours=19), expires_at=now + timedelta(hours=5)
                     ).where(GuestLink.name == "Day").execute()
    GuestLink.create(room=room, name="Short", created_at=now, expires_at=now + timedelta(hours=2))
    GuestLink.create(room=room, name="Last hour", created_at=now - timedelta(minutes=10),
                     expires_at=now + timedelta(minutes=50))
    GuestLink.create(room=room, name="Month", created_at=now - timedelta(days=20),
                     expires_at=now + timedelta(days=2))
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    sections = re.split(r'<li class="guest-link"', html)[1:]
    flagged = {re.search(r"<strong>([^<]+)</strong>", s).group(1): "Runs out soon" in s
               for s in sections}
    assert flagged == {"Day": True, "Short": False, "Last hour": True, "Month": False}


def test_create_link_answers_in_place_with_a_copyable_url(client, app, db):
    tokyo = make_user("tokyo@example.com", timezone="Asia/Tokyo")
    room = make_room(tokyo, guest_access_enabled=True)
    OwnerActions(client).sign_in("tokyo@example.com")
    response = new_link(client, room, headers=HTMX, max_uses="5", duration_days="7",
                        name="Guest speakers")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="guest-access"')
    link = GuestLink.get()
    assert (link.name, link.max_uses, link.uses) == ("Guest speakers", 5, 0)
    assert link.expires_at - utcnow() > timedelta(days=6, hours=23)
    assert link.created_by.email == "tokyo@example.com"

    page = text_of(response)
    assert "Link “Guest speakers” created." in page
    assert "0 so far, 5 left of 5" in page and "Active" in page
    local = (link.expires_at + timedelta(hours=9)).strftime("%a %d %b %Y, %H:%M")
    assert f"{local} JST" in page  # the owner's own time zone

    url = re.search(rf'id="link-url-{link.id}" value="([^"]+)"', html).group(1)
    assert url.startswith("http://guestgate.test/g/")
    token = url.rsplit("/", 1)[1]
    assert tokens.read_token(app.config["SECRET_KEYS"], tokens.LINK, token) == (link.id, 1)
    assert f'data-copy-target="link-url-{link.id}"' in html
    assert "Copy link" in page
    assert actions(room) == ["link_created"]
    # the link is shown again (Copy link works any time), the same every time
    assert url in client.get(f"/rooms/{room.id}/access").get_data(as_text=True)


def test_link_url_comes_from_base_url_never_from_host(client, owner, room):
    evil = "http://evil.example"
    client.post("/sign-in", data={"email": owner.email, "password": PASSWORD}, base_url=evil)
    client.post(f"/rooms/{room.id}/links", data={"link-name": "Guests"}, base_url=evil)
    GuestLink.get()
    html = client.get(f"/rooms/{room.id}/access", base_url=evil).get_data(as_text=True)
    assert "evil.example/g/" not in html
    assert "http://guestgate.test/g/" in html


def test_plain_form_creates_link_and_redirects(client, signed_in_owner, room):
    response = new_link(client, room, name="Presse — invités")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/access#guest-access")
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    assert "Link “Presse — invités” created." in page
    assert "0 so far, no limit" in page and "Never" in page


@pytest.mark.parametrize("fields, error", [
    ({"name": ""}, "Enter a name for the link."),
    ({"name": "   "}, "Enter a name for the link."),
    ({"name": "x" * 101}, "Use at most 100 characters."),
    ({"name": "two\nlines"}, "Remove the control characters"),
    ({"max_uses": "0"}, "Enter a whole number from 1 to"),
    ({"max_uses": "-3"}, "Enter a whole number from 1 to"),
    ({"max_uses": "abc"}, "Enter a whole number, such as 10."),
    ({"max_uses": "1.5"}, "Enter a whole number, such as 10."),
    ({"max_uses": "99999999999999999999"}, "Enter a whole number from 1 to"),
    ({"duration_days": "0"}, "Enter a whole number of days from 1 to"),
    ({"duration_days": "ten"}, "Enter a whole number, such as 10."),
    ({"duration_days": "100000"}, "Enter a whole number of days from 1 to"),
])
def test_bad_link_input_is_explained_and_nothing_is_written(client, signed_in_owner, room,
                                                            fields, error):
    fields = {"name": "Guests", **fields}
    response = new_link(client, room, **fields)
    assert response.status_code == 422
    assert error in text_of(response)
    assert "The link wasn't created" in text_of(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)

    response = new_link(client, room, headers=HTMX, **fields)
    assert response.status_code == 422
    assert error in text_of(response)
    assert GuestLink.select().count() == 0
    assert actions(room) == []


def test_at_most_three_links_then_the_button_is_disabled_and_the_server_refuses(
        client, signed_in_owner, room):
    for n in range(3):
        assert new_link(client, room, name=f"Link {n}").status_code == 303
    response = client.get(f"/rooms/{room.id}/access")
    html = response.get_data(as_text=True)
    assert re.search(r"<fieldset\s+disabled", html)
    assert "This room has 3 guest links, the most it can have." in text_of(response)

    response = new_link(client, room, name="Fourth")
    assert response.status_code == 422
    assert "A room can have at most 3 guest links" in text_of(response)
    response = new_link(client, room, name="Fourth", headers=HTMX)
    assert response.status_code == 422
    assert "A room can have at most 3 guest links" in text_of(response)
    assert room.live_links().count() == 3
    assert actions(room).count("link_created") == 3

    # a deleted link no longer counts
    first = room.live_links().first()
    assert client.post(f"/rooms/{room.id}/links/{first.id}/delete").status_code == 303
    assert new_link(client, room, name="Fourth").status_code == 303
    assert room.live_links().count() == 3


def test_link_limit_is_a_setting(client, app, signed_in_owner, room):
    app.config["MAX_LINKS_PER_ROOM"] = 1
    assert new_link(client, room).status_code == 303
    assert new_link(client, room).status_code == 422
    assert GuestLink.select().count() == 1


def test_delete_link_is_gone_at_once_for_owner_and_guest(client, app, signed_in_owner, room):
    new_link(client, room, name="Old link")
    link = GuestLink.get()
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert f'hx-post="/rooms/{room.id}/links/{link.id}/delete"' in html
    assert "hx-confirm=\"Delete the link “Old link”?" in html
    url = re.search(rf'id="link-url-{link.id}" value="http://guestgate.test([^"]+)"',
                    html).group(1)

    response = client.post(f"/rooms/{room.id}/links/{link.id}/delete", headers=HTMX)
    assert response.status_code == 200
    assert "Link “Old link” deleted." in text_of(response)
    assert f'id="guest-link-{link.id}"' not in response.get_data(as_text=True)
    assert GuestLink.get_by_id(link.id).deleted_at is not None
    assert actions(room) == ["link_created", "link_deleted"]

    guest = app.test_client()
    response = guest.get(url)
    assert response.status_code == 410
    assert "This link is no longer available" in text_of(response)
    # can't be deleted twice, nor restored
    assert client.post(f"/rooms/{room.id}/links/{link.id}/delete").status_code == 404


def test_link_states_are_what_guests_would_meet(client, signed_in_owner, room):
    Room.update(guest_access_enabled=True).where(Room.id == room.id).execute()
    now = utcnow()
    GuestLink.create(room=room, name="Fresh", max_uses=3, uses=1)
    GuestLink.create(room=room, name="Old", expires_at=now - timedelta(minutes=1))
    GuestLink.create(room=room, name="Full", max_uses=2, uses=2)
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    states = dict(re.findall(r'data-state="(\w+)">\s*<div class="guest-link-head">\s*'
                             r"<strong>([^<]+)</strong>", html))
    assert states == {"active": "Fresh", "expired": "Old", "used_up": "Full"}
    assert "1 so far, 2 left of 3" in text_of(client.get(f"/rooms/{room.id}/access"))

    client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "off"})
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    assert page.count("Inactive: guest access is off") == 3


def test_links_of_another_room_are_not_found(client, signed_in_owner, owner, room, db):
    other = make_room(owner, title="Other", guest_access_enabled=True)
    link = GuestLink.create(room=other, name="Theirs")
    assert client.post(f"/rooms/{room.id}/links/{link.id}/delete").status_code == 404
    assert GuestLink.get_by_id(link.id).deleted_at is None


def test_deleted_room_has_no_controls(client, signed_in_owner, room):
    Room.update(deleted_at=utcnow()).where(Room.id == room.id).execute()
    assert client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "on"}).status_code \
        == 404
    assert new_link(client, room).status_code == 404


# --- who may ----------------------------------------------------------------------------------

def _owner_requests(room, link):
    return [
        ("get", f"/rooms/{room.id}/access", {}),
        ("post", f"/rooms/{room.id}/guest-access", {"enabled": "off"}),
        ("post", f"/rooms/{room.id}/links", {"link-name": "Mine now"}),
        ("post", f"/rooms/{room.id}/links/{link.id}/delete", {}),
    ]


def _unchanged(room, link):
    assert Room.get_by_id(room.id).guest_access_enabled is True
    assert GuestLink.select().count() == 1
    assert GuestLink.get_by_id(link.id).deleted_at is None


@pytest.fixture
def shared(db, owner):
    room = make_room(owner, guest_access_enabled=True)
    return room, GuestLink.create(room=room, name="Guests")


def test_another_broadcaster_gets_404(client, shared):
    room, link = shared
    make_user("other@example.com")
    OwnerActions(client).sign_in("other@example.com")
    for method, url, data in _owner_requests(room, link):
        assert getattr(client, method)(url, data=data).status_code == 404, url
    _unchanged(room, link)


def test_a_guest_account_gets_403(client, shared):
    room, link = shared
    make_user("guest@example.com", access="guest")
    OwnerActions(client).sign_in("guest@example.com")
    for method, url, data in _owner_requests(room, link):
        assert getattr(client, method)(url, data=data).status_code == 403, url
    _unchanged(room, link)


def test_anonymous_is_sent_to_sign_in(client, shared):
    room, link = shared
    for method, url, data in _owner_requests(room, link):
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 302, url
        assert "/sign-in" in response.headers["Location"]
    _unchanged(room, link)


def test_an_admin_manages_any_room(client, shared):
    room, link = shared
    make_user("admin@example.com", access="admin")
    OwnerActions(client).sign_in("admin@example.com")
    assert new_link(client, room, name="From admin").status_code == 303
    assert client.post(f"/rooms/{room.id}/links/{link.id}/delete").status_code == 303
    assert client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "off"}).status_code \
        == 303
    event = AuditEvent.select().where(AuditEvent.action == "guest_access_off").get()
    assert event.actor_email == "admin@example.com"


# --- seed-demo --------------------------------------------------------------------------------

def test_seed_demo_turns_guest_access_on_with_one_link_a_room(runner, app, db):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    by_kind = {}
    for room in out["rooms"]:
        by_kind.setdefault(room["kind"], []).append(room)
    assert [r["guest_links"] for r in by_kind["channel"]] == [[]]
    client = app.test_client()
    for room in by_kind["regular"]:
        assert Room.get_by_id(room["id"]).guest_access_enabled is True
        (link,) = room["guest_links"]
        assert link["name"] and link["max_uses"] == 100
        datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
        assert link["url"].startswith(app.config["BASE_URL"] + "/g/")
        response = client.get(link["url"].removeprefix(app.config["BASE_URL"]))
        assert response.status_code == 200
        assert room["title"] in text_of(response)
    channel = Room.get_by_id(by_kind["channel"][0]["id"])
    assert channel.guest_access_enabled is False and channel.live_links().count() == 0

    plain = runner.invoke(args=["seed-demo"])
    assert "guest link “Guests”: http" in plain.output


@pytest.mark.parametrize("field", ["link-max_uses", "link-duration_days"])
def test_a_number_too_large_for_any_limit_is_refused_in_words(client, signed_in_owner, field):
    """Found by the fuzz test: 500 digits overflowed the range check into a 500."""
    room = make_room(signed_in_owner, guest_access_enabled=True)
    data = {"link-name": "Big", "link-max_uses": "", "link-duration_days": "", field: "1" * 500}
    response = client.post(f"/rooms/{room.id}/links", data=data)
    assert response.status_code == 422 and "That number is too large." in text_of(response)
    assert GuestLink.select().count() == 0
