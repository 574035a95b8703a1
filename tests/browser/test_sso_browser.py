"""Single sign-on in a real Chromium against a real OpenID provider (panva's oidc-provider on
loopback, its own login page): a host's first sign-in makes their account and they create a
room; taken out of the group, their next sign-in is refused and the session they had is gone;
sign-out signs out at the provider too and comes back to the sign-in page. The new sign-in page
passes axe and works with the keyboard alone."""

import re

import pytest
from a11y import assert_accessible
from helpers import PASSWORD, make_user
from oidc_provider import OidcProvider
from playwright.sync_api import expect
from test_keyboard import by_id, focused, tab_to

from portal.models import AuditEvent, User

ROLES = {"OIDC_ROLES_CLAIM": "groups", "OIDC_ADMIN_VALUES": "gg-admins",
         "OIDC_BROADCASTER_VALUES": "staff", "OIDC_REQUIRED_VALUES": "staff,gg-admins"}


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
def provider(live_server, oidc):
    return oidc.start(live_server.url)


@pytest.fixture
def context(context):
    # The provider's pages import a web font; this machine has no internet to fetch it from.
    context.route(re.compile(r"^https://fonts\."), lambda route: route.abort())
    return context


def log_in_at_provider(page, login):
    """The provider's own login page, then its consent page."""
    expect(page.get_by_placeholder("Enter any login")).to_be_visible()
    page.get_by_placeholder("Enter any login").fill(login)
    page.get_by_placeholder("and password").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_first_sign_in_makes_the_account_and_the_host_creates_a_room_then_loses_access(
        app, page, new_context, provider):
    provider.add("ada", "ada@example.org", groups=["staff"], name="Ada Lovelace")
    page.goto("/sign-in")
    page.get_by_role("link", name="Sign in with Contoso").click()
    log_in_at_provider(page, "ada")
    expect(page).to_have_url(re.compile(r"/rooms/$"))
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_contain_text(
        "ada@example.org")

    page.get_by_role("link", name="New room").click()
    page.get_by_label("Title").fill("Made after signing on")
    page.get_by_label("Starts").fill("2031-01-15T10:00")
    page.get_by_label("Ends").fill("2031-01-15T11:00")
    page.get_by_role("button", name="Create room").click()
    expect(page.get_by_role("heading", name="Made after signing on", level=1)).to_be_visible()
    user = User.get(User.email == "ada@example.org")
    assert (user.access, user.oidc_subject) == ("broadcaster", "ada")

    # Out of the group at the provider: the next sign-in (another browser) is refused...
    provider.add("ada", "ada@example.org", groups=["marketing"])
    other = new_context().new_page()
    other.goto("/sign-in")
    other.get_by_role("link", name="Sign in with Contoso").click()
    log_in_at_provider(other, "ada")
    expect(other.get_by_role("heading", name="You can't sign in to Guestgate")).to_be_visible()
    assert_accessible(other, "refused sign-on page")
    # ... and the session the first browser had is gone: a new tab of it is asked to sign in.
    # (Not `page` itself: its Access view's poll meets the ended session too and takes the page
    # to the sign-in page on its own, which would cut a navigation started there short.)
    again = page.context.new_page()
    again.goto("/rooms/")
    expect(again).to_have_url(re.compile(r"/sign-in\?next="))
    assert AuditEvent.select().where(AuditEvent.action == "sso_refused").count() == 1


def test_sign_out_signs_out_at_the_provider_and_comes_back(app, page, provider):
    provider.add("grace", "grace@example.org", groups=["gg-admins"])
    page.goto("/sign-in")
    page.get_by_role("link", name="Sign in with Contoso").click()
    log_in_at_provider(page, "grace")
    expect(page).to_have_url(re.compile(r"/rooms/$"))
    page.get_by_role("button", name=re.compile("Sign out")).click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider's own page
    expect(page).to_have_url(re.compile(r"/sign-in$"))
    expect(page.get_by_text("You're signed out.")).to_be_visible()
    # Signed out at the provider too: the button asks for a login again.
    page.get_by_role("link", name="Sign in with Contoso").click()
    expect(page.get_by_placeholder("Enter any login")).to_be_visible()


@pytest.mark.parametrize("sso_settings", [ROLES, {**ROLES, "PASSWORD_SIGN_IN": "admins"}],
                         ids=["passwords-for-all", "passwords-for-admins"])
def test_the_sign_in_page_passes_axe_and_works_with_the_keyboard(app, page, live_server,
                                                                 oidc, sso_settings):
    page.goto("/sign-in")
    assert_accessible(page, "sign-in page with single sign-on")
    # The button comes first, before any password field.
    info = tab_to(page, lambda i: i["id"] == "sso-sign-in" or i["name"] == "email",
                  "the first sign-in control")
    assert info["id"] == "sso-sign-in" and info["text"] == "Sign in with Contoso"
    if sso_settings.get("PASSWORD_SIGN_IN") == "admins":
        make_user("root@example.com", access="admin")
        tab_to(page, lambda i: i["text"].startswith("Sign in with a password"),
               "the break-glass link")
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"with=password"))
        assert_accessible(page, "sign-in page, password form for admins")
        tab_to(page, by_id("email"), "the email field")
        page.keyboard.type("root@example.com")
        page.keyboard.press("Tab")
        assert focused(page)["name"] == "password"
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"/rooms/$"))
    else:
        # The provider is down (never started here): Enter on the button, a clear page.
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading",
                                name="The sign-in service can't be reached")).to_be_visible()
        assert_accessible(page, "provider unreachable page")
