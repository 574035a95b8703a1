"""The access decision, exhaustively, with an explicit clock: no Flask, no database."""

import itertools
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from portal.decision import (
    COUNTDOWN,
    DENIED,
    ENTER,
    HELD,
    LOBBY,
    REASONS,
    REMOVED,
    SIGN_IN,
    WAITING,
    InviteFacts,
    LinkFacts,
    RoomFacts,
    Visitor,
    decide,
    keeps_seat,
    role_now,
)

NOW = datetime(2026, 11, 21, 10, 0)
ROOM = RoomFacts(deleted=False, kind="regular", guest_access_enabled=True, require_approval=False,
                 require_email_match=True, starts_at=NOW - timedelta(minutes=5),
                 ends_at=NOW + timedelta(hours=1))
LINK = LinkFacts(deleted=False, expires_at=None, max_uses=None, uses=0)
INVITE = InviteFacts(removed=False, current_version=True, expires_at=None, valid_once=False,
                     bound_device=None, email="ada@example.com", account_access="guest")
SUBMITTED = Visitor(device="d1", email_typed="ada@example.com")
INSIDE = Visitor(device="d1", participant_status="admitted")


def outcome(result):
    return result.reason if result.outcome == DENIED else result.outcome


@pytest.mark.parametrize("visitor,room,link,invite,expected", [
    # link problems first
    (SUBMITTED, None, LINK, None, "link_invalid"),
    (SUBMITTED, ROOM, None, None, "link_invalid"),
    (SUBMITTED, ROOM, LINK, INVITE, "link_invalid"),
    (SUBMITTED, replace(ROOM, deleted=True), LINK, None, "room_unavailable"),
    (SUBMITTED, replace(ROOM, kind="channel"), LINK, None, "channel_room"),
    (SUBMITTED, ROOM, replace(LINK, deleted=True), None, "link_deleted"),
    (SUBMITTED, ROOM, None, replace(INVITE, removed=True), "invite_removed"),
    (SUBMITTED, ROOM, None, replace(INVITE, current_version=False), "invite_removed"),
    (SUBMITTED, replace(ROOM, guest_access_enabled=False), LINK, None, "guest_access_off"),
    (SUBMITTED, replace(ROOM, ends_at=NOW), LINK, None, "session_ended"),
    (SUBMITTED, ROOM, replace(LINK, expires_at=NOW), None, "link_expired"),
    (SUBMITTED, ROOM, replace(LINK, expires_at=NOW + timedelta(seconds=1)), None, ENTER),
    (SUBMITTED, ROOM, None, replace(INVITE, expires_at=NOW - timedelta(days=1)), "link_expired"),
    (SUBMITTED, ROOM, replace(LINK, max_uses=2, uses=2), None, "link_used_up"),
    (SUBMITTED, ROOM, replace(LINK, max_uses=2, uses=1), None, ENTER),
    (INSIDE, ROOM, replace(LINK, max_uses=2, uses=2), None, ENTER),  # already in: no new use
    (SUBMITTED, ROOM, None, replace(INVITE, valid_once=True, bound_device="other"),
     "link_used_up"),
    (SUBMITTED, ROOM, None, replace(INVITE, valid_once=True, bound_device="d1"), ENTER),
    (SUBMITTED, ROOM, None, replace(INVITE, valid_once=True), ENTER),
    # guest access governs shared links only
    (SUBMITTED, replace(ROOM, guest_access_enabled=False), None, INVITE, ENTER),
    # the person
    (Visitor(device="d1"), ROOM, LINK, None, LOBBY),
    (Visitor(device="d1"), ROOM, None, INVITE, LOBBY),
    (replace(SUBMITTED, email_typed="eve@example.com"), ROOM, None, INVITE, "email_mismatch"),
    (replace(SUBMITTED, email_typed="eve@example.com"),
     replace(ROOM, require_email_match=False), None, INVITE, ENTER),
    # a registrant's link: the confirmation proved the address, nothing to match
    (replace(SUBMITTED, email_typed="ada@example.com"), ROOM, None,
     replace(INVITE, email_confirmed=True), ENTER),
    (Visitor(device="d1"), ROOM, None, replace(INVITE, email_confirmed=True), LOBBY),
    (replace(SUBMITTED, domain_allowed=False), ROOM, LINK, None, "domain_blocked"),
    (replace(SUBMITTED, domain_allowed=False), ROOM, None, INVITE, "domain_blocked"),
    (Visitor(device="d1"), ROOM, None, replace(INVITE, account_access="broadcaster"), SIGN_IN),
    (SUBMITTED, ROOM, None, replace(INVITE, account_access="admin"), SIGN_IN),
    (Visitor(device="d1", signed_in_email="ada@example.com"), ROOM, None,
     replace(INVITE, account_access="broadcaster"), ENTER),
    (Visitor(device="d1", signed_in_email="ada@example.com"), ROOM, None, INVITE, ENTER),
    (Visitor(device="d1", participant_status="rejected"), ROOM, LINK, None, "not_admitted"),
    # the clock
    (SUBMITTED, replace(ROOM, starts_at=NOW + timedelta(seconds=1)), LINK, None, COUNTDOWN),
    (SUBMITTED, replace(ROOM, starts_at=NOW), LINK, None, ENTER),
    (SUBMITTED, replace(ROOM, require_approval=True), LINK, None, WAITING),
    (replace(SUBMITTED, participant_status="waiting"), replace(ROOM, require_approval=True),
     LINK, None, WAITING),
    (INSIDE, replace(ROOM, require_approval=True), LINK, None, ENTER),
    (SUBMITTED, replace(ROOM, require_approval=True, starts_at=NOW + timedelta(hours=1)),
     LINK, None, COUNTDOWN),
    # personal invitations are vetted by the host: no waiting room
    (SUBMITTED, replace(ROOM, require_approval=True), None, INVITE, ENTER),
    # a host's Remove: said in words, by any door
    (Visitor(device="d1", participant_status=REMOVED), ROOM, LINK, None, "removed"),
    (Visitor(device="d1", participant_status=REMOVED), ROOM, None, INVITE, "removed"),
    # ... but what is wrong with the link or room comes first
    (Visitor(device="d1", participant_status=REMOVED), ROOM, None,
     replace(INVITE, removed=True), "invite_removed"),
    # a host's Move to waiting room: waiting by any door, in any room
    (Visitor(device="d1", participant_status=HELD), ROOM, LINK, None, WAITING),
    (Visitor(device="d1", participant_status=HELD), ROOM, None, INVITE, WAITING),
    (Visitor(device="d1", participant_status=HELD), replace(ROOM, require_approval=True),
     None, INVITE, WAITING),
    (Visitor(device="d1", participant_status=HELD),
     replace(ROOM, starts_at=NOW + timedelta(minutes=5)), LINK, None, COUNTDOWN),
])
def test_each_outcome(visitor, room, link, invite, expected):
    assert outcome(decide(NOW, visitor, room, link=link, invite=invite)) == expected


def test_start_moved_by_host_is_followed():
    visitor = replace(SUBMITTED, participant_status="admitted")
    room = replace(ROOM, starts_at=NOW + timedelta(minutes=10))
    assert decide(NOW, visitor, room, link=LINK).outcome == COUNTDOWN
    assert decide(NOW, visitor, replace(room, starts_at=NOW - timedelta(minutes=1)),
                  link=LINK).outcome == ENTER
    later = replace(ROOM, starts_at=NOW + timedelta(minutes=30))
    assert decide(NOW, visitor, later, link=LINK).outcome == COUNTDOWN


def test_clock_across_start_and_end():
    room = replace(ROOM, starts_at=NOW, ends_at=NOW + timedelta(hours=1))
    visitor = replace(SUBMITTED, participant_status="admitted")
    assert decide(NOW - timedelta(seconds=1), visitor, room, link=LINK).outcome == COUNTDOWN
    assert decide(NOW, visitor, room, link=LINK).outcome == ENTER
    assert outcome(decide(NOW + timedelta(hours=1), visitor, room, link=LINK)) == "session_ended"


@pytest.mark.parametrize("status, room, seated", [
    ("admitted", ROOM, True),
    # what becomes of the door isn't in the question at all: access off, a channel room
    ("admitted", replace(ROOM, guest_access_enabled=False, kind="channel"), True),
    # about this person: denied, removed, moved, left, never entered
    ("rejected", ROOM, False), (REMOVED, ROOM, False), (HELD, ROOM, False),
    ("waiting", ROOM, False), ("left", ROOM, False), (None, ROOM, False),
    # the room itself: deleted, not started, over
    ("admitted", replace(ROOM, deleted=True), False),
    ("admitted", replace(ROOM, starts_at=NOW + timedelta(seconds=1)), False),
    ("admitted", replace(ROOM, starts_at=NOW), True),
    ("admitted", replace(ROOM, ends_at=NOW), False),
    ("admitted", None, False),
])
def test_who_keeps_their_seat_in_the_room(status, room, seated):
    """The room page's poll leaves a seated guest where they are, whatever became of their
    door; and whoever keeps a seat is one the full decision would let in, door aside."""
    assert keeps_seat(NOW, status, room) is seated
    if seated:
        visitor = replace(INSIDE, participant_status=status)
        assert decide(NOW, visitor, replace(room, kind="regular", guest_access_enabled=True),
                      link=LINK).outcome == ENTER


BACK = Visitor(device="d1", participant_status="left", email_typed="ada@example.com")


@pytest.mark.parametrize("visitor,room,link,invite,expected", [
    # a browser back after leaving has its use: a full link lets it in, or where guests wait
    (BACK, ROOM, replace(LINK, max_uses=1, uses=1), None, ENTER),
    (BACK, replace(ROOM, require_approval=True), replace(LINK, max_uses=1, uses=1), None,
     WAITING),
    (BACK, ROOM, None, replace(INVITE, valid_once=True, bound_device="d1"), ENTER),
    (BACK, ROOM, None, replace(INVITE, valid_once=True, bound_device="d2"), "link_used_up"),
    # ... but the rest is checked as on entry: the door, sign-in, the domain
    (BACK, replace(ROOM, guest_access_enabled=False), LINK, None, "guest_access_off"),
    (BACK, ROOM, replace(LINK, expires_at=NOW), None, "link_expired"),
    (BACK, ROOM, None, replace(INVITE, account_access="admin"), SIGN_IN),
    (replace(BACK, signed_in_email="ada@example.com"), ROOM, None,
     replace(INVITE, account_access="admin"), ENTER),
    (replace(BACK, domain_allowed=False), ROOM, LINK, None, "domain_blocked"),
])
def test_a_browser_back_after_leaving(visitor, room, link, invite, expected):
    assert outcome(decide(NOW, visitor, room, link=link, invite=invite)) == expected


# Precedence: with several problems at once, the guest is told the first in this order.
PROBLEMS = [
    ("room_unavailable", lambda r, k, v: (replace(r, deleted=True), k, v)),
    ("channel_room", lambda r, k, v: (replace(r, kind="channel"), k, v)),
    ("link_deleted", lambda r, k, v: (r, replace(k, deleted=True), v)),
    ("guest_access_off", lambda r, k, v: (replace(r, guest_access_enabled=False), k, v)),
    ("session_ended", lambda r, k, v: (replace(r, ends_at=NOW - timedelta(seconds=1),
                                               starts_at=NOW - timedelta(hours=1)), k, v)),
    ("link_expired", lambda r, k, v: (r, replace(k, expires_at=NOW), v)),
    ("link_used_up", lambda r, k, v: (r, replace(k, max_uses=1, uses=1), v)),
    ("domain_blocked", lambda r, k, v: (r, k, replace(v, domain_allowed=False))),
]


@pytest.mark.parametrize("combo", [c for n in (2, 3) for c in itertools.combinations(
    range(len(PROBLEMS)), n)])
def test_precedence_of_reasons(combo):
    room, link, visitor = ROOM, LINK, SUBMITTED
    for index in combo:
        room, link, visitor = PROBLEMS[index][1](room, link, visitor)
    assert outcome(decide(NOW, visitor, room, link=link)) == PROBLEMS[min(combo)][0]


def test_every_reason_has_status_words_and_next_step():
    assert set(REASONS) == {
        "link_invalid", "link_deleted", "invite_removed", "room_unavailable", "channel_room",
        "guest_access_off", "link_expired", "link_used_up", "session_ended", "email_mismatch",
        "domain_blocked", "not_admitted", "removed"}
    for reason in REASONS.values():
        assert reason.status in (403, 404, 410)
        assert reason.title and reason.next_step and reason.host_words


@pytest.mark.parametrize("own, invitation_role, now", [
    ("viewer", None, "viewer"),  # a shared link's guest
    ("moderator", None, "moderator"),  # ... made moderator for this visit in In the room
    ("viewer", "speaker", "speaker"),  # an invited guest: the invitation's role as it is now
    ("moderator", "viewer", "viewer"),  # ... even after the host lowered it
])
def test_the_role_now_is_the_invitations_for_whoever_came_by_one(own, invitation_role, now):
    assert role_now(own, invitation_role) == now
