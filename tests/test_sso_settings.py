"""Single sign-on's settings and roles, without a provider: halfway or malformed settings stop
the start naming the variable; the roles a claim gives are plain functions of its values."""

import pytest

from portal import create_app
from portal.sso import Settings, check_settings, claim_values, roles_for

ON = {"OIDC_ISSUER": "https://id.example.org/realms/staff", "OIDC_CLIENT_ID": "guestgate",
      "OIDC_CLIENT_SECRET": "s3cret"}


@pytest.mark.parametrize(("settings", "message"), [
    ({"OIDC_ISSUER": ON["OIDC_ISSUER"]},
     "configured only in part: set OIDC_CLIENT_ID, OIDC_CLIENT_SECRET too"),
    ({**ON, "OIDC_CLIENT_SECRET": ""}, "set OIDC_CLIENT_SECRET too"),
    ({"OIDC_ROLES_CLAIM": "groups"}, "OIDC_ROLES_CLAIM is set but single sign-on is not"),
    ({**ON, "OIDC_ISSUER": "id.example.org"}, "OIDC_ISSUER must be the provider's https://"),
    ({**ON, "OIDC_ISSUER": "http://id.example.org"}, "OIDC_ISSUER must be"),
    ({**ON, "OIDC_ISSUER": "https://id.example.org/?x=1"}, "OIDC_ISSUER must be"),
    ({**ON, "OIDC_SCOPES": "email profile"}, "OIDC_SCOPES must include openid"),
    ({**ON, "OIDC_ROLES_CLAIM": "realm_access..roles"}, "OIDC_ROLES_CLAIM must be"),
    ({**ON, "OIDC_ADMIN_VALUES": "gg-admins"}, "OIDC_ADMIN_VALUES needs OIDC_ROLES_CLAIM"),
    ({**ON, "OIDC_ROLES_CLAIM": "groups", "OIDC_REQUIRED_VALUES": " , "},
     "OIDC_REQUIRED_VALUES must be a comma-separated list"),
    ({**ON, "PASSWORD_SIGN_IN": "some"}, "PASSWORD_SIGN_IN must be all, admins or off"),
    ({"PASSWORD_SIGN_IN": "off"}, "PASSWORD_SIGN_IN=off needs single sign-on"),
    ({"PASSWORD_SIGN_IN": "admins"}, "PASSWORD_SIGN_IN=admins needs single sign-on"),
])
def test_halfway_or_malformed_settings_stop_the_start_naming_the_variable(config, settings,
                                                                          message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace(".", r"\.")):
        create_app({**config, **settings})


def test_complete_settings_start_without_asking_the_provider(config):
    # Nothing listens at this issuer: discovery waits for the first sign-on.
    app = create_app({**config, **ON, "OIDC_ROLES_CLAIM": "realm_access.roles",
                      "OIDC_ADMIN_VALUES": "admin", "PASSWORD_SIGN_IN": "admins"})
    assert app.config["PASSWORD_SIGN_IN"] == "admins"
    check_settings({**ON, "OIDC_ISSUER": "http://127.0.0.1:8080/realms/dev"})  # loopback http


def test_without_single_sign_on_the_sign_in_page_is_as_before(client):
    page = client.get("/sign-in")
    assert 'name="password"' in page.text and "Forgot password?" in page.text
    assert "sso" not in page.text and "single sign-on" not in page.text.lower()


@pytest.mark.parametrize(("claims", "path", "values"), [
    ({"groups": ["staff", "gg-admins"]}, "groups", ["staff", "gg-admins"]),
    ({"realm_access": {"roles": ["admin", 3]}}, "realm_access.roles", ["admin"]),
    ({"resource_access": {"guestgate": {"roles": ["host"]}}},
     "resource_access.guestgate.roles", ["host"]),
    ({"https://example.org/groups": ["staff"]}, "https://example.org/groups", ["staff"]),
    ({"role": "admin"}, "role", ["admin"]),
    ({"groups": {"staff": True}}, "groups", []),
    ({}, "groups", []),
    ({"realm_access": "x"}, "realm_access.roles", []),
])
def test_claim_values_follow_the_path(claims, path, values):
    assert claim_values(claims, path) == values


def _settings(**kw):
    base = dict(issuer="https://idp", client_id="c", client_secret="s", scopes="openid",
                name="", roles_claim="groups", admin_values=frozenset({"gg-admins"}),
                broadcaster_values=frozenset({"staff"}), required_values=frozenset())
    return Settings(**{**base, **kw})


@pytest.mark.parametrize(("groups", "access"), [
    (["gg-admins"], "admin"), (["staff", "gg-admins"], "admin"), (["staff"], "broadcaster"),
    (["marketing"], "guest"), ([], "guest"),
])
def test_roles_from_the_claim(groups, access):
    assert roles_for(_settings(), {"groups": groups}, "admin").access == access


def test_required_values_refuse_everyone_without_one():
    s = _settings(required_values=frozenset({"staff", "gg-admins"}))
    assert roles_for(s, {"groups": ["marketing"]}, None).access is None
    assert roles_for(s, {"groups": ["staff"]}, None).access == "broadcaster"
    assert roles_for(s, {}, "admin").access is None  # the claim missing: refused, not kept


def test_without_broadcaster_values_everyone_let_in_can_host():
    s = _settings(broadcaster_values=frozenset())
    assert roles_for(s, {"groups": ["anything"]}, None).access == "broadcaster"


def test_without_a_roles_claim_new_accounts_host_and_others_keep_their_access():
    s = _settings(roles_claim="", admin_values=frozenset(), broadcaster_values=frozenset())
    assert roles_for(s, {"groups": ["gg-admins"]}, None).access == "broadcaster"
    assert roles_for(s, {}, "admin").access == "admin"
    assert roles_for(s, {}, "guest").access == "guest"
    assert roles_for(s, {}, None).source == ""


def test_the_source_names_the_claim_and_the_values_that_counted():
    roles = roles_for(_settings(), {"groups": ["other", "staff", "gg-admins"]}, None)
    assert roles.source == "groups: staff, gg-admins"
    assert roles_for(_settings(), {"groups": ["x"]}, None).source == \
        "groups: none of the configured values"
