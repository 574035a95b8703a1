"""Hosts sign in with their organisation: single sign-on against a real OpenID provider (panva's
oidc-provider on loopback, tests/oidc/provider.js), driven over HTTP — its login and consent
pages filled in as a person would, Guestgate's side through the test client. What people
notice: the account they get and its access, the pages that refuse them, who else is signed
out, and the audit log."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from api_helpers import Api, token_for
from helpers import PASSWORD, make_user
from oidc_provider import CLIENT_ID, OTHER_ID, OTHER_SECRET, OidcProvider

from portal.models import AuditEvent, User

BASE = "http://guestgate.test"
ROLES = {"OIDC_ROLES_CLAIM": "groups", "OIDC_ADMIN_VALUES": "gg-admins",
         "OIDC_BROADCASTER_VALUES": "staff", "OIDC_REQUIRED_VALUES": "staff, gg-admins, guests"}


@pytest.fixture
def oidc(tmp_path):
    provider = OidcProvider(tmp_path / "oidc")
    yield provider
    provider.stop()


@pytest.fixture
def sso_settings():
    return ROLES


@pytest.fixture
def config(config, oidc, sso_settings):
    return {**config, **oidc.settings(**sso_settings)}


@pytest.fixture
def provider(app, oidc):
    return oidc.start(app.config["BASE_URL"])


def start(client, next_url=None):
    response = client.get("/sign-in/sso" + (f"?{urlencode({'next': next_url})}"
                                            if next_url else ""))
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def sign_on(client, oidc, login, next_url=None):
    """The SSO button, the provider's login page, and back: Guestgate's answer."""
    back = oidc.log_in(start(client, next_url), login)
    assert back.startswith(f"{BASE}/sign-in/sso/callback?")
    return client.get(back.removeprefix(BASE))


def actions() -> list[str]:
    return [e.action for e in AuditEvent.select().order_by(AuditEvent.id)]


def signed_in(client) -> bool:
    return client.get("/rooms/").status_code == 200


def test_first_sign_on_makes_the_account_with_the_mapped_role(app, client, db, provider):
    provider.add("ada", "Ada@Example.org", groups=["staff"], name="Ada Lovelace")
    response = sign_on(client, provider, "ada")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    rooms = client.get("/rooms", follow_redirects=True)
    assert rooms.status_code == 200 and "ada@example.org" in rooms.text
    user = User.get(User.email == "ada@example.org")
    assert (user.access, user.name, user.oidc_issuer, user.oidc_subject) == \
        ("broadcaster", "Ada Lovelace", provider.issuer, "ada")
    assert user.sso_roles == "groups: staff" and user.last_sign_in_at is not None
    assert actions() == ["sso_account_created"]


def test_an_admin_value_makes_an_admin_and_the_users_screen_says_how(app, client, db,
                                                                     provider):
    """Issue 27, item 6: how each account signs in, when it last did, and the claim values
    its access came from."""
    make_user("pat@example.com")  # a password account that never signed in
    provider.add("grace", "grace@example.org", groups=["staff", "gg-admins"])
    assert sign_on(client, provider, "grace").status_code == 303
    page = client.get("/admin/users")
    assert page.status_code == 200
    rows = {email: " ".join(re.sub(r"<[^>]+>", " ", row).split()) for email, row in
            re.findall(r'<tr data-email="([^"]+)">(.*?)</tr>', page.text, re.S)}
    grace = User.get(User.email == "grace@example.org")
    assert "Single sign-on (127.0.0.2)" in rows["grace@example.org"]
    assert "Access from groups: staff, gg-admins" in rows["grace@example.org"]
    assert grace.last_sign_in_at.strftime("%d %b %Y %H:%M") in rows["grace@example.org"]
    assert "Password" in rows["pat@example.com"] and "Never" in rows["pat@example.com"]


def test_removed_from_the_group_the_next_sign_on_is_refused_and_sessions_end(
        app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    assert sign_on(client, provider, "ada").status_code == 303
    assert signed_in(client)
    provider.add("ada", "ada@example.org", groups=["marketing"])
    other_browser = app.test_client()
    refused = sign_on(other_browser, provider, "ada")
    assert refused.status_code == 403
    assert "You can't sign in to Guestgate" in refused.text
    assert "doesn't give you access to Guestgate" in refused.text
    assert not signed_in(other_browser)
    assert not signed_in(client)  # the session they had ended too
    event = AuditEvent.select().where(AuditEvent.action == "sso_refused").get()
    assert event.target == "ada@example.org"
    assert "none of gg-admins, guests, staff in groups" in event.detail


def test_a_demotion_ends_the_other_sessions(app, client, db, provider):
    provider.add("grace", "grace@example.org", groups=["gg-admins"])
    assert sign_on(client, provider, "grace").status_code == 303
    assert client.get("/admin/users").status_code == 200
    provider.add("grace", "grace@example.org", groups=["staff"])
    laptop = app.test_client()
    assert sign_on(laptop, provider, "grace").status_code == 303
    assert laptop.get("/admin/users").status_code == 403  # a broadcaster now
    assert signed_in(laptop)
    assert not signed_in(client)  # the admin session elsewhere ended
    assert User.get(User.email == "grace@example.org").access == "broadcaster"
    event = AuditEvent.select().where(AuditEvent.action == "access_changed").get()
    assert event.detail.startswith("admin → broadcaster (from the sign-in provider")


@pytest.mark.parametrize("groups_after", [["staff"], ["marketing"]],
                         ids=["demoted", "removed-from-the-group"])
def test_a_demotion_or_removal_at_the_provider_ends_the_accounts_api_tokens_too(
        app, client, db, provider, groups_after):
    """Issue 27, item 3: "a demotion also ends their sessions and API tokens". A script holding
    the person's token must not outlive what the provider took away: an admin demoted to host,
    or someone no longer in the required groups (refused at sign-in, their access otherwise left
    as it was), keeps no working token — as "Sign out everywhere" revokes them."""
    provider.add("grace", "grace@example.org", groups=["gg-admins"])
    assert sign_on(client, provider, "grace").status_code == 303
    token = token_for(User.get(User.email == "grace@example.org"))
    assert Api(app, token).get("/api/v1/rooms").status_code == 200
    provider.add("grace", "grace@example.org", groups=groups_after)
    sign_on(app.test_client(), provider, "grace")
    refused = Api(app, token).get("/api/v1/rooms")
    assert refused.status_code == 401 and refused.json["code"] == "token_invalid"


def test_a_sign_on_that_keeps_the_role_keeps_the_api_tokens(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    assert sign_on(client, provider, "ada").status_code == 303
    token = token_for(User.get(User.email == "ada@example.org"))
    provider.add("ada", "ada@example.org", groups=["staff", "gg-admins"])  # a promotion
    assert sign_on(app.test_client(), provider, "ada").status_code == 303
    assert Api(app, token).get("/api/v1/rooms").status_code == 200


def test_name_and_verified_email_are_refreshed_at_each_sign_on(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"], name="Ada")
    sign_on(client, provider, "ada")
    provider.add("ada", "ada.lovelace@example.org", groups=["staff"], name="Ada Lovelace")
    sign_on(app.test_client(), provider, "ada")
    user = User.get(User.oidc_subject == "ada")
    assert (user.email, user.name) == ("ada.lovelace@example.org", "Ada Lovelace")
    assert User.select().count() == 1


def test_an_existing_password_account_is_linked_when_the_email_is_verified(
        app, client, db, provider):
    from portal.auth import reset_url

    existing = make_user("ada@example.org", access="broadcaster")
    with app.test_request_context():
        reset_link = reset_url(existing).removeprefix(BASE)  # emailed before the link
    provider.add("ada-sub", "ada@example.org", groups=["staff"], verified=True)
    assert sign_on(client, provider, "ada-sub").status_code == 303
    user = User.get_by_id(existing.id)
    assert (user.oidc_subject, user.oidc_issuer) == ("ada-sub", provider.issuer)
    assert User.select().count() == 1
    linked = AuditEvent.select().where(AuditEvent.action == "sso_linked").get()
    assert linked.target == "ada@example.org" and "verified" in linked.detail
    # Linked: it signs in at the provider now; its old password opens nothing.
    client.post("/sign-out")
    answer = client.post("/sign-in", data={"email": "ada@example.org", "password": PASSWORD})
    assert answer.status_code == 403
    assert "signs in with the button above" in answer.text
    assert not signed_in(client)
    # nor does a reset link sent before: no password to choose for it
    assert client.get(reset_link).status_code == 404
    assert client.post(reset_link, data={"password": "a new password 1",
                                         "confirm": "a new password 1"}).status_code == 404
    assert not signed_in(client)


def test_an_unverified_email_never_links_an_existing_account(app, client, db, provider):
    existing = make_user("ada@example.org", access="admin")
    provider.add("mallory", "ada@example.org", groups=["gg-admins"], verified=False)
    refused = sign_on(client, provider, "mallory")
    assert refused.status_code == 403
    assert "This address already has an account" in refused.text
    assert not signed_in(client)
    assert User.get_by_id(existing.id).oidc_subject is None
    event = AuditEvent.select().where(AuditEvent.action == "sso_refused").get()
    assert "doesn't say it is verified" in event.detail


# --- the protocol's checks: each tampering is refused with a clear page, nobody signed in --------

def _refused(response, client):
    assert response.status_code == 400
    assert "Signing in didn't work" in response.text
    assert not signed_in(client)
    assert User.select().count() == 0


def _state_data(client) -> tuple[str, dict]:
    with client.session_transaction() as session:
        key = next(k for k in session if k.startswith("_state_sso_"))
        return key, session[key]


def _tamper(client, field, value):
    key, stored = _state_data(client)
    stored["data"][field] = value
    with client.session_transaction() as session:
        session[key] = stored


def test_a_changed_state_is_refused(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    back = provider.log_in(start(client), "ada")
    query = parse_qs(urlsplit(back).query)
    query["state"] = ["forged-state"]
    _refused(client.get("/sign-in/sso/callback?" + urlencode(query, doseq=True)), client)
    assert "sso_refused" in actions()


def test_a_nonce_other_than_this_browsers_is_refused(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    back = provider.log_in(start(client), "ada")
    _tamper(client, "nonce", "not-the-nonce-the-id-token-carries")
    _refused(client.get(back.removeprefix(BASE)), client)


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    back = provider.log_in(start(client), "ada")
    _tamper(client, "code_verifier", "x" * 64)
    _refused(client.get(back.removeprefix(BASE)), client)


def test_a_code_from_another_browsers_sign_in_is_refused(app, client, db, provider):
    """An attacker's own authorization code planted in the victim's callback (code injection):
    PKCE binds the code to the browser that started."""
    provider.add("mallory", "mallory@example.org", groups=["gg-admins"])
    provider.add("ada", "ada@example.org", groups=["staff"])
    attacker = app.test_client()
    stolen = parse_qs(urlsplit(provider.log_in(start(attacker), "mallory")).query)
    victims = parse_qs(urlsplit(provider.log_in(start(client), "ada")).query)
    victims["code"] = stolen["code"]
    _refused(client.get("/sign-in/sso/callback?" + urlencode(victims, doseq=True)), client)


def test_an_id_token_issued_to_another_client_is_refused(app, client, db, provider,
                                                         monkeypatch):
    """The provider's real, well-signed ID token — for another app (aud), with this browser's
    nonce: Guestgate's token exchange is swapped for that app's answer."""
    import base64
    import hashlib
    import secrets

    provider.add("ada", "ada@example.org", groups=["staff"])
    back = provider.log_in(start(client), "ada")
    _key, stored = _state_data(client)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
        .rstrip(b"=").decode()
    redirect_uri = f"{BASE}/sign-in/sso/callback"
    authorize = f"{provider.issuer}/auth?" + urlencode({
        "client_id": OTHER_ID, "response_type": "code", "scope": "openid email profile",
        "redirect_uri": redirect_uri, "state": "s", "nonce": stored["data"]["nonce"],
        "code_challenge": challenge, "code_challenge_method": "S256"})
    code = parse_qs(urlsplit(provider.log_in(authorize, "ada")).query)["code"][0]
    other_token = requests.post(f"{provider.issuer}/token", auth=(OTHER_ID, OTHER_SECRET), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier}, timeout=5).json()
    assert "id_token" in other_token

    from authlib.integrations.flask_client.apps import FlaskOAuth2App

    monkeypatch.setattr(FlaskOAuth2App, "fetch_access_token",
                        lambda self, **kwargs: dict(other_token))
    _refused(client.get(back.removeprefix(BASE)), client)
    event = AuditEvent.select().where(AuditEvent.action == "sso_refused").get()
    assert "aud" in event.detail


# --- the provider down: Guestgate starts, and a sign-on gets a page saying so ------------

def test_the_provider_down_gives_a_clear_page_and_guestgate_still_starts(app, client, db):
    # `provider` never started: nothing listens at OIDC_ISSUER (and create_app didn't ask it)
    page = client.get("/sign-in")
    assert page.status_code == 200 and "Sign in with Contoso" in page.text
    down = client.get("/sign-in/sso")
    assert down.status_code == 503
    assert "The sign-in service can't be reached" in down.text


def test_the_provider_going_down_during_a_sign_on_gives_a_clear_page(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    back = provider.log_in(start(client), "ada")
    provider.stop()
    down = client.get(back.removeprefix(BASE))
    assert down.status_code == 503
    assert "The sign-in service can't be reached" in down.text
    assert User.select().count() == 0


# --- where the browser goes: back where it was, or to the provider's sign-out ---------

def test_the_next_page_is_kept_and_never_another_site(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    assert sign_on(client, provider, "ada", next_url="/rooms/new").headers["Location"] \
        == "/rooms/new"
    client.post("/sign-out")
    assert sign_on(client, provider, "ada", next_url="//evil.example/x") \
        .headers["Location"] == "/"


def test_sign_out_ends_the_session_and_signs_out_at_the_provider(app, client, db, provider):
    provider.add("ada", "ada@example.org", groups=["staff"])
    sign_on(client, provider, "ada")
    csp = client.get("/rooms/").headers["Content-Security-Policy"]
    assert f"form-action 'self' {provider.issuer};" in csp  # the sign-out form's redirect
    out = client.post("/sign-out")
    assert out.status_code == 303
    target = urlsplit(out.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{provider.issuer}/session/end"
    query = parse_qs(target.query)
    assert query["post_logout_redirect_uri"] == [f"{BASE}/sign-in"]
    assert query["client_id"] == [CLIENT_ID] and query["id_token_hint"][0].count(".") == 2
    assert not signed_in(client)
    # the provider accepts the request (its own sign-out page), id_token_hint and all
    assert requests.get(out.headers["Location"], timeout=5).status_code == 200


def test_a_guest_invitee_signs_on_and_lands_where_they_were_going(app, client, db, provider):
    provider.add("gus", "gus@example.org", groups=["guests"])
    response = sign_on(client, provider, "gus", next_url="/my-sessions")
    assert response.headers["Location"] == "/my-sessions"
    assert client.get("/my-sessions").status_code == 200
    assert User.get(User.email == "gus@example.org").access == "guest"


# --- the password form beside it (PASSWORD_SIGN_IN) -----------------------------------------------

@pytest.mark.parametrize("sso_settings", [{**ROLES, "PASSWORD_SIGN_IN": "admins"}])
def test_with_admins_only_the_break_glass_admin_signs_in_with_a_password(app, client, db,
                                                                         sso_settings):
    make_user("root@example.com", access="admin")
    make_user("bob@example.org", access="broadcaster")
    page = client.get("/sign-in")
    assert "Sign in with Contoso" in page.text
    assert 'name="password"' not in page.text
    assert "Sign in with a password (administrators)" in page.text
    assert 'name="password"' in client.get("/sign-in?with=password").text
    bob = client.post("/sign-in?with=password",
                      data={"email": "bob@example.org", "password": PASSWORD})
    assert bob.status_code == 403 and "signs in with the button above" in bob.text
    assert not signed_in(client)
    root = client.post("/sign-in?with=password",
                       data={"email": "root@example.com", "password": PASSWORD})
    assert root.status_code == 303 and signed_in(client)


@pytest.mark.parametrize("sso_settings", [{**ROLES, "PASSWORD_SIGN_IN": "off"}])
def test_with_passwords_off_the_page_has_only_the_button(app, client, db, sso_settings):
    make_user("root@example.com", access="admin")
    page = client.get("/sign-in")
    assert "Sign in with Contoso" in page.text and 'name="password"' not in page.text
    assert "Forgot password?" not in page.text
    answer = client.post("/sign-in", data={"email": "root@example.com",
                                           "password": PASSWORD})
    assert answer.status_code == 403 and not signed_in(client)


def test_an_invitee_who_must_sign_in_uses_the_button_and_comes_back_to_the_invitation(
        app, client, db, provider):
    import re
    from html import unescape

    from helpers import invitation_path, make_room

    from portal.models import Invitation

    provider.add("ada", "ada@example.org", groups=["staff"])
    host = make_user("ada@example.org", access="broadcaster")
    room = make_room(make_user("owner@example.com"))
    path = invitation_path(app, Invitation.create(room=room, user=host, email=host.email,
                                                  role="speaker"))
    page = client.get(path)
    assert page.status_code == 401 and "Sign in to join" in page.text
    button = re.search(r'<a class="button" href="([^"]+)">Sign in with Contoso</a>', page.text)
    assert button
    assert parse_qs(urlsplit(unescape(button.group(1))).query) == {"next": [path]}
    back = provider.log_in(client.get(unescape(button.group(1))).headers["Location"], "ada")
    response = client.get(back.removeprefix(BASE))
    assert response.status_code == 303 and response.headers["Location"] == path
    assert client.get(path).status_code != 401  # the invitation lets them in now


def test_cancelling_at_the_provider_gives_a_clear_page(app, client, db, provider):
    start(client)
    page = client.get("/sign-in/sso/callback?error=access_denied&state=x")
    assert page.status_code == 401 and "Signing in was cancelled" in page.text
    assert not signed_in(client)


def test_make_runs_server_with_oidc_settings_lets_a_person_sign_in_and_host_a_room(
        app, db, database_url, oidc, tmp_path):
    """Issue 27, done when: "a fresh clone's make run with OIDC_* pointed at a provider lets a
    person sign in and host a room". gunicorn as `make run` starts it (portal.gunicorn_conf, 2
    workers x 4 threads), its settings only from the environment; the provider's own login
    page; then a room made and Join as host (Jitsi's token, the moderator's)."""
    import jwt
    from helpers import GunicornServer
    from servers import Browser

    jitsi = {"JITSI_URL": "https://meet.example.org", "JITSI_APP_ID": "guestgate",
             "JITSI_APP_SECRET": "jitsi-secret-0123456789abcdef0123", "JITSI_AUDIENCE": "jitsi"}
    env = {**{k: str(v) for k, v in oidc.settings(**ROLES).items()}, **jitsi,
           "RATELIMIT_ENABLED": None, "TRUSTED_PROXIES": None}
    server = GunicornServer(app, database_url, tmp_path, workers=2, threads=4, env=env,
                            extra_args=("--config", "python:portal.gunicorn_conf",
                                        "--no-control-socket"))
    base = f"http://127.0.0.1:{server.port}"
    oidc.start(base).add("ada", "ada@example.org", groups=["staff"], name="Ada Lovelace")
    with server:
        person = Browser(server.port)
        page = person.get("/sign-in")
        assert page.status == 200 and "Sign in with Contoso" in page.visible
        button = person.get("/sign-in/sso")
        assert button.status == 302
        back = oidc.log_in(button.headers["location"], "ada")
        assert back.startswith(f"{base}/sign-in/sso/callback?")
        signed_in = person.get(back.removeprefix(base))
        assert signed_in.status == 303, signed_in.text

        person.get("/rooms/new")
        created = person.post("/rooms/new", {
            "title": "Made after signing on", "starts_at": "2031-01-15T10:00",
            "ends_at": "2031-01-15T11:00", "timezone": "UTC", "kind": "regular",
            "platform": "jitsi"})
        assert created.status == 303, created.visible
        room_path = urlsplit(created.headers["location"]).path.rstrip("/")
        room_id = int(room_path.split("/")[2])
        join = person.get(f"/rooms/{room_id}/join")
        assert join.status == 303, join.visible
        token = parse_qs(urlsplit(join.headers["location"]).query)["jwt"][0]
        claims = jwt.decode(token, jitsi["JITSI_APP_SECRET"], algorithms=["HS256"],
                            audience="jitsi", issuer="guestgate")
        assert claims["context"]["user"]["affiliation"] == "owner"
        assert claims["context"]["user"]["email"] == "ada@example.org"
    user = User.get(User.email == "ada@example.org")
    assert (user.access, user.oidc_subject) == ("broadcaster", "ada")
