"""The owner's Guests section: Invite a guest (many at once, roles, validity, limits, refusals),
per guest: role, Email / Copy / Reset guest link, Delete; Email links to all guests; audit;
seed-demo. Plus the small pure pieces (address splitting, normalisation, domain matching)."""

import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import (
    HTMX,
    PASSWORD,
    GuestActions,
    invitation,
    invite,
    links_on_page,
    make_room,
    make_user,
    path_of,
    text_of,
    url_of,
)

from portal import emails, passwords, tokens
from portal.db import database
from portal.models import AuditEvent, Invitation, Participant, User
from portal.services import invitations as inv_module
from portal.services.invitations import split_addresses
from portal.services.urls import invitation_token
from portal.timeutil import utcnow


def audit_actions(room):
    return [e.action for e in AuditEvent.select().where(AuditEvent.room == room)
            .order_by(AuditEvent.id)]


# --- inviting ---------------------------------------------------------------------------------

def test_invite_many_at_once_with_refusals(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    make_user("known@example.com", access="guest")
    response = invite(client, room, "Ada@Example.com, grace@example.com\nnot-an-email\n"
                      "ada@example.com; Katherine <known@example.com>", role="speaker")
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert "Added 3 guests as speaker." in page
    assert "not-an-email — invalid email address" in page
    rows = list(Invitation.select().where(Invitation.room == room).order_by(Invitation.id))
    assert [r.email for r in rows] == ["ada@example.com", "grace@example.com",
                                       "known@example.com"]
    assert {r.role for r in rows} == {"speaker"}
    assert {r.email_status for r in rows} == {"not_sent"}
    # New addresses get a guest-only profile without a password; accounts are reused.
    ada = User.get(User.email == "ada@example.com")
    assert ada.access == "guest" and ada.password_hash == passwords.UNUSABLE
    assert not passwords.check_password(ada.password_hash, "")
    assert User.select().where(User.email == "known@example.com").count() == 1
    assert audit_actions(room).count("invited") == 3


def test_new_guest_profiles_hold_no_password_so_no_sign_in_works(app, client, signed_in_owner,
                                                                 db):
    """A bulk invite hashes nothing (Argon2 inside the transaction held SQLite's write lock for
    seconds): each new profile holds the unusable marker until "Forgot password" sets one."""
    room = make_room(signed_in_owner)
    addresses = [f"g{i}@example.com" for i in range(20)]
    invite(client, room, "\n".join(addresses))
    hashes = [u.password_hash for u in User.select().where(User.email.in_(addresses))]
    assert hashes == [passwords.UNUSABLE] * 20
    guest = app.test_client()
    for attempt in ("!", passwords.UNUSABLE, PASSWORD, "g0@example.com"):
        response = guest.post("/sign-in", data={"email": "g0@example.com", "password": attempt})
        assert response.status_code == 401, attempt
        assert "That email and password don't match an account." in text_of(response)
    assert not any(passwords.check_password(passwords.UNUSABLE, p) for p in ("", "!", PASSWORD))
    assert not passwords.check_password(None, "!")


def test_already_invited_and_duplicates(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com")
    response = invite(client, room, "A@example.com, b@example.com, b@example.com", htmx=True)
    assert response.status_code == 200
    page = text_of(response)
    assert "a@example.com — already invited" in page
    assert "Added 1 guest" in page
    assert Invitation.select().where(Invitation.room == room).count() == 2


def test_limit_counts_live_invitations_only(app, client, signed_in_owner, owner_browser, db):
    app.config["MAX_INVITATIONS_PER_ROOM"] = 3
    room = make_room(signed_in_owner)
    response = invite(client, room, "\n".join(f"g{i}@example.com" for i in range(5)), htmx=True)
    page = text_of(response)
    assert "Added 3 guests" in page
    assert "g3@example.com — over the limit of 3 per room" in page
    assert "g4@example.com — over the limit" in page
    assert "(3 of 3 invitations)" in page
    # Delete one: there is room for one more.
    gone = invitation(room, "g0@example.com")
    owner_browser.remove_invitation(room, gone)
    assert "Added 1 guest" in text_of(invite(client, room, "g3@example.com", htmx=True))
    assert room.live_invitations().count() == 3


def test_limit_holds_under_concurrent_invites(app, signed_in_owner, db):
    app.config["MAX_INVITATIONS_PER_ROOM"] = 5
    room = make_room(signed_in_owner)
    errors = []

    def worker(n):
        try:
            with app.app_context(), database.connection_context():
                inv_module.invite(room, [f"t{n}-{i}@example.com" for i in range(4)], "viewer")
        except Exception as exc:  # a busy database may refuse a whole batch; never overshoot
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert room.live_invitations().count() <= 5
    assert len(errors) < 3


def test_reinviting_with_another_role_says_where_to_change_it(app, client, signed_in_owner,
                                                              db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com, b@example.com")
    page = text_of(invite(client, room, "a@example.com", role="moderator", htmx=True))
    assert "a@example.com — already invited as viewer: change the role in the list below" in page
    page = text_of(invite(client, room, "b@example.com", role="viewer", htmx=True))
    assert "b@example.com — already invited as viewer" in page
    assert "change the role" not in page
    assert invitation(room, "a@example.com").role == "viewer"


def test_number_of_days_is_empty_unless_days_are_chosen(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)

    def days_input(html):
        return re.search(r'<input[^>]*name="days"[^>]*>', html).group(0)

    access = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    assert 'value="7"' not in days_input(access)
    after = invite(client, room, "a@example.com", validity="unlimited", htmx=True)
    assert 'value="7"' not in days_input(after.get_data(as_text=True))
    after = invite(client, room, "b@example.com", validity="days", days="7", htmx=True)
    assert 'value="7"' in days_input(after.get_data(as_text=True))


def test_validity_once_and_days(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    invite(client, room, "once@example.com", validity="once")
    invite(client, room, "week@example.com", validity="days", days="7")
    assert invitation(room, "once@example.com").valid_once
    expires = invitation(room, "week@example.com").expires_at
    assert abs(expires - (utcnow() + timedelta(days=7))) < timedelta(minutes=1)
    # "For N days" without a number is a clear error, nothing written.
    response = invite(client, room, "x@example.com", validity="days", days="")
    assert response.status_code == 422
    assert "Enter the number of days" in text_of(response)
    response = invite(client, room, "x@example.com", validity="days", days="0", htmx=True)
    assert response.status_code == 422 and "Enter 1 to 365 days." in text_of(response)
    assert Invitation.select().where(Invitation.email == "x@example.com").count() == 0


def test_empty_and_bad_input_never_500(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    response = invite(client, room, "   ", htmx=True)
    assert response.status_code == 422
    assert "Enter at least one email address." in text_of(response)
    response = invite(client, room, "a@example.com", role="owner")
    assert response.status_code == 422
    response = invite(client, room, "x" * 30000)
    assert response.status_code == 422 and "too much text" in text_of(response)
    response = invite(client, room, ",".join(f"m{i}@example.com" for i in range(101)))
    assert "at most 100 addresses" in text_of(response)
    assert Invitation.select().count() == 0


def test_htmx_gets_the_section_alone(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    response = invite(client, room, "a@example.com", htmx=True)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<section class="card" id="invitations"')
    assert "<html" not in html
    response = client.get(f"/rooms/{room.id}/invitations", headers=HTMX)
    assert 'id="invitations"' in response.get_data(as_text=True)
    assert client.get(f"/rooms/{room.id}/invitations").status_code == 303


def test_reinviting_a_removed_guest_revives_the_row(app, client, signed_in_owner, owner_browser,
                                                    db):
    room = make_room(signed_in_owner)
    invite(client, room, "back@example.com", role="viewer")
    first = invitation(room, "back@example.com")
    old_path = path_of(app, first)
    owner_browser.remove_invitation(room, first)
    response = invite(client, room, "back@example.com", role="moderator", htmx=True)
    assert "Added 1 guest" in text_of(response)
    again = invitation(room, "back@example.com")
    assert again.id == first.id and again.removed_at is None
    assert again.version == first.version + 1 and again.role == "moderator"
    assert again.email_status == "not_sent"
    guest = GuestActions(app)
    assert guest.get(old_path).status_code == 410  # the old link stays dead
    assert guest.get(path_of(app, again)).status_code == 200


def test_channel_room_refuses_invitations(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, kind="channel")
    assert "can't be invited" in text_of(client.get(f"/rooms/{room.id}/access"))
    response = invite(client, room, "a@example.com", htmx=True)
    assert "channel rooms" in text_of(response)
    assert Invitation.select().count() == 0


# --- per guest --------------------------------------------------------------------------------

def test_room_page_shows_role_status_and_copyable_link(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    make_user("host@example.com", access="broadcaster")
    invite(client, room, "a@example.com, host@example.com", role="moderator")
    html = client.get(f"/rooms/{room.id}/access").get_data(as_text=True)
    page = text_of(client.get(f"/rooms/{room.id}/access"))
    for words in ("Invite a guest", "Add guests", "Email guest link", "Copy guest link",
                  "Reset guest link", "Delete", "Email links to all guests", "Moderator",
                  "Email not sent"):
        assert words in page
    # Which invited addresses have host accounts is none of an owner's business.
    assert "host account" not in page
    links = links_on_page(html)
    assert len(links) == 2
    inv = invitation(room, "a@example.com")
    assert url_of(app, inv) in links
    assert links[0].startswith("http://guestgate.test/i/")
    assert f'data-copy-target="invite-link-{inv.id}"' in html
    assert f'id="invite-link-{inv.id}" value="{links[0]}" readonly' in html


def test_link_never_built_from_the_host_header(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com")
    html = client.get(f"/rooms/{room.id}/access", headers={"Host": "evil.example"}).get_data(
        as_text=True)
    assert all(link.startswith("http://guestgate.test/") for link in links_on_page(html))


def test_change_role_updates_guests_inside(app, client, signed_in_owner, owner_browser, db):
    room = make_room(signed_in_owner, require_email_match=False)
    invite(client, room, "a@example.com")
    inv = invitation(room, "a@example.com")
    guest = GuestActions(app)
    guest.post(path_of(app, inv), data={"name": "Ada"})
    assert Participant.get(Participant.invitation == inv.id).role == "viewer"
    response = owner_browser.change_role(room, inv, "speaker", htmx=True)
    assert "a@example.com is now a speaker." in text_of(response)
    assert invitation(room, "a@example.com").role == "speaker"
    assert Participant.get(Participant.invitation == inv.id).role == "speaker"
    assert "Speaker" in text_of(guest.place(room))
    assert "role_changed" in audit_actions(room)
    bad = owner_browser.change_role(room, inv, "king")
    assert bad.status_code == 422 and "Choose viewer, moderator or speaker." in text_of(bad)
    assert invitation(room, "a@example.com").role == "speaker"


def test_reset_kills_the_old_link_at_once(app, client, signed_in_owner, owner_browser, db):
    room = make_room(signed_in_owner, require_email_match=False)
    invite(client, room, "a@example.com", validity="once")
    inv = invitation(room, "a@example.com")
    old_path = path_of(app, inv)
    guest = GuestActions(app)
    guest.post(old_path, data={"name": "Ada"})
    assert guest.place(room).status_code == 200
    response = owner_browser.reset_invitation(room, inv, htmx=True)
    assert "the old link no longer works" in text_of(response)
    after = invitation(room, "a@example.com")
    assert after.version == inv.version + 1 and after.bound_device is None
    assert "invitation_reset" in audit_actions(room)
    # The guest inside through the old link is turned away on the next load; the old link too.
    assert guest.place(room).status_code == 410
    assert "This invitation is no longer valid" in text_of(app.test_client().get(old_path))
    assert app.test_client().get(path_of(app, after)).status_code == 200


def test_delete_removes_the_guest(app, client, signed_in_owner, owner_browser, db):
    room = make_room(signed_in_owner)
    invite(client, room, "a@example.com, b@example.com")
    inv = invitation(room, "a@example.com")
    response = owner_browser.remove_invitation(room, inv, htmx=True)
    page = text_of(response)
    assert "a@example.com was removed from the guest list" in page
    assert len(links_on_page(response.get_data(as_text=True))) == 1
    assert invitation(room, "a@example.com").removed_at is not None
    assert "invitation_removed" in audit_actions(room)
    # A removed guest can't be acted on any more.
    again = owner_browser.reset_invitation(room, inv)
    assert again.status_code == 404


def test_email_guest_link_writes_outbox_when_no_server(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    assert "No email server is configured" in text_of(client.get(f"/rooms/{room.id}/access"))
    invite(client, room, "a@example.com")
    inv = invitation(room, "a@example.com")
    response = client.post(f"/rooms/{room.id}/invitations/{inv.id}/email", headers=HTMX)
    assert "Emailed 1 guest" in text_of(response)
    after = invitation(room, "a@example.com")
    assert after.email_status == "sent" and after.emailed_at is not None
    assert "Email sent" in text_of(response)
    files = list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))
    assert len(files) == 1
    raw = files[0].read_text()
    assert "To: a@example.com" in raw and "invitation.ics" in raw
    assert "invitation_emailed" in audit_actions(room)


def test_invite_and_send_now_then_email_all(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    response = invite(client, room, "a@example.com, b@example.com", send_now=True, htmx=True)
    assert "Emailed 2 guests" in text_of(response)
    assert {i.email_status for i in Invitation.select()} == {"sent"}
    response = client.post(f"/rooms/{room.id}/invitations/email-all")
    assert response.status_code == 303
    assert "Emailed 2 guests" in text_of(client.get(response.headers["Location"]))
    assert len(list(Path(app.config["MAIL_OUTBOX"]).glob("*.eml"))) == 4


def test_only_the_owner_or_an_admin_manages_invitations(app, client, auth, owner, db):
    room = make_room(owner)
    make_user("other@example.com", access="broadcaster")
    auth.sign_in("other@example.com")
    assert invite(client, room, "a@example.com").status_code == 404
    auth.sign_out()
    make_user("guest@example.com", access="guest")
    auth.sign_in("guest@example.com")
    assert invite(client, room, "a@example.com").status_code == 403
    auth.sign_out()
    make_user("admin@example.com", access="admin")
    auth.sign_in("admin@example.com")
    assert invite(client, room, "a@example.com").status_code == 303
    assert Invitation.select().count() == 1
    other_room = make_room(owner, title="Other")
    inv = invitation(room, "a@example.com")
    # An invitation is only reachable through its own room.
    assert auth.remove_invitation(other_room, inv).status_code == 404


# --- seed-demo --------------------------------------------------------------------------------

def test_seed_demo_invites_one_guest_per_room(app, runner, db):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_kind = {}
    for room in data["rooms"]:
        by_kind.setdefault(room["kind"], []).append(room)
    assert by_kind["channel"][0]["invitations"] == []
    for room in by_kind["regular"]:
        [inv] = room["invitations"]
        assert inv["role"] == "viewer" and inv["email"] == "demo-guest@guestgate.example"
        path = inv["url"].removeprefix(app.config["BASE_URL"])
        response = app.test_client().get(path)
        assert response.status_code == 200 and "Login" in text_of(response)
    # Again: a fresh set of rooms, the guest's profile reused.
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert User.select().where(User.email == "demo-guest@guestgate.example").count() == 1


# --- the pure pieces --------------------------------------------------------------------------

def test_split_addresses():
    assert split_addresses("a@x.io, b@x.io;c@x.io\n\nd@x.io e@x.io") == [
        "a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]
    assert split_addresses("Ada Lovelace <ada@x.io>\r\n Bob <bob@x.io> ") == [
        "ada@x.io", "bob@x.io"]
    assert split_addresses(" ,\n ;") == []


@pytest.mark.parametrize("raw, expected", [
    ("  Ada@Example.COM ", "ada@example.com"),
    ("ADA@bücher.example", "ada@xn--bcher-kva.example"),
    ("Straße@example.com", "strasse@example.com"),
])
def test_normalize(raw, expected):
    assert emails.normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "a", "a@", "@b.com", "a@b@c.com", "a@b.com\r\nBcc: x@y.z",
                                 "x" * 250 + "@b.com"])
def test_normalize_refuses(raw):
    with pytest.raises(emails.InvalidEmail):
        emails.normalize(raw)


def test_domain_matching():
    rules = [("blocked.com", "block")]
    assert not emails.domain_allowed("a@blocked.com", rules)
    assert not emails.domain_allowed("a@sso.blocked.com", rules)
    assert emails.domain_allowed("a@notblocked.com", rules)
    allow = [("corp.com", "allow"), ("bad.corp.com", "block")]
    assert emails.domain_allowed("a@corp.com", allow)
    assert not emails.domain_allowed("a@bad.corp.com", allow)
    assert not emails.domain_allowed("a@other.com", allow)


def test_single_use_binding_belongs_to_the_first_device(app, signed_in_owner, db):
    room = make_room(signed_in_owner)
    with app.app_context():
        result = inv_module.invite(room, ["once@example.com"], "viewer", valid_once=True)
    inv = result.invitations[0]
    assert inv.bind_device("device-a")
    assert inv.bind_device("device-a")  # the same browser again
    other = Invitation.get_by_id(inv.id)
    other.bound_device = None  # a stale copy, as a racing request would hold
    assert not other.bind_device("device-b")
    assert Invitation.get_by_id(inv.id).bound_device == "device-a"


def test_token_carries_the_version(app, signed_in_owner, db):
    room = make_room(signed_in_owner)
    with app.app_context():
        inv = inv_module.invite(room, ["a@example.com"], "viewer").invitations[0]
        token = invitation_token(inv)
    assert tokens.read_token(app.config["SECRET_KEYS"], tokens.INVITE, token) == (inv.id, 1)
    assert tokens.read_token(app.config["SECRET_KEYS"], tokens.LINK, token) is None


def test_guest_profile_can_sign_in_after_choosing_a_password(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner)
    invite(client, room, "new@example.com")
    user = User.get(User.email == "new@example.com")
    User.update(password_hash=passwords.hash_password(PASSWORD)).where(
        User.id == user.id).execute()
    guest = app.test_client()
    guest.post("/sign-in", data={"email": "new@example.com", "password": PASSWORD})
    response = guest.get("/", follow_redirects=True)
    assert "My sessions" in text_of(response) and "Launch" in text_of(response)


def test_a_number_of_days_too_large_is_refused_in_words(client, signed_in_owner):
    room = make_room(signed_in_owner)
    response = client.post(f"/rooms/{room.id}/invitations",
                           data={"emails": "a@example.com", "role": "viewer",
                                 "validity": "days", "days": "9" * 400})
    assert response.status_code == 422 and "That number is too large." in text_of(response)
    assert Invitation.select().count() == 0
