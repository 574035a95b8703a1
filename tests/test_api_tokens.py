"""API tokens: made on the API tokens screen or by `flask create-api-token`, shown once, kept
only as a hash, listed and revoked (an admin revokes anyone's); what makes a token stop working
at once (expiry, revocation, a demoted or removed account, "Sign out everywhere"); the API takes
no session cookie; the per-token rate limit; tokens never in the logs."""

import logging
import re
from datetime import timedelta

import pytest
from api_helpers import Api, token_for, token_row
from helpers import make_room, make_user, text_of

from portal.models import ApiToken, AuditEvent, User
from portal.services import api_tokens
from portal.timeutil import utcnow

TOKEN = re.compile(r"gg_[A-Za-z0-9_-]{43}")


# --- the command line -----------------------------------------------------------------------------

def test_create_api_token_prints_the_token_alone_on_its_last_line(app, runner, db, owner):
    result = runner.invoke(args=["create-api-token", "Owner@Example.com", "--scope", "write",
                                 "--days", "30"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert TOKEN.fullmatch(token)
    row = token_row(token)
    assert (row.user_id, row.scope) == (owner.id, "write")
    assert timedelta(days=29, hours=23) < row.expires_at - utcnow() <= timedelta(days=30)
    response = Api(app, token).get("/api/v1/rooms")
    assert response.status_code == 200


@pytest.mark.parametrize("args, message", [
    (["nobody@example.com", "--scope", "read", "--days", "1"], "No account"),
    (["guest@example.com", "--scope", "read", "--days", "1"], "only broadcasters and admins"),
    (["owner@example.com", "--scope", "admin", "--days", "1"], "Invalid value for '--scope'"),
    (["owner@example.com", "--scope", "read", "--days", "0"], "Invalid value for '--days'"),
    (["owner@example.com", "--scope", "read"], "Missing option '--days'"),
])
def test_create_api_token_refuses_clearly(app, runner, db, owner, args, message):
    make_user("guest@example.com", access="guest")
    result = runner.invoke(args=["create-api-token", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert ApiToken.select().count() == 0


def test_the_database_holds_only_the_hash(app, db, owner):
    token = token_for(owner)
    row = token_row(token)
    assert row.token_hash == api_tokens.hash_token(token) != token
    assert row.prefix == token[:10]
    stored = [str(v) for row in db.execute_sql("SELECT * FROM api_token").fetchall()
              for v in row]
    assert stored and not any(token[len(api_tokens.PREFIX):] in v for v in stored)


# --- the screen -----------------------------------------------------------------------------------

def test_an_owner_makes_a_token_sees_it_once_and_it_works(app, client, signed_in_owner, db):
    page = client.get("/api-tokens")
    assert page.status_code == 200 and "Create a token" in text_of(page)
    made = client.post("/api-tokens", data={"name": "LMS sync", "scope": "write", "days": "7"})
    assert made.status_code == 201
    token = TOKEN.search(made.get_data(as_text=True)).group(0)
    assert "shown only this once" in text_of(made)
    assert made.headers["Cache-Control"] == "no-store"
    again = client.get("/api-tokens").get_data(as_text=True)
    assert "LMS sync" in again and token not in again and token[:10] in again
    assert Api(app, token).post("/api/v1/rooms", json={
        "title": "From the LMS", "starts_at": "2031-01-15T09:00:00Z",
        "ends_at": "2031-01-15T10:00:00Z"}).status_code == 201
    assert AuditEvent.get(AuditEvent.action == "api_token_created").actor_id == signed_in_owner.id


@pytest.mark.parametrize("data, message", [
    ({"name": "", "scope": "read", "days": "7"}, "Name the token"),
    ({"name": "x", "scope": "root", "days": "7"}, "Not a valid choice"),
    ({"name": "x", "scope": "read", "days": "366"}, "from 1 to 365"),
    ({"name": "x", "scope": "read", "days": "9" * 500}, "too large"),
    ({"name": "a\x00b", "scope": "read", "days": "7"}, "control characters"),
])
def test_the_screen_refuses_bad_input(client, signed_in_owner, db, data, message):
    response = client.post("/api-tokens", data=data)
    assert response.status_code == 422
    assert message in text_of(response)
    assert ApiToken.select().count() == 0


def test_guests_have_no_tokens_screen(app, client, auth, db):
    make_user("guest@example.com", access="guest")
    auth.sign_in("guest@example.com")
    assert client.get("/api-tokens").status_code == 403
    assert client.post("/api-tokens", data={"name": "x", "scope": "read",
                                            "days": "1"}).status_code == 403


def test_revoking_stops_the_token_at_once(app, client, signed_in_owner, db):
    token = token_for(signed_in_owner)
    api = Api(app, token)
    assert api.get("/api/v1/rooms").status_code == 200
    response = client.post(f"/api-tokens/{token_row(token).id}/revoke")
    assert response.status_code == 303
    refused = api.get("/api/v1/rooms")
    assert refused.status_code == 401 and refused.json["code"] == "token_invalid"
    assert "tests" not in client.get("/api-tokens").get_data(as_text=True).split("Your tokens")[1]


def test_another_owner_cant_revoke_or_see_my_token(app, client, auth, owner, db):
    mine = token_for(owner)
    make_user("other@example.com")
    auth.sign_in("other@example.com")
    assert mine[:10] not in client.get("/api-tokens").get_data(as_text=True)
    assert client.post(f"/api-tokens/{token_row(mine).id}/revoke").status_code == 404
    assert Api(app, mine).get("/api/v1/rooms").status_code == 200


def test_an_admin_sees_and_revokes_anyones_token(app, client, auth, owner, db):
    theirs = token_for(owner, name="owner's script")
    make_user("admin@example.com", access="admin")
    auth.sign_in("admin@example.com")
    page = client.get("/api-tokens").get_data(as_text=True)
    assert "Every account" in page and "owner&#39;s script" in page
    assert client.post(f"/api-tokens/{token_row(theirs).id}/revoke").status_code == 303
    assert Api(app, theirs).get("/api/v1/rooms").status_code == 401
    event = AuditEvent.get(AuditEvent.action == "api_token_revoked")
    assert event.actor_email == "admin@example.com" and "owner@example.com" in event.target


# --- what stops a token ---------------------------------------------------------------------------

def test_an_expired_token_is_refused(app, owner, db):
    token = token_for(owner, days=1)
    ApiToken.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    response = Api(app, token).get("/api/v1/rooms")
    assert response.status_code == 401
    assert response.json["code"] == "token_invalid"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="guestgate", error="invalid_token"'


def test_a_demoted_account_s_token_stops_at_once_and_works_again_if_promoted(app, runner, owner,
                                                                             db):
    token = token_for(owner)
    api = Api(app, token)
    demoted = runner.invoke(args=["set-access", "owner@example.com", "--access", "guest"])
    assert demoted.exit_code == 0
    refused = api.get("/api/v1/rooms")
    assert refused.status_code == 403 and refused.json["code"] == "account_not_owner"
    User.update(access="broadcaster").execute()
    assert api.get("/api/v1/rooms").status_code == 200


def test_a_removed_account_s_token_goes_with_it(app, owner, db):
    token = token_for(owner)
    owner.delete_instance()
    assert Api(app, token).get("/api/v1/rooms").status_code == 401
    assert ApiToken.select().count() == 0


def test_sign_out_everywhere_revokes_the_account_s_tokens(app, client, auth, owner, db):
    token = token_for(owner)
    make_user("admin@example.com", access="admin")
    auth.sign_in("admin@example.com")
    assert client.post(f"/admin/users/{owner.id}/sign-out").status_code == 303
    assert Api(app, token).get("/api/v1/rooms").status_code == 401


def test_signing_out_of_the_browser_keeps_the_account_s_tokens(app, client, signed_in_owner, auth,
                                                                db):
    # A personal sign-out ends sessions, not the scripts the owner gave a token to.
    token = token_for(signed_in_owner)
    auth.sign_out()
    assert Api(app, token).get("/api/v1/rooms").status_code == 200


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer ", "Basic b3duZXI6cGFzcw==", "Bearer gg_" + "A" * 43,
    "Bearer not-ours", "Bearer gg_" + "\u00e9" * 20, "Bearer gg_" + "A" * 5000,
])
def test_no_usable_token_is_a_401_problem(app, owner, db, header):
    client = app.test_client()
    response = client.get("/api/v1/rooms", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.json["code"] in ("token_missing", "token_invalid")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="guestgate"')


def test_the_api_takes_no_session_cookie_and_sets_none(app, client, signed_in_owner, db):
    make_room(signed_in_owner)
    assert client.get("/rooms/").status_code == 200  # signed in, on screen
    response = client.get("/api/v1/rooms")
    assert response.status_code == 401  # the cookie opens nothing here
    assert "Set-Cookie" not in response.headers
    response = client.post("/api/v1/rooms", json={"title": "CSRF", "starts_at": "2031-01-01T10:00Z",
                                                  "ends_at": "2031-01-01T11:00Z"})
    assert response.status_code == 401
    token = token_for(signed_in_owner)
    with_token = client.get("/api/v1/rooms?lang=de", headers={"Authorization": f"Bearer {token}"})
    assert with_token.status_code == 200 and "Set-Cookie" not in with_token.headers


def test_a_read_token_can_t_write(app, owner, db):
    api = Api(app, token_for(owner, scope="read"))
    response = api.post("/api/v1/rooms", json={"title": "No", "starts_at": "2031-01-01T10:00Z",
                                               "ends_at": "2031-01-01T11:00Z"})
    assert response.status_code == 403
    assert response.json["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    assert api.get("/api/v1/rooms").status_code == 200


# --- rate limit, logs -----------------------------------------------------------------------------

@pytest.fixture
def config(config):
    return {**config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": "local://",
            "API_LIMIT_PER_TOKEN": "3 per minute"}


def test_each_token_has_its_own_rate_limit(app, owner, db):
    first, second = Api(app, token_for(owner)), Api(app, token_for(owner))
    assert [first.get("/api/v1/rooms").status_code for _ in range(3)] == [200] * 3
    refused = first.get("/api/v1/rooms")
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.json["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert second.get("/api/v1/rooms").status_code == 200  # another token, its own count


def test_the_token_is_never_logged(app, owner, db, caplog):
    token = token_for(owner)
    api = Api(app, token)
    with caplog.at_level(logging.DEBUG):
        api.get("/api/v1/rooms")
        api.get("/api/v1/rooms/999")
        api.post("/api/v1/rooms", json={"title": 5})
    # (peewee's DEBUG query log shows the hash looked up: a hash can't be turned back into the
    # token, so that is harmless)
    assert token not in caplog.text
    assert token[len(api_tokens.PREFIX):] not in caplog.text
