"""A guest's path through a shared guest link, over HTTP: the lobby never consumes on GET, a
submission consumes exactly one use, and every way a link stops working says why."""

from datetime import timedelta

import helpers
import pytest
from helpers import GuestActions, make_room, text_of

from portal import tokens
from portal.models import DenialEvent, GuestLink, Participant
from portal.timeutil import utcnow


@pytest.fixture
def room(db, owner):
    return make_room(owner, guest_access_enabled=True)


@pytest.fixture
def link_path(app):
    return lambda link: helpers.link_path(app, link)


def test_get_never_consumes_then_a_submission_enters(app, room, link_path):
    link = GuestLink.create(room=room, name="Guests", max_uses=3)
    guest = GuestActions(app)
    for _ in range(5):
        response = guest.get(link_path(link))
        assert response.status_code == 200
        assert "Launch" in text_of(response)
    assert GuestLink.get_by_id(link.id).uses == 0
    assert Participant.select().count() == 0

    response = guest.enter(link_path(link), "Ada")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/s/{room.id}")
    assert GuestLink.get_by_id(link.id).uses == 1
    participant = Participant.get()
    assert (participant.name, participant.email, participant.status, participant.link_id) == (
        "Ada", "ada@example.com", "admitted", link.id)
    assert "You're in" in text_of(guest.get(f"/s/{room.id}"))
    # the same browser coming back through the link doesn't spend another click
    assert guest.get(link_path(link)).status_code == 303
    assert GuestLink.get_by_id(link.id).uses == 1


def test_two_clicks_then_the_third_guest_is_turned_away(app, room, link_path):
    link = GuestLink.create(room=room, name="Two", max_uses=2)
    for n in range(2):
        response = GuestActions(app).enter(link_path(link), f"Guest {n}", f"g{n}@example.com")
        assert response.status_code == 303
    response = GuestActions(app).enter(link_path(link), "Third", "third@example.com")
    assert response.status_code == 410
    assert "This link has already been used" in text_of(response)
    assert GuestLink.get_by_id(link.id).uses == 2
    assert Participant.select().count() == 2
    assert DenialEvent.get().reason == "link_used_up"


def test_expired_link(app, room, link_path):
    link = GuestLink.create(room=room, name="Old", expires_at=utcnow() - timedelta(seconds=1))
    assert app.test_client().get(link_path(link)).status_code == 410
    response = GuestActions(app).enter(link_path(link), "Ada")
    assert response.status_code == 410
    assert "This link has expired" in text_of(response)
    assert GuestLink.get_by_id(link.id).uses == 0


def test_deleted_link(client, app, signed_in_owner, room, link_path):
    link = GuestLink.create(room=room, name="Gone")
    client.post(f"/rooms/{room.id}/links/{link.id}/delete")
    for response in (GuestActions(app).open(link_path(link)),
                     GuestActions(app).enter(link_path(link), "Ada")):
        assert response.status_code == 410
        assert "This link is no longer available" in text_of(response)
    assert Participant.select().count() == 0


def test_guest_access_off_refuses_new_guests_and_seated_guests_on_refresh(
        client, app, signed_in_owner, room, link_path):
    link = GuestLink.create(room=room, name="Guests")
    seated = GuestActions(app)
    seated.enter(link_path(link), "Ada")
    assert seated.get(f"/s/{room.id}").status_code == 200

    client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "off"})
    response = GuestActions(app).enter(link_path(link), "Late", "late@example.com")
    assert response.status_code == 403
    assert "The host has turned off guest access" in text_of(response)
    # The seated guest's page polls, and is left where it is (Kaltura: guests already in the
    # room stay until they refresh) ...
    status = seated.get(f"/s/{room.id}/status?state=enter")
    assert status.status_code == 204 and "HX-Refresh" not in status.headers
    # ... until their next page load, which decides again.
    response = seated.get(f"/s/{room.id}")
    assert response.status_code == 403
    assert "The host has turned off guest access" in text_of(response)
    assert GuestLink.get_by_id(link.id).uses == 1

    client.post(f"/rooms/{room.id}/guest-access", data={"enabled": "on"})
    assert seated.get(f"/s/{room.id}").status_code == 200


def test_channel_room_link_is_refused(app, owner, db, link_path):
    channel = make_room(owner, kind="channel", guest_access_enabled=True)
    link = GuestLink.create(room=channel, name="Should not exist")
    response = GuestActions(app).enter(link_path(link), "Ada")
    assert response.status_code == 403
    assert "Guest access isn't available for this room" in text_of(response)
    assert GuestLink.get_by_id(link.id).uses == 0


def test_deleted_room(client, app, signed_in_owner, room, link_path):
    link = GuestLink.create(room=room, name="Guests")
    client.post(f"/rooms/{room.id}/delete")
    response = app.test_client().get(link_path(link))
    assert response.status_code == 410
    assert "This room is no longer available" in text_of(response)
    assert "Launch" not in text_of(response)


def test_garbled_and_forged_tokens(app, room, link_path):
    link = GuestLink.create(room=room, name="Guests")
    good = link_path(link)
    forged = tokens.make_token(["another key"], tokens.LINK, link.id, link.version)
    for path in (good[:-3] + "xyz", f"/g/{forged}", "/g/nonsense"):
        response = app.test_client().get(path)
        assert response.status_code == 404
        assert "This link isn't valid" in text_of(response)


def test_lobby_validation_consumes_nothing(app, room, link_path):
    link = GuestLink.create(room=room, name="Guests", max_uses=1)
    response = GuestActions(app).enter(link_path(link), "", "not an email")
    assert response.status_code == 422
    assert GuestLink.get_by_id(link.id).uses == 0
    assert Participant.select().count() == 0


def test_lobby_refuses_names_that_reverse_text(app, room, link_path):
    """U+202E and the other direction controls would show "Ada" as someone else on the host's
    screen: refused in the guest's language, nothing consumed."""
    link = GuestLink.create(room=room, name="Guests", max_uses=1)
    response = GuestActions(app).enter(link_path(link), "\u202eadA")
    assert response.status_code == 422
    assert "Remove the invisible characters that change the direction of the text." \
        in text_of(response)
    german = app.test_client().post(link_path(link), data={"name": "Ada\u200f",
                                                           "email": "ada@example.com"},
                                    headers={"Accept-Language": "de"})
    assert german.status_code == 422
    assert "Entfernen Sie die unsichtbaren Zeichen, die die Schreibrichtung des Textes " \
        "ändern." in text_of(german)
    assert GuestLink.get_by_id(link.id).uses == 0
    assert Participant.select().count() == 0


def test_a_browser_inside_that_submits_again_goes_back_in(app, room, link_path):
    """A submission from a browser already inside through this link (the back button, a second
    tab) goes back in — even when the link has no use left, the form is empty, or the guest
    typed another address — and spends nothing."""
    link = GuestLink.create(room=room, name="Last seat", max_uses=1)
    guest = GuestActions(app)
    response = guest.enter(link_path(link), "Ada")
    assert response.status_code == 303
    for data in ({"name": "Ada", "email": "ada@example.com"}, {},
                 {"name": "Ada", "email": "other@example.com"}):
        again = guest.post(link_path(link), data=data)
        assert again.status_code == 303, data
        assert again.headers["Location"].endswith(f"/s/{room.id}")
    assert GuestLink.get_by_id(link.id).uses == 1
    assert Participant.select().count() == 1 and DenialEvent.select().count() == 0


def test_a_browsers_submission_looks_its_presence_up_once(app, room, link_path):
    """A real browser opens the lobby before submitting (so it has a device id): its entry is
    the door, the domain rules, the claim, the host's refusals, its presence — looked up once,
    after the claim — the new participant, and whether a webhook endpoint wants to hear of it
    (one query on the endpoints' status index; nothing more while there is none)."""
    from helpers import count_queries

    link = GuestLink.create(room=room, name="Guests")
    guest = app.test_client()
    guest.get(link_path(link))
    with count_queries() as statements:
        response = guest.post(link_path(link), data={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 303
    assert len(statements) == 7, "\n".join(map(str, statements))
    assert sum('FROM "webhook_endpoint"' in str(s) for s in statements) == 1
    presence_lookups = [s for s in statements if 'FROM "participant"' in str(s)
                        and '"t1"."device"' in str(s) and "rejected" not in str(s)]
    assert len(presence_lookups) == 1, presence_lookups
