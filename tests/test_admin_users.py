"""The admin's Users screen: changing an account's access, and giving an invited address (a
guest-only profile) a host account."""

import pytest
from helpers import PASSWORD, invitation, invite, make_room, make_user, text_of

from portal.models import AuditEvent, Invitation, User


@pytest.fixture
def admin(app, auth):
    user = make_user("admin@example.com", access="admin")
    auth.sign_in("admin@example.com")
    return user


def access_of(email: str) -> str:
    return User.get(User.email == email).access


def test_admin_changes_an_accounts_access(app, client, admin, owner, db):
    page = client.get("/admin/users")
    html = page.get_data(as_text=True)
    assert f'action="/admin/users/{owner.id}/access"' in html
    assert "Save access of owner@example.com" in text_of(page)
    response = client.post(f"/admin/users/{owner.id}/access", data={"access": "guest"})
    assert response.status_code == 303
    assert "owner@example.com now has guest access." in text_of(client.get("/admin/users"))
    assert access_of("owner@example.com") == "guest"
    event = AuditEvent.get(AuditEvent.action == "access_changed")
    assert (event.target, event.detail, event.actor_email) == (
        "owner@example.com", "broadcaster → guest", "admin@example.com")
    assert "Changed a user's access" in text_of(client.get("/admin/audit"))
    # The demoted broadcaster's next request is refused.
    former = app.test_client()
    former.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD})
    assert former.get("/rooms/").status_code == 403


def test_an_unknown_access_or_account_changes_nothing(app, client, admin, owner, db):
    response = client.post(f"/admin/users/{owner.id}/access", data={"access": "root"})
    assert response.status_code == 422
    assert "Choose admin, broadcaster or guest access for owner@example.com." in text_of(response)
    assert client.post("/admin/users/99999/access", data={"access": "admin"}).status_code == 404
    assert access_of("owner@example.com") == "broadcaster"
    assert AuditEvent.select().count() == 0


def test_the_last_admin_cannot_give_up_admin_access(app, client, admin, db):
    response = client.post(f"/admin/users/{admin.id}/access", data={"access": "broadcaster"})
    assert response.status_code == 422
    assert "You are the only admin: make another account an admin first." in text_of(response)
    assert access_of("admin@example.com") == "admin"
    # With a second admin, they can; their admin screens close behind them.
    make_user("second@example.com", access="admin")
    response = client.post(f"/admin/users/{admin.id}/access", data={"access": "broadcaster"})
    assert response.status_code == 303 and response.location == "/rooms/"
    assert access_of("admin@example.com") == "broadcaster"
    assert client.get("/admin/users").status_code == 403


def test_an_invited_address_can_be_given_a_host_account(app, client, admin, owner, db):
    room = make_room(owner)
    owner_client = app.test_client()
    owner_client.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD})
    invite(owner_client, room, "Ada@Example.com")
    profile = User.get(User.email == "ada@example.com")
    assert profile.access == "guest"

    response = client.post("/admin/users", data={
        "email": "ada@example.com", "name": "Ada", "access": "broadcaster",
        "password": "a long enough password"})
    assert response.status_code == 303
    assert "ada@example.com added with broadcaster access." in text_of(
        client.get("/admin/users"))
    ada = User.get(User.email == "ada@example.com")
    assert (ada.id, ada.name, ada.access) == (profile.id, "Ada", "broadcaster")
    assert invitation(room, "ada@example.com").user_id == ada.id  # her invitation is kept
    assert Invitation.select().count() == 1 and User.select().count() == 3
    assert AuditEvent.get(AuditEvent.action == "user_added").detail == \
        "broadcaster (was a guest-only profile)"
    ada_client = app.test_client()
    assert ada_client.post("/sign-in", data={"email": "ada@example.com",
                                             "password": "a long enough password"}) \
        .status_code == 303
    assert ada_client.get("/rooms/").status_code == 200


def test_a_host_account_is_not_overwritten_by_add_user(app, client, admin, owner, db):
    response = client.post("/admin/users", data={
        "email": "owner@example.com", "access": "admin", "password": "a long enough password"})
    assert response.status_code == 422
    assert "An account with this email already exists" in text_of(response)
    assert access_of("owner@example.com") == "broadcaster"
    assert User.get(User.email == "owner@example.com").password_hash == owner.password_hash
