"""The owner's waiting room for rooms whose guests wait to be admitted: the list updating by
itself (an htmx fragment), Admit, Deny, Admit all, and who may do it."""

import re

import pytest
from helpers import (
    HTMX,
    GuestActions,
    OwnerActions,
    count_queries,
    link_path,
    make_room,
    make_user,
    text_of,
)

from portal import poll as poll_policy
from portal import timeutil
from portal.models import AuditEvent, GuestLink, Participant, Room


@pytest.fixture
def room(db, owner):
    return make_room(owner, title="Round-table", require_approval=True,
                     guest_access_enabled=True)


@pytest.fixture
def link(room):
    return GuestLink.create(room=room, name="Customers")


def test_guest_waits_and_owner_sees_them_in_the_page_and_fragment(
        client, signed_in_owner, room, arrive):
    guest = arrive()
    response = guest.place(room)
    assert "Waiting to be admitted" in text_of(response)
    assert guest.participant.status == "waiting"
    assert guest.get(f"/s/{room.id}/status?state=waiting&place=1&every=5").status_code == 204

    page = client.get(f"/rooms/{room.id}/live")
    text = text_of(page)
    assert "Ada" in text and "ada@example.com" in text and "Customers" in text
    assert "1 waiting" in text
    assert 'data-waiting-count="1"' in page.get_data(as_text=True)
    # Waiting since: the guest's arrival, in the row itself.
    arrived = timeutil.iso_utc(guest.participant.created_at)
    assert f'<time datetime="{arrived}">' in page.get_data(as_text=True)

    fragment = client.get(f"/rooms/{room.id}/waiting", headers=HTMX)
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="waiting-room"')
    assert "<html" not in html
    assert 'data-waiting-count="1"' in html
    assert 'hx-trigger="every 5s"' in html
    assert "Admit" in text_of(fragment) and "Deny" in text_of(fragment)
    assert "Admit all" in text_of(fragment)

    # without htmx the same URL is the Live view, where the waiting room is
    plain = client.get(f"/rooms/{room.id}/waiting")
    assert plain.headers["Location"].endswith(f"/rooms/{room.id}/live#waiting-room")
    assert "<html" in client.get(plain.headers["Location"]).get_data(as_text=True)


def test_poll_answers_204_until_someone_arrives(client, signed_in_owner, room, arrive):
    html = client.get(f"/rooms/{room.id}/waiting", headers=HTMX).get_data(as_text=True)
    poll_url = re.search(r'hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert 'data-waiting-count="0"' in html
    assert client.get(poll_url, headers=HTMX).status_code == 204

    arrive()
    response = client.get(poll_url, headers=HTMX)
    assert response.status_code == 200
    assert 'data-waiting-count="1"' in response.get_data(as_text=True)


def test_admit(owner_browser, owner, room, arrive):
    guest = arrive()
    response = owner_browser.admit(room, guest.participant, htmx=True)
    assert response.status_code == 200
    assert "Ada was admitted." in text_of(response)
    assert 'data-waiting-count="0"' in response.get_data(as_text=True)
    participant = Participant.get_by_id(guest.participant.id)
    assert participant.status == "admitted"
    assert participant.decided_at is not None and participant.decided_by_id == owner.id

    # the guest's waiting page learns it on its next poll and reloads into the room
    assert guest.get(f"/s/{room.id}/status?state=waiting").headers["HX-Refresh"] == "true"
    assert "You're in" in text_of(guest.place(room))
    event = AuditEvent.get(AuditEvent.action == "guest_admitted")
    assert event.room_id == room.id and "ada@example.com" in event.target


def test_deny(client, owner_browser, owner, room, arrive):
    guest = arrive()
    response = owner_browser.deny(room, guest.participant)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/live#waiting-room")
    assert "Ada was denied entry." in text_of(client.get(f"/rooms/{room.id}/live"))
    participant = Participant.get_by_id(guest.participant.id)
    assert participant.status == "rejected" and participant.decided_by_id == owner.id
    response = guest.place(room)
    assert response.status_code == 403
    assert "The host didn't admit you" in text_of(response)
    assert [e.action for e in AuditEvent.select()] == ["guest_denied"]


def test_deny_with_a_message_the_guest_reads_on_their_page(
        app, client, owner_browser, room, link, arrive):
    guest = arrive()
    row = client.get(f"/rooms/{room.id}/waiting", headers=HTMX)
    assert "Deny with a message" in text_of(row)
    page = client.get(re.search(r'<a class="with-message" href="([^"]+)"',
                                row.get_data(as_text=True)).group(1))
    assert page.status_code == 200
    assert "Deny Ada" in text_of(page) and "Message to Ada (optional)" in text_of(page)

    response = owner_browser.deny(room, guest.participant,
                                  message="  This session is for staff only —   write to us. ")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/rooms/{room.id}/live#waiting-room")
    words = "This session is for staff only — write to us."
    assert Participant.get_by_id(guest.participant.id).host_note == words
    denied = guest.place(room)
    assert denied.status_code == 403
    assert "The host didn't admit you" in text_of(denied)
    assert f"Message from the host: {words}" in text_of(denied)
    event = AuditEvent.get(AuditEvent.action == "guest_denied")
    assert event.detail == f"Message: {words}"
    # Coming back by the link shows it again; Allow again lifts the Deny and the message.
    guest.leave(room)
    again = guest.enter(link_path(app, link), "Ada", "ada@example.com")
    assert again.status_code == 403 and words in text_of(again)
    owner_browser.allow_again(room, guest.participant)
    assert Participant.get_by_id(guest.participant.id).host_note is None
    assert words not in text_of(guest.enter(link_path(app, link), "Ada", "ada@example.com"))


def test_a_message_too_long_is_refused_and_nothing_changes(client, owner_browser, room, arrive):
    guest = arrive()
    response = owner_browser.deny(room, guest.participant, message="x" * 301)
    assert response.status_code == 422
    assert "Use at most 300 characters." in text_of(response)
    assert Participant.get_by_id(guest.participant.id).status == "waiting"
    assert AuditEvent.select().count() == 0
    # The page to write a message, for a guest no longer waiting: back to the list, saying so.
    owner_browser.admit(room, guest.participant)
    page = client.get(f"/rooms/{room.id}/waiting/{guest.participant.id}/deny")
    assert page.status_code == 303
    assert "Ada is no longer waiting." in text_of(client.get(page.headers["Location"]))


def test_deny_holds_after_leave_on_any_link_and_from_another_browser(
        app, owner_browser, room, link, arrive):
    """Deny holds for that person in that room: pressing Leave and entering again, another
    shared link of the room, or a fresh browser with the same email all stay refused, and
    spend no click."""
    guest = arrive()
    owner_browser.deny(room, guest.participant)
    assert guest.leave(room).status_code == 303
    again = guest.enter(link_path(app, link), "Ada", "ada@example.com")
    assert again.status_code == 403 and "The host didn't admit you" in text_of(again)
    second = GuestLink.create(room=room, name="Partners")
    for browser, email in ((guest, "ada2@example.com"), (GuestActions(app), "ada@example.com")):
        response = browser.enter(link_path(app, second), "Ada", email)
        assert response.status_code == 403 and "The host didn't admit you" in text_of(response)
    assert GuestLink.get_by_id(second.id).uses == 0
    assert GuestLink.get_by_id(link.id).uses == 1
    assert Participant.select().count() == 1
    # Someone else still gets in by the same link.
    assert arrive("Grace", "grace@example.com").participant.status == "waiting"


def test_a_waiting_guest_who_gives_up_leaves_the_hosts_list(
        app, client, signed_in_owner, room, link, arrive):
    """The waiting page has Leave (a plain form): it takes the guest off the host's waiting
    list, with an audit event; those behind move up. Their link brings them back to the end
    of the line, without the form or a new use."""
    ada, grace = arrive(), arrive("Grace", "grace@example.com")
    html = ada.place(room).get_data(as_text=True)
    assert f'action="/s/{room.id}/leave"' in html and 'name="csrf_token"' in html
    assert "Leave" in text_of(ada.place(room))

    left = ada.leave(room)
    assert left.status_code == 303
    assert "You left the session" in text_of(ada.get(left.location))
    assert ada.participant.status == "left"
    waiting = text_of(client.get(f"/rooms/{room.id}/waiting", headers=HTMX))
    assert "ada@example.com" not in waiting and "grace@example.com" in waiting
    assert "You're next in line." in text_of(grace.place(room))
    event = AuditEvent.get(AuditEvent.action == "guest_left_waiting")
    assert event.room_id == room.id and event.target == "Ada <ada@example.com>"
    assert event.actor_email == "ada@example.com"
    log = text_of(client.get(f"/rooms/{room.id}/audit"))
    # The guest herself, as what she is: not an account, not a moderator.
    assert "Left the waiting room" in log
    assert "guest Ada <ada@example.com> (typed email, unverified)" in log

    back = ada.open(link_path(app, link))
    assert back.status_code == 303
    assert "You're 2nd in line." in text_of(ada.place(room))
    assert GuestLink.get_by_id(link.id).uses == 2


def test_a_denied_guest_can_leave_and_the_refusal_stays(
        app, client, signed_in_owner, room, link, arrive):
    """"The host didn't admit you" has Leave too; leaving doesn't undo the Deny: the guest
    stays turned away, isn't told their link brings them back, and can't queue again."""
    ada = arrive()
    OwnerActions(client).deny(room, ada.participant)
    denied = ada.place(room)
    assert denied.status_code == 403 and "The host didn't admit you" in text_of(denied)
    assert f'action="/s/{room.id}/leave"' in denied.get_data(as_text=True)

    left = ada.leave(room)
    page = text_of(ada.get(left.location))
    assert "You left the session" in page and "open your link again" not in page
    assert "The host didn't admit you" in page
    assert ada.participant.status == "rejected"
    again = ada.open(link_path(app, link))
    assert again.status_code == 403 and "The host didn't admit you" in text_of(again)
    assert "Turned away" in text_of(client.get(f"/rooms/{room.id}/live"))
    assert not AuditEvent.select().where(AuditEvent.action.startswith("guest_left")).exists()


def test_deny_has_a_confirmation(client, signed_in_owner, room, arrive):
    arrive()
    html = client.get(f"/rooms/{room.id}/waiting", headers=HTMX).get_data(as_text=True)
    assert 'hx-confirm="Deny Ada?' in html


def test_admit_all_and_deciding_twice(owner_browser, room, arrive):
    ada, bob = arrive(), arrive("Bob", "bob@example.com")
    owner_browser.deny(room, bob.participant)
    carol = arrive("Carol", "carol@example.com")
    response = owner_browser.admit_all(room, htmx=True)
    assert "Admitted 2 guests." in text_of(response)
    statuses = {p.name: p.status for p in Participant.select()}
    assert statuses == {"Ada": "admitted", "Bob": "rejected", "Carol": "admitted"}
    assert sorted(e.action for e in AuditEvent.select()) == [
        "guest_admitted", "guest_admitted", "guest_denied"]

    # already decided: nothing changes, nothing is logged twice
    response = owner_browser.deny(room, ada.participant, htmx=True)
    assert "Ada is no longer waiting." in text_of(response)
    assert Participant.get_by_id(ada.participant.id).status == "admitted"
    assert "Nobody is waiting." in text_of(owner_browser.admit_all(room, htmx=True))
    assert AuditEvent.select().count() == 3
    assert carol.participant.id


def test_admit_all_for_a_crowd_admits_everyone_at_once(owner_browser, room, link, arrive):
    """Admit all for hundreds is one decision: everyone waiting is in, each with their audit
    event, and it takes as many statements as it does for two (it once took two a guest)."""
    def crowd(first, n):
        Participant.insert_many([{"room": room, "link": link, "name": f"Guest {i}",
                                  "email": f"g{i}@example.com", "device": f"device-{i}"}
                                 for i in range(first, first + n)]).execute()

    crowd(0, 2)
    with count_queries() as for_two:
        assert "Admitted 2 guests." in text_of(owner_browser.admit_all(room, htmx=True))
    crowd(2, 600)
    ada = arrive()  # one who left before the click stays out
    ada.post(f"/s/{room.id}/leave")
    with count_queries() as for_many:
        assert "Admitted 600 guests." in text_of(owner_browser.admit_all(room, htmx=True))
    assert len(for_many) == len(for_two)
    assert Participant.select().where(Participant.status == "admitted").count() == 602
    assert Participant.get(Participant.name == "Ada").status == "left"
    logged = {e.target for e in AuditEvent.select().where(AuditEvent.action == "guest_admitted")}
    assert logged == {f"Guest {i} <g{i}@example.com>" for i in range(602)}


def test_a_long_waiting_list_shows_the_first_and_counts_the_rest(app, owner_browser, room,
                                                                 arrive):
    app.config["HOST_LIST_ROWS"] = 3
    guests = [arrive(f"Guest {i}", f"g{i}@example.com") for i in range(5)]
    page = text_of(owner_browser.client.get(f"/rooms/{room.id}/live"))
    assert "(5 waiting)" in page and "5 waiting" in page
    assert [f"Guest {i}" in page for i in range(5)] == [True, True, True, False, False]
    assert "…and 2 more waiting, in order of arrival" in page

    owner_browser.admit(room, guests[0].participant)
    fragment = owner_browser.client.get(f"/rooms/{room.id}/waiting", headers=HTMX)
    assert fragment.status_code == 200
    text = text_of(fragment)
    assert [f"Guest {i}" in text for i in range(5)] == [False, True, True, True, False]
    assert "…and 1 more waiting" in text and "4 waiting" in text

    # the list is full both times; only the one counted past it changes
    guests[4].post(f"/s/{room.id}/leave")
    text = text_of(owner_browser.client.get(f"/rooms/{room.id}/waiting", headers=HTMX))
    assert "more waiting" not in text and "3 waiting" in text


def test_a_crowd_behind_the_hosts_list_is_told_to_ask_less_often(app, room, link, arrive):
    """Those on the hosts' list ask every POLL_WAITING_SECONDS; behind it, a crowd's pages
    together ask at most ROOM_POLLS_PER_SECOND (12 waiting at 2 a second: every 6 s)."""
    app.config.update(HOST_LIST_ROWS=2, ROOM_POLLS_PER_SECOND=2, POLL_WAITING_SECONDS=5)

    def every(guest):
        html = guest.place(room).get_data(as_text=True)
        return float(re.search(r'hx-trigger="every ([0-9.]+)s"', html).group(1))

    first = arrive("First", "first@example.com")
    Participant.insert_many([{"room": room, "link": link, "name": f"G{i}", "device": f"d{i}",
                              "email": f"g{i}@example.com"} for i in range(10)]).execute()
    last = arrive("Last", "last@example.com")
    assert every(first) == 5 and every(last) == 6
    # the new place comes with the interval for it
    Participant.delete().where(Participant.name.startswith("G")).execute()
    swapped = last.get(f"/s/{room.id}/status?state=waiting&place=12&every=6", headers=HTMX)
    assert "You're 2nd in line." in text_of(swapped)
    assert 'hx-trigger="every 5s"' in swapped.get_data(as_text=True)


def test_a_page_that_came_early_is_told_again_when_the_crowd_grows(app, room, link, arrive,
                                                                   monkeypatch):
    """Told 5 s when few waited, a page far back gets the interval for the crowd now from its
    poll (once the crowd is half again as large), not only when its place changes."""
    app.config.update(HOST_LIST_ROWS=1, ROOM_POLLS_PER_SECOND=1, POLL_WAITING_SECONDS=5)
    monkeypatch.setattr(poll_policy, "CROWD_COUNTED_FOR", 0)  # count afresh each time
    arrive("First", "first@example.com")
    second = arrive("Second", "second@example.com")
    poll = f"/s/{room.id}/status?state=waiting&place=2&every=5"
    assert second.get(poll, headers=HTMX).status_code == 204
    Participant.insert_many([{"room": room, "link": link, "name": f"G{i}", "device": f"d{i}",
                              "email": f"g{i}@example.com"} for i in range(18)]).execute()
    retold = second.get(poll, headers=HTMX)  # 20 waiting at 1 a second: every 20 s
    assert retold.status_code == 200 and "HX-Refresh" not in retold.headers
    assert 'hx-trigger="every 20s"' in retold.get_data(as_text=True)
    assert "You're 2nd in line." in text_of(retold)
    assert second.get(poll.replace("every=5", "every=20"), headers=HTMX).status_code == 204


def test_participant_of_another_room_is_not_found(client, signed_in_owner, owner, room, arrive):
    other = make_room(owner, title="Other", require_approval=True, guest_access_enabled=True)
    guest = arrive()
    for action in ("admit", "deny"):
        url = f"/rooms/{other.id}/waiting/{guest.participant.id}/{action}"
        assert client.post(url).status_code == 404
        assert client.post(f"/rooms/{room.id}/waiting/99999/{action}").status_code == 404
    assert Participant.get_by_id(guest.participant.id).status == "waiting"


@pytest.mark.parametrize("who, access, status", [
    ("other@example.com", "broadcaster", 404),
    ("guest@example.com", "guest", 403),
])
def test_only_the_owner_and_admins(client, app, room, arrive, who, access, status):
    guest = arrive()
    make_user(who, access=access)
    OwnerActions(client).sign_in(who)
    pid = guest.participant.id
    assert client.get(f"/rooms/{room.id}/waiting", headers=HTMX).status_code == status
    for url in (f"/rooms/{room.id}/waiting/{pid}/admit", f"/rooms/{room.id}/waiting/{pid}/deny",
                f"/rooms/{room.id}/waiting/admit-all"):
        assert client.post(url).status_code == status
    assert Participant.get_by_id(pid).status == "waiting"

    anonymous = app.test_client()
    response = anonymous.post(f"/rooms/{room.id}/waiting/{pid}/admit")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    assert Participant.get_by_id(pid).status == "waiting"

    make_user("admin@example.com", access="admin")
    admin = app.test_client()
    OwnerActions(admin).sign_in("admin@example.com")
    assert admin.post(f"/rooms/{room.id}/waiting/{pid}/admit").status_code == 303
    assert Participant.get_by_id(pid).status == "admitted"


def test_rooms_without_waiting_say_so(client, signed_in_owner, room):
    Room.update(require_approval=False).where(Room.id == room.id).execute()
    html = client.get(f"/rooms/{room.id}/waiting", headers=HTMX).get_data(as_text=True)
    assert "Guests enter without waiting" in html
    assert "hx-trigger" not in html
