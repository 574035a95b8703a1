"""In the room: the owner's list of who is inside, Remove, Move to waiting room, the role, and
Allow again for those turned away — as the owner, as an invited moderator, and as the guest
on the other end notices it."""

import re
from datetime import timedelta

import pytest
from helpers import (
    HTMX,
    GuestActions,
    OwnerActions,
    invitation_path,
    invited_guest,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal import timeutil
from portal.guest import QUEUE_COUNTED, queue_place
from portal.models import AuditEvent, GuestLink, Invitation, Participant


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


def test_owner_sees_who_is_inside_with_role_door_and_time(
        app, client, owner_browser, room, arrive):
    ada = arrive()
    speaker = invited_guest(app, room, "sam@example.com", "speaker")
    page = client.get(f"/rooms/{room.id}/live")
    section = text_of(page).split("In the room", 1)[1]
    assert "Ada" in section and "ada@example.com" in section
    assert "Guest link “Customers”" in section and "Viewer" in section
    assert "sam@example.com" in section and "Invitation" in section and "Speaker" in section
    assert "2 inside" in section
    html = page.get_data(as_text=True)
    assert re.search(r'<time datetime="[^"]+Z">\d\d:\d\d UTC</time>', html)
    for control in (f'id="remove-{ada.participant.id}"', f'id="move-{ada.participant.id}"',
                    f'id="role-{speaker.participant.id}"'):
        assert control in html

    # The section polls; unchanged, the poll answers 204.
    fragment = client.get(f"/rooms/{room.id}/inside", headers=HTMX)
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="card" id="in-the-room"')
    seen = re.search(r"seen=(\w+)", body).group(1)
    assert client.get(f"/rooms/{room.id}/inside?seen={seen}", headers=HTMX).status_code == 204
    ada.leave(room)  # someone leaves: the poll brings the new list
    after = client.get(f"/rooms/{room.id}/inside?seen={seen}", headers=HTMX)
    assert after.status_code == 200 and "ada@example.com" not in text_of(after)
    # Without htmx, the same URL is the whole room page.
    assert "<html" in client.get(f"/rooms/{room.id}/inside").get_data(as_text=True)


def test_remove_turns_the_guest_away_in_words_until_allowed_again(
        app, owner_browser, room, link, arrive):
    ada = arrive()
    me = ada.participant
    assert ada.get(f"/s/{room.id}/status?state=enter").status_code == 204

    response = owner_browser.remove(room, me, htmx=True)
    assert response.status_code == 200
    assert "Ada was removed from the session." in text_of(response)
    assert "Turned away" in text_of(response) and f'id="allow-{me.id}"' in \
        response.get_data(as_text=True)
    row = Participant.get_by_id(me.id)
    assert row.status == "rejected" and row.removed_at is not None

    # The room page's poll reloads it, and the page says so in words.
    assert ada.get(f"/s/{room.id}/status?state=enter").headers["HX-Refresh"] == "true"
    page = ada.place(room)
    assert page.status_code == 403 and "You were removed from this session" in text_of(page)
    # The same link on the same device doesn't let them back, nor Leave and enter again.
    assert "You were removed from this session" in text_of(ada.open(link_path(app, link)))
    ada.leave(room)
    again = ada.enter(link_path(app, link), "Ada", "ada@example.com")
    assert again.status_code == 403 and "You were removed" in text_of(again)
    assert GuestLink.get_by_id(link.id).uses == 1  # a refusal spends no use
    # The host reads why in the denial panel, with the fix at hand.
    insights = owner_browser.client.get(f"/rooms/{room.id}/insights")
    panel = text_of(insights).split("couldn't join")[1]
    assert "A host removed the guest from the room" in panel
    assert "Allow again, under In the room" in panel

    allowed = owner_browser.allow_again(room, me)
    assert allowed.status_code == 303
    assert "Ada can enter again." in text_of(owner_browser.client.get(allowed.location))
    assert ada.enter(link_path(app, link), "Ada", "ada@example.com").status_code == 303
    assert "You're in" in text_of(ada.place(room))
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.room == room)
               .order_by(AuditEvent.id)]
    assert actions[-2:] == ["guest_removed", "guest_allowed_again"]
    log = text_of(owner_browser.client.get(f"/rooms/{room.id}/audit"))
    assert "Removed a guest from the room" in log and "Allowed a turned-away guest again" in log


def test_a_removed_invited_guest_cant_reenter_by_the_invitation_on_that_device(
        app, owner_browser, room):
    sam = invited_guest(app, room, "sam@example.com", "speaker")
    owner_browser.remove(room, sam.participant)
    path = invitation_path(app, sam.invitation)
    assert "You were removed from this session" in text_of(sam.open(path))
    assert "You were removed from this session" in text_of(sam.place(room))
    owner_browser.allow_again(room, sam.participant)
    sam.open(path)
    assert sam.enter(path, "Sam", "sam@example.com").status_code == 303
    assert "Your role: Speaker" in text_of(sam.place(room))


def test_a_denied_guest_is_allowed_again_and_waits_again(app, owner_browser, owner, db):
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Dan", "dan@example.com")
    owner_browser.deny(room, guest.participant)
    page = text_of(owner_browser.client.get(f"/rooms/{room.id}/live"))
    assert "Turned away" in page and "Denied" in page
    guest.leave(room)
    assert guest.enter(link_path(app, link), "Dan", "dan@example.com").status_code == 403
    owner_browser.allow_again(room, guest.participant)
    assert guest.enter(link_path(app, link), "Dan", "dan@example.com").status_code == 303
    assert "Waiting to be admitted" in text_of(guest.place(room))


def test_allowed_again_the_guest_returns_by_the_link_without_the_form_or_a_click(
        app, client, owner_browser, owner, db):
    """After Allow again, the same browser opening its link is the same guest returning: no
    lobby form, no second click of a one-click link — and, where guests wait, they wait."""
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests", max_uses=1)
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Dan", "dan@example.com")
    owner_browser.deny(room, guest.participant)
    assert "The host didn't admit you" in text_of(guest.open(link_path(app, link)))
    owner_browser.allow_again(room, guest.participant)

    back = guest.open(link_path(app, link))
    assert back.status_code == 303 and back.location.endswith(f"/s/{room.id}")
    assert "Waiting to be admitted" in text_of(guest.place(room))
    owner_browser.admit(room, guest.participant)
    assert "You're in" in text_of(guest.place(room))
    assert GuestLink.get_by_id(link.id).uses == 1
    assert "1 so far, 0 left of 1" in text_of(client.get(f"/rooms/{room.id}/access"))
    assert guest.participant.name == "Dan"


def test_move_to_waiting_room_and_admit_brings_them_back(app, owner_browser, room, arrive):
    """In a room where link guests go straight in, and for an invited guest: Move puts them in
    the waiting room whatever their door; Admit lets them in again."""
    ada = arrive()
    sam = invited_guest(app, room, "sam@example.com", "speaker")
    for guest, name in ((ada, "Ada"), (sam, "Speaker")):
        response = owner_browser.move_to_waiting(room, guest.participant, htmx=True)
        html = response.get_data(as_text=True)
        assert f"{name} was moved to the waiting room." in text_of(response)
        # The waiting room comes along out of band, with the guest in it.
        assert '<section class="card" id="waiting-room"' in html and 'hx-swap-oob="true"' in html
        assert f'id="admit-{guest.participant.id}"' in html
        # Someone the host moved isn't news: the owner's sound and notification stay quiet.
        assert 'data-waiting-ids=""' in html
        assert guest.get(f"/s/{room.id}/status?state=enter"
                         + (".speaker" if guest is sam else "")).headers["HX-Refresh"]
        assert "Waiting to be admitted" in text_of(guest.place(room))
    # Opening the invitation again doesn't skip it, nor Leave and entering again.
    assert sam.open(invitation_path(app, sam.invitation)).status_code == 303
    assert "Waiting to be admitted" in text_of(sam.place(room))
    sam.leave(room)
    assert sam.enter(invitation_path(app, sam.invitation), "Speaker",
                     "sam@example.com").status_code == 303
    assert "Waiting to be admitted" in text_of(sam.place(room))

    for guest in (ada, sam):
        owner_browser.admit(room, guest.participant)
    assert "You're in" in text_of(ada.place(room))
    assert "Your role: Speaker" in text_of(sam.place(room))
    # Admitted, the hold is over: Leave and entering again lets them straight in.
    sam.leave(room)
    sam.enter(invitation_path(app, sam.invitation), "Speaker", "sam@example.com")
    assert "Your role: Speaker" in text_of(sam.place(room))
    assert AuditEvent.select().where(AuditEvent.action == "guest_moved_to_waiting").count() == 2


def test_move_holds_the_email_in_another_browser_until_admit(
        app, owner_browser, room, link, arrive):
    """In a room where link guests go straight in, Move holds as Remove does: by the browser and
    by the email. The moved guest opening the link in another browser (its own cookies) with the
    same email waits there too — also after Leave in the first; Admit of a presence lets it in
    and ends its hold."""
    ada = arrive()
    first = ada.participant
    owner_browser.move_to_waiting(room, first)

    other = GuestActions(app)
    assert other.enter(link_path(app, link), "Ada", "ADA@example.com").status_code == 303
    assert "Waiting to be admitted" in text_of(other.place(room))
    assert "Waiting to be admitted" in text_of(ada.place(room))
    # Someone else, from yet another browser, goes straight in as before.
    assert "You're in" in text_of(arrive("Ben", "ben@example.com").place(room))

    owner_browser.admit(room, other.participant)
    assert "You're in" in text_of(other.place(room))
    assert "Waiting to be admitted" in text_of(ada.place(room))  # its own Admit to come
    # Left while moved: a new browser with the email still waits, and takes the hold along.
    ada.leave(room)
    third = GuestActions(app)
    assert third.enter(link_path(app, link), "Ada", "ada@example.com").status_code == 303
    assert "Waiting to be admitted" in text_of(third.place(room))
    assert Participant.get_by_id(first.id).moved_at is None

    owner_browser.admit(room, third.participant)
    assert "You're in" in text_of(third.place(room))
    # No hold left: Leave, and a fourth browser with the email is inside at once.
    third.leave(room)
    fourth = GuestActions(app)
    assert fourth.enter(link_path(app, link), "Ada", "ada@example.com").status_code == 303
    assert "You're in" in text_of(fourth.place(room))


def test_move_holds_an_invited_guest_by_the_browser_and_the_invitation_answers_for_itself(
        app, owner_browser, room, link):
    """The email hold is against shared links, as Remove's: someone who typed an invited
    guest's address into the shared link and was moved doesn't hold the invitation back."""
    typed = GuestActions(app)
    assert typed.enter(link_path(app, link), "Not Sam", "sam@example.com").status_code == 303
    owner_browser.move_to_waiting(room, typed.participant)
    sam = invited_guest(app, room, "sam@example.com", "speaker")
    assert "Your role: Speaker" in text_of(sam.place(room))


def test_changing_the_role(app, owner_browser, room, arrive):
    ada = arrive()
    sam = invited_guest(app, room, "sam@example.com", "viewer")
    # An invited guest: the invitation's role changes, and their page follows at once.
    response = owner_browser.set_role(room, sam.participant, "moderator", htmx=True)
    assert "Viewer is now: moderator." in text_of(response)
    assert Invitation.get_by_id(sam.invitation.id).role == "moderator"
    assert sam.get(f"/s/{room.id}/status?state=enter").headers["HX-Refresh"] == "true"
    assert "Your role: Moderator" in text_of(sam.place(room))
    # A shared-link guest: the role of this visit.
    owner_browser.set_role(room, ada.participant, "speaker")
    assert "Your role: Speaker" in text_of(ada.place(room))
    assert Participant.get_by_id(ada.participant.id).role == "speaker"
    events = list(AuditEvent.select().where(AuditEvent.action == "role_changed")
                  .order_by(AuditEvent.id))
    assert [e.detail for e in events] == ["viewer → moderator",
                                         "viewer → speaker (this visit, shared link)"]
    # Anything but the three roles is refused where the form is.
    bad = owner_browser.set_role(room, ada.participant, "owner", htmx=True)
    assert bad.status_code == 422 and "Choose viewer, speaker or moderator." in text_of(bad)
    assert owner_browser.set_role(room, ada.participant, "owner").status_code == 422


def test_a_guest_no_longer_inside_is_said_so(app, owner_browser, room, arrive):
    ada = arrive()
    ada.leave(room)
    response = owner_browser.remove(room, ada.participant, htmx=True)
    assert "Ada is no longer in the room." in text_of(response)
    assert Participant.get_by_id(ada.participant.id).status == "left"
    assert owner_browser.allow_again(room, ada.participant, htmx=True).status_code == 200


def test_moderator_removes_and_moves_from_their_room_page(app, room, arrive):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
    ada, ben = arrive(), arrive("Ben", "ben@example.com")
    page = text_of(moderator.place(room))
    assert "In the room" in page and "Ada" in page and "Move to waiting room" in page
    html = moderator.place(room).get_data(as_text=True)
    assert f'id="remove-{moderator.participant.id}"' not in html  # not on their own row

    response = moderator.post(f"/s/{room.id}/inside/{ada.participant.id}/remove",
                              headers=HTMX)
    assert response.status_code == 200 and "Ada was removed from the session." in \
        text_of(response)
    assert "You were removed" in text_of(ada.place(room))
    assert moderator.post(f"/s/{room.id}/inside/{ben.participant.id}/move").status_code == 303
    assert "Waiting to be admitted" in text_of(ben.place(room))
    assert moderator.post(f"/s/{room.id}/waiting/{ben.participant.id}/admit").status_code == 303
    assert moderator.post(f"/s/{room.id}/inside/{ada.participant.id}/allow").status_code == 303
    events = AuditEvent.select().where(AuditEvent.actor_email == "mod@example.com")
    assert {e.action for e in events} >= {"guest_removed", "guest_moved_to_waiting",
                                          "guest_allowed_again"}
    # German on a moderator's page.
    german = text_of(moderator.get(f"/s/{room.id}", headers={"Accept-Language": "de"}))
    for words in ("Im Raum", "In den Warteraum verschieben", "Entfernen", "Rolle ändern"):
        assert words in german, words


def test_viewers_and_strangers_cant_manage_who_is_inside(app, room, arrive):
    viewer = invited_guest(app, room, "viewer@example.com", "viewer")
    ada = arrive()
    assert "Move to waiting room" not in text_of(viewer.place(room))
    for client in (viewer, app.test_client()):
        assert client.get(f"/s/{room.id}/inside", headers=HTMX).status_code == 403
        for action in ("remove", "move", "allow", "role"):
            assert client.post(f"/s/{room.id}/inside/{ada.participant.id}/{action}",
                               data={"role": "moderator"}).status_code == 403
    assert Participant.get_by_id(ada.participant.id).status == "admitted"
    # A moderator of another room: 403 here, 404 for this room's guest from their own room.
    other = make_room(room.owner, title="Other", starts_at=room.starts_at, ends_at=room.ends_at)
    elsewhere = invited_guest(app, other, "mod2@example.com", "moderator")
    assert elsewhere.post(f"/s/{room.id}/inside/{ada.participant.id}/remove").status_code == 403
    assert elsewhere.post(f"/s/{other.id}/inside/{ada.participant.id}/remove").status_code == 404
    # Another owner reaches nothing of it.
    make_user("other@example.com")
    stranger = OwnerActions(app.test_client())
    stranger.sign_in("other@example.com")
    assert stranger.client.get(f"/rooms/{room.id}/inside").status_code == 404
    for response in (stranger.remove(room, ada.participant), stranger.move_to_waiting(
            room, ada.participant), stranger.set_role(room, ada.participant, "speaker"),
            stranger.allow_again(room, ada.participant)):
        assert response.status_code == 404
    assert Participant.get_by_id(ada.participant.id).status == "admitted"


def test_every_new_form_needs_its_csrf_token(app, owner_browser, room, arrive):
    moderator = invited_guest(app, room, "mod@example.com", "moderator")
    ada = arrive()
    app.config["WTF_CSRF_ENABLED"] = True  # read on each request
    for action in ("remove", "move", "role", "allow"):
        for client, prefix in ((owner_browser.client, "rooms"), (moderator, "s")):
            response = client.post(f"/{prefix}/{room.id}/inside/{ada.participant.id}/{action}",
                                   data={"role": "speaker"})
            assert response.status_code == 400, (prefix, action)
    assert Participant.get_by_id(ada.participant.id).status == "admitted"
    assert AuditEvent.select().where(AuditEvent.action.startswith("guest_")).count() == 0


def test_queue_position_on_the_waiting_page(app, owner_browser, owner, db):
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    guests = []
    for n in range(1, 4):
        guest = GuestActions(app)
        guest.enter(link_path(app, link), f"G{n}", f"g{n}@example.com")
        guests.append(guest)
    third = guests[2]
    assert "You're 3rd in line." in text_of(third.place(room))
    assert "Sie sind an 3. Stelle in der Warteschlange." in text_of(
        third.get(f"/s/{room.id}", headers={"Accept-Language": "de"}))
    assert third.get(f"/s/{room.id}/status?state=waiting&place=3&every=5").status_code == 204
    owner_browser.admit(room, guests[0].participant)
    # The page's poll notices the new place and brings it, with a poll that knows it: no reload.
    answer = third.get(f"/s/{room.id}/status?state=waiting&place=3&every=5", headers=HTMX)
    assert answer.status_code == 200 and "HX-Refresh" not in answer.headers
    assert "You're 2nd in line." in text_of(answer)
    assert f"/s/{room.id}/status?state=waiting&amp;place=2&amp;every=5" in \
        answer.get_data(as_text=True)
    assert third.get(f"/s/{room.id}/status?state=waiting&place=2&every=5").status_code == 204
    assert "You're 2nd in line." in text_of(third.place(room))
    owner_browser.admit(room, guests[1].participant)
    assert "You're next in line." in text_of(third.place(room))
    assert "Sie sind als Nächstes an der Reihe." in text_of(
        third.get(f"/s/{room.id}", headers={"Accept-Language": "de"}))
    # Admitted: that is a change of state, and the page loads again.
    owner_browser.admit(room, third.participant)
    answer = third.get(f"/s/{room.id}/status?state=waiting&place=1&every=5")
    assert answer.headers["HX-Refresh"] == "true"


def test_a_long_queue_is_counted_only_so_far(app, owner, db):
    room = make_room(owner, title="Approval", guest_access_enabled=True, require_approval=True)
    link = GuestLink.create(room=room, name="Guests")
    earlier = timeutil.utcnow() - timedelta(minutes=5)
    Participant.insert_many([{"room": room, "link": link, "name": f"G{i}", "device": f"d{i}",
                              "email": f"g{i}@example.com", "created_at": earlier}
                             for i in range(QUEUE_COUNTED - 1)]).execute()
    guest = GuestActions(app)
    guest.enter(link_path(app, link), "Last", "last@example.com")
    assert "You're 100th in line." in text_of(guest.place(room))
    Participant.create(room=room, link=link, name="One more", email="m@example.com",
                       device="dm", created_at=earlier)
    assert "At least 100 people are ahead of you in line." in text_of(guest.place(room))
    assert "Mindestens 100 Personen sind in der Warteschlange vor Ihnen." in text_of(
        guest.get(f"/s/{room.id}", headers={"Accept-Language": "de"}))


def test_a_full_room_lists_the_last_to_come_in_and_counts_the_rest(app, owner_browser, room,
                                                                    link, arrive):
    app.config["HOST_LIST_ROWS"] = 3
    for i in range(5):
        arrive(f"Guest {i}", f"g{i}@example.com")
    text = text_of(owner_browser.client.get(f"/rooms/{room.id}/live"))
    assert "5 inside" in text
    assert [f"Guest {i}" in text for i in range(5)] == [False, False, True, True, True]
    assert "These are the last 3 to come in, of 5 inside." in text
    seen = re.search(r'id="in-the-room"[^>]*hx-get="([^"]+)"',
                     owner_browser.client.get(f"/rooms/{room.id}/live").get_data(as_text=True))
    poll = seen.group(1).replace("&amp;", "&")
    assert owner_browser.client.get(poll, headers=HTMX).status_code == 204
    # one of those counted, not listed, leaves: the count changes, and the poll says so
    Participant.update(status="left").where(Participant.name == "Guest 0").execute()
    fragment = owner_browser.client.get(poll, headers=HTMX)
    assert fragment.status_code == 200
    assert "These are the last 3 to come in, of 4 inside." in text_of(fragment)


def test_ordinals(app):
    with app.test_request_context():
        assert [queue_place(n) for n in (2, 3, 4, 11, 12, 13, 21, 22, 100)] == [
            f"You're {p} in line." for p in ("2nd", "3rd", "4th", "11th", "12th", "13th",
                                             "21st", "22nd", "100th")]
