"""The command line: `flask create-user`, `flask set-access` and `flask seed-demo`."""

import json
from datetime import UTC, datetime, timedelta

from helpers import OwnerActions, make_user

from portal.cli import DEMO_OWNER
from portal.models import Room, User


def test_create_user_reads_the_password_from_stdin(app, runner, client, db):
    result = runner.invoke(args=["create-user", "Host@Example.com", "--access", "broadcaster",
                                 "--name", "Host"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "Created host@example.com with broadcaster access." in result.output
    user = User.get(User.email == "host@example.com")
    assert user.access == "broadcaster" and user.name == "Host"
    assert user.password_hash.startswith("$argon2id$")
    auth = OwnerActions(client)
    assert auth.sign_in(email="host@example.com",
                        password="a long enough password").status_code == 303


def test_create_user_can_make_an_admin(app, runner, db):
    result = runner.invoke(args=["create-user", "boss@example.com", "--access", "admin"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert User.get(User.email == "boss@example.com").access == "admin"


def test_create_user_refuses_a_duplicate(app, runner, db):
    runner.invoke(args=["create-user", "host@example.com"], input="a long enough password\n")
    result = runner.invoke(args=["create-user", "HOST@example.com"],
                           input="another long password\n")
    assert result.exit_code == 1
    assert "An account with the email host@example.com already exists." in result.output
    assert User.select().count() == 1


def test_create_user_upgrades_a_guest_only_profile(app, runner, client, db):
    # Inviting an address makes a guest-only profile; it must not block a host account.
    profile = make_user("ada@example.com", access="guest")
    result = runner.invoke(args=["create-user", "Ada@example.com", "--name", "Ada"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert "Created ada@example.com with broadcaster access (was a guest-only profile)." \
        in result.output
    ada = User.get(User.email == "ada@example.com")
    assert (ada.id, ada.name, ada.access) == (profile.id, "Ada", "broadcaster")
    assert OwnerActions(client).sign_in(email="ada@example.com",
                                       password="a long enough password").status_code == 303


def test_set_access_changes_an_accounts_access(app, runner, db):
    make_user("host@example.com", access="guest")
    result = runner.invoke(args=["set-access", "HOST@example.com", "--access", "broadcaster"])
    assert result.exit_code == 0, result.output
    assert "host@example.com now has broadcaster access." in result.output
    assert User.get(User.email == "host@example.com").access == "broadcaster"


def test_set_access_refuses_an_unknown_address_and_the_last_admin(app, runner, db):
    result = runner.invoke(args=["set-access", "nobody@example.com", "--access", "admin"])
    assert result.exit_code == 1
    assert "No account with the email nobody@example.com." in result.output
    make_user("boss@example.com", access="admin")
    result = runner.invoke(args=["set-access", "boss@example.com", "--access", "guest"])
    assert result.exit_code == 1
    assert "boss@example.com is the only admin: make another account an admin first." \
        in result.output
    assert User.get(User.email == "boss@example.com").access == "admin"
    assert User.select().count() == 1


def test_create_user_refuses_a_short_password(app, runner, db):
    result = runner.invoke(args=["create-user", "host@example.com"], input="short\n")
    assert result.exit_code == 1
    assert "Password not accepted: Use at least 10 characters." in result.output
    assert User.select().count() == 0


def test_create_user_refuses_a_bad_email_and_an_unknown_access(app, runner, db):
    result = runner.invoke(args=["create-user", "not-an-email"], input="a long enough password\n")
    assert result.exit_code == 2
    assert "Enter a valid email address" in result.output
    result = runner.invoke(args=["create-user", "a@example.com", "--access", "superuser"],
                           input="a long enough password\n")
    assert result.exit_code == 2
    assert "superuser" in result.output
    assert User.select().count() == 0


def _parse(iso: str) -> datetime:
    assert iso.endswith("Z")
    return datetime.fromisoformat(iso)


def test_seed_demo_prints_sign_in_details_that_work(app, runner, client, db):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Guestgate demo — open http://guestgate.test/sign-in"
    assert f"  email:    {DEMO_OWNER}" in lines
    password = next(line.split()[-1] for line in lines if line.startswith("  password:"))
    for title in ("Product launch — live now", "Customer round-table", "Company channel",
                  "Open office hours — guests waiting"):
        assert title in result.output
    assert "http://guestgate.test/rooms/" in result.output

    assert OwnerActions(client).sign_in(email=DEMO_OWNER, password=password).status_code == 303
    page = client.get("/rooms/").get_data(as_text=True)
    assert "Company channel" in page and "Customer round-table" in page


def test_seed_demo_json_has_the_documented_shape(app, runner, db):
    result = runner.invoke(args=["seed-demo", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["base_url"] == "http://guestgate.test"
    assert out["owner"]["email"] == DEMO_OWNER
    assert len(out["owner"]["password"]) >= 10
    rooms = out["rooms"]
    assert len(rooms) == 4
    for room in rooms:
        assert {"id", "title", "kind", "starts_at", "url"} <= room.keys()
        assert room["url"] == f"http://guestgate.test/rooms/{room['id']}"
        assert Room.get_by_id(room["id"]).title == room["title"]
    assert [r["kind"] for r in rooms] == ["regular", "regular", "channel", "regular"]

    now = datetime.now(UTC)
    live, soon, channel, waiting = rooms
    live_room = Room.get_by_id(live["id"])
    assert _parse(live["starts_at"]) <= now < live_room.ends_at.replace(tzinfo=UTC)
    assert timedelta(minutes=55) < _parse(soon["starts_at"]) - now <= timedelta(hours=1)
    assert Room.get_by_id(soon["id"]).require_approval is True
    assert _parse(channel["starts_at"]) < now
    # Guests wait in the room that starts in an hour, and in one that is live now, where two
    # wait already: a newcomer sees a waiting room (and its alert) at once.
    assert [r["guests_wait"] for r in rooms] == [False, True, False, True]
    waiting_room = Room.get_by_id(waiting["id"])
    assert _parse(waiting["starts_at"]) <= now < waiting_room.ends_at.replace(tzinfo=UTC)
    assert waiting_room.require_approval is True
    assert [p.name for p in waiting_room.waiting_participants()] == waiting["waiting"] \
        == ["Marie Curie", "Alan Turing"]
    assert User.get(User.email == DEMO_OWNER).access == "broadcaster"


def test_seed_demo_runs_again_and_only_the_new_password_works(app, runner, client, db):
    first = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    second_run = runner.invoke(args=["seed-demo", "--json"])
    assert second_run.exit_code == 0, second_run.output
    second = json.loads(second_run.output)
    assert second["owner"]["email"] == first["owner"]["email"]
    assert second["owner"]["password"] != first["owner"]["password"]
    assert User.select().where(User.email == DEMO_OWNER).count() == 1
    assert {r["id"] for r in second["rooms"]}.isdisjoint(r["id"] for r in first["rooms"])

    auth = OwnerActions(client)
    assert auth.sign_in(email=DEMO_OWNER, password=first["owner"]["password"]).status_code == 401
    assert auth.sign_in(email=DEMO_OWNER, password=second["owner"]["password"]).status_code == 303
    for room in second["rooms"]:
        assert client.get(f"/rooms/{room['id']}", follow_redirects=True).status_code == 200


def test_seed_demo_signs_out_sessions_of_the_previous_password(app, runner, client, db):
    first = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    OwnerActions(client).sign_in(email=DEMO_OWNER, password=first["owner"]["password"])
    assert client.get("/rooms/").status_code == 200
    runner.invoke(args=["seed-demo", "--json"])
    assert client.get("/rooms/").status_code == 302


def test_seed_demo_json_gives_a_working_registration_page(app, runner, client, db):
    """The room starting in an hour takes registrations: its public page opens."""
    out = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    with_registration = [r for r in out["rooms"] if r.get("registration_url")]
    assert [r["title"] for r in with_registration] == ["Customer round-table"]
    url = with_registration[0]["registration_url"]
    assert url.startswith("http://guestgate.test/r/")
    response = client.get(url.removeprefix("http://guestgate.test"))
    assert response.status_code == 200 and "Register" in response.get_data(as_text=True)
