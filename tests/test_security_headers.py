"""The security baseline every response carries, the friendly error pages, CSRF on every
state-changing request (plain forms and htmx), and htmx served from our own origin."""

import re

import pytest
from flask import abort
from helpers import PASSWORD, text_of

PAGES = ["/", "/sign-in", "/healthz", "/no-such-page"]


@pytest.mark.parametrize("url", PAGES)
def test_every_response_carries_the_security_headers(client, url):
    headers = client.get(url).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cache-Control"] == "no-store"
    assert "HX-Request" in headers.get_all("Vary") or "HX-Request" in headers["Vary"]
    assert "Strict-Transport-Security" not in headers  # plain http: no HSTS


def test_pages_have_no_inline_script_or_style(client, owner, auth):
    auth.sign_in()
    for url in ("/", "/sign-in", "/rooms/", "/rooms/new", "/nope"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url  # no inline event handlers


def test_friendly_404_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = text_of(response)
    assert "Page not found" in page
    assert "Go to the start page" in page
    assert "Traceback" not in page


def test_friendly_403_page(client, auth):
    from helpers import make_user

    make_user(email="guest@example.com", access="guest")
    auth.sign_in(email="guest@example.com")
    response = client.get("/rooms/")
    assert response.status_code == 403
    assert "You don't have access to this page" in text_of(response)


def test_friendly_405_page(client):
    response = client.delete("/sign-in")
    assert response.status_code == 405
    assert "That action isn't possible here" in text_of(response)
    assert "POST" in response.headers["Allow"]


def test_friendly_410_and_500_pages(app):
    app.add_url_rule("/gone-for-test", "gone_for_test", lambda: abort(410))
    app.add_url_rule("/boom-for-test", "boom_for_test", lambda: 1 / 0)
    client = app.test_client()

    gone = client.get("/gone-for-test")
    assert gone.status_code == 410
    assert "This page is no longer available" in text_of(gone)

    boom = client.get("/boom-for-test")
    assert boom.status_code == 500
    page = text_of(boom)
    assert "Something went wrong on our side" in page
    assert "ZeroDivisionError" not in page and "Traceback" not in page
    assert "unsafe-inline" not in boom.headers["Content-Security-Policy"]


def test_htmx_is_served_from_our_origin_with_a_long_cache(client):
    response = client.get("/vendor/htmx.min.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["Content-Type"]
    assert b"htmx" in response.data[:2000]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert "no-store" not in response.headers["Cache-Control"]
    response.close()
    page = client.get("/sign-in").get_data(as_text=True)
    assert '<script src="/vendor/htmx.min.js"' in page
    assert "http://" not in re.sub(r'content=\'[^\']*\'', "", page.split("<body")[0])  # no CDN


def test_base_template_is_responsive_and_accessible(client):
    html = client.get("/sign-in").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert 'href="#main"' in html and '<main id="main"' in html
    assert '"includeIndicatorStyles": false' in html
    assert '<label for="email">' in html and '<label for="password">' in html


class TestCsrf:
    """CSRF on, as in production."""

    @pytest.fixture
    def config(self, config):
        return {**config, "WTF_CSRF_ENABLED": True}

    @staticmethod
    def token_from(html: str) -> str:
        return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)

    def test_a_post_without_token_gets_the_friendly_400(self, client, owner):
        response = client.post("/sign-in", data={"email": "owner@example.com",
                                                 "password": PASSWORD})
        assert response.status_code == 400
        page = text_of(response)
        assert "This form has expired" in page
        assert "Reload the page and submit the form again." in page
        with client.session_transaction() as session:
            assert "_user_id" not in session

    def test_a_post_with_a_wrong_token_is_refused(self, client, owner):
        client.get("/sign-in")
        response = client.post("/sign-in", data={"email": "owner@example.com",
                                                 "password": PASSWORD,
                                                 "csrf_token": "forged"})
        assert response.status_code == 400

    def test_the_form_token_signs_in(self, client, owner):
        token = self.token_from(client.get("/sign-in").get_data(as_text=True))
        response = client.post("/sign-in", data={"email": "owner@example.com",
                                                 "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303

    def test_htmx_requests_carry_the_token_in_a_header_from_body(self, client, owner):
        html = client.get("/sign-in").get_data(as_text=True)
        header_token = re.search(r'<body hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'',
                                 html).group(1)
        response = client.post("/sign-in", data={"email": "owner@example.com",
                                                 "password": PASSWORD},
                               headers={"X-CSRFToken": header_token, "HX-Request": "true"})
        assert response.status_code == 303

    def test_signed_in_state_changes_need_the_token(self, client, owner):
        token = self.token_from(client.get("/sign-in").get_data(as_text=True))
        client.post("/sign-in", data={"email": "owner@example.com", "password": PASSWORD,
                                      "csrf_token": token})
        for url in ("/rooms/new", "/sign-out", "/rooms/1/delete"):
            response = client.post(url, data={"title": "x"},
                                   headers={"HX-Request": "true"})
            assert response.status_code == 400, url
        assert client.get("/rooms/").status_code == 200  # still signed in


def test_nul_in_a_query_string_is_a_clear_400(client):
    for response in (client.get("/sign-in?next=%00"), client.get("/admin/audit?action=a%00b"),
                     client.get("/s/1/status?state=%00")):
        assert response.status_code == 400
        assert "Something in the request wasn't right" in response.get_data(as_text=True)
    # In a form it is a field's error, said next to the field.
    response = client.post("/sign-in", data={"email": "a\x00@example.com", "password": "x"})
    assert response.status_code == 401
