"""The API's OpenAPI document and its reference page: the document is valid OpenAPI 3 and
describes every endpoint; the reference page is Swagger UI served from our own origin under our
CSP."""

import re

from openapi_spec_validator import validate

from portal.security import CSP


def test_the_document_is_valid_openapi_3(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)  # raises on anything invalid
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}
    assert spec["security"] == [{"bearerAuth": []}]


def test_the_document_names_what_other_tools_rely_on(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/rooms"] and "post" in paths["/api/v1/rooms"]
    for path in ("/api/v1/rooms/{room_id}", "/api/v1/rooms/{room_id}/links",
                 "/api/v1/rooms/{room_id}/links/{link_id}",
                 "/api/v1/rooms/{room_id}/invitations", "/api/v1/rooms/{room_id}/guest-access",
                 "/api/v1/rooms/{room_id}/denials", "/api/v1/rooms/{room_id}/audit"):
        assert path in paths
    assert "post" in paths["/api/v1/webhooks"] and "get" in paths["/api/v1/webhooks"]
    for path in ("/api/v1/webhooks/{webhook_id}", "/api/v1/webhooks/{webhook_id}/rotate-secret",
                 "/api/v1/webhooks/{webhook_id}/test", "/api/v1/webhooks/{webhook_id}/deliveries",
                 "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/resend"):
        assert path in paths


def test_every_error_is_documented_as_a_problem(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    default = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default["content"]) == ["application/problem+json"]
    for path in spec["paths"].values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                assert "default" in operation["responses"]


def test_the_reference_page_uses_only_our_own_origin(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP
    html = response.get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html  # nothing inline for the CSP to block
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls)
    for url in urls:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert asset.headers["Content-Security-Policy"] == CSP
    with client.get("/static/api-reference.js") as response:
        script = response.get_data(as_text=True)
    assert "/api/v1/openapi.json" not in script  # from the page's data-spec, not hard-coded
    assert 'data-spec="/api/v1/openapi.json"' in html


def test_the_reference_serves_only_the_files_it_uses(client):
    with client.get("/api/v1/docs/assets/swagger-ui.css") as response:
        assert response.status_code == 200
    assert client.get("/api/v1/docs/assets/index.html").status_code == 404
    assert client.get("/api/v1/docs/assets/..%2f__init__.py").status_code == 404
