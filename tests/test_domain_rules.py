"""The admin's email-domain rules: the screen, and their effect on inviting and on the lobby."""

import pytest
from helpers import (
    HTMX,
    GuestActions,
    invitation,
    invite,
    link_path,
    make_room,
    make_user,
    path_of,
    text_of,
)

from portal import emails
from portal.emails import normalize_domain
from portal.models import AuditEvent, DomainRule, GuestLink, Invitation


@pytest.fixture
def admin(app, auth):
    user = make_user("admin@example.com", access="admin")
    auth.sign_in("admin@example.com")
    return user


def test_admin_adds_and_removes_rules(app, client, admin, db):
    page = client.get("/admin/domains")
    assert page.status_code == 200 and "No rules" in text_of(page)
    assert "Domain rules" in text_of(client.get("/rooms/"))  # in the admin's nav
    response = client.post("/admin/domains", data={"domain": "@Blocked.EXAMPLE", "mode": "block"})
    assert response.status_code == 303
    assert "blocked.example is now blocked." in text_of(client.get("/admin/domains"))
    rule = DomainRule.get(DomainRule.domain == "blocked.example")
    assert rule.mode == "block" and rule.created_by_id == admin.id
    again = client.post("/admin/domains", data={"domain": "blocked.example", "mode": "allow"})
    assert again.status_code == 422 and "already a rule" in text_of(again)
    bad = client.post("/admin/domains", data={"domain": "not a domain", "mode": "block"})
    assert bad.status_code == 422 and "Enter a domain such as example.com." in text_of(bad)
    assert client.post(f"/admin/domains/{rule.id}/delete").status_code == 303
    assert DomainRule.select().count() == 0
    assert [e.action for e in AuditEvent.select().order_by(AuditEvent.id)] == [
        "domain_rule_added", "domain_rule_removed"]
    assert client.post(f"/admin/domains/{rule.id}/delete").status_code == 404


def test_only_admins(app, client, signed_in_owner, db):
    assert client.get("/admin/domains").status_code == 403
    assert client.post("/admin/domains", data={"domain": "x.com", "mode": "block"}) \
        .status_code == 403
    assert "Domain rules" not in text_of(client.get("/rooms/"))
    assert DomainRule.select().count() == 0


@pytest.mark.parametrize("raw, expected", [
    ("Example.COM", "example.com"), ("*.example.com", "example.com"),
    ("someone@example.com", "example.com"), ("bücher.example", "xn--bcher-kva.example"),
    ("example.com.", "example.com"), ("faß.de", "xn--fa-hia.de"), ("FAẞ.DE", "xn--fa-hia.de"),
])
def test_normalize_domain(raw, expected):
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", ["", "localhost", "-bad.com", "a..b", "a b.com", "x" * 300,
                                 "a_b.com"])
def test_normalize_domain_refuses(raw):
    with pytest.raises(ValueError):
        normalize_domain(raw)


def test_rules_and_addresses_share_one_idna_form():
    # IDNA 2003 (Python's codec) maps ß to ss: a rule for faß.de would then miss user@faß.de.
    assert emails.domain_of(emails.normalize("user@faß.de")) == normalize_domain("faß.de")


def test_an_internationalised_block_rule_refuses_the_address_in_the_lobby(app, client, admin, db):
    assert client.post("/admin/domains", data={"domain": "faß.de", "mode": "block"}) \
        .status_code == 303
    assert "xn--fa-hia.de is now blocked." in text_of(client.get("/admin/domains"))
    room = make_room(admin, guest_access_enabled=True)
    link = GuestLink.create(room=room, name="Guests")
    path = link_path(app, link)
    refused = GuestActions(app).enter(path, "Ada", "user@faß.de")
    assert refused.status_code == 403
    assert "Your organisation's email domain can't be used here" in text_of(refused)
    allowed = GuestActions(app).enter(path, "Bo", "user@fass.de")
    assert allowed.status_code == 303


def test_blocked_domain_refused_when_inviting(app, client, signed_in_owner, db):
    DomainRule.create(domain="blocked.example", mode="block")
    room = make_room(signed_in_owner)
    response = invite(client, room, "a@blocked.example, b@sso.blocked.example, c@ok.example",
                      htmx=True)
    page = text_of(response)
    assert "a@blocked.example — blocked domain" in page
    assert "b@sso.blocked.example — blocked domain" in page
    assert "Added 1 guest" in page
    assert [i.email for i in Invitation.select()] == ["c@ok.example"]


def test_allow_list_when_inviting_and_in_the_lobby(app, client, signed_in_owner, db):
    room = make_room(signed_in_owner, guest_access_enabled=True)
    invite(client, room, "ada@corp.example, bob@else.example")
    DomainRule.create(domain="corp.example", mode="allow")
    response = invite(client, room, "cy@else.example, dee@corp.example", htmx=True)
    assert "cy@else.example — blocked domain" in text_of(response)
    assert "Added 1 guest" in text_of(response)
    # Invited before the rule: the lobby applies it now.
    bob = app.test_client()
    denied = bob.post(path_of(app, invitation(room, "bob@else.example")),
                      data={"name": "Bob", "email": "bob@else.example"})
    assert denied.status_code == 403
    assert "Your organisation's email domain can't be used here" in text_of(denied)
    ada = app.test_client()
    assert ada.post(path_of(app, invitation(room, "ada@corp.example")),
                    data={"name": "Ada", "email": "ada@corp.example"}).status_code == 303


def test_htmx_form_still_plain_for_admin_screen(app, client, admin, db):
    # The admin screen is a plain page; an htmx request gets the same post/redirect/get.
    response = client.post("/admin/domains", data={"domain": "x.example", "mode": "block"},
                           headers=HTMX)
    assert response.status_code == 303
    assert DomainRule.get(DomainRule.domain == "x.example").mode == "block"


def test_the_rules_the_lobby_checks_are_every_rule_there_is(app, db):
    from portal.access import domain_rules

    assert domain_rules() == []
    DomainRule.create(domain="example.com", mode="allow")
    DomainRule.create(domain="spam.test", mode="block")
    assert sorted(domain_rules()) == [("example.com", "allow"), ("spam.test", "block")]
