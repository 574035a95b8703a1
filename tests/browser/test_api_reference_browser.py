"""The API reference page in a real Chromium: Swagger UI draws the document, every request the
page makes goes to our own origin, and the CSP blocks nothing (no console errors)."""

from urllib.parse import urlsplit


def test_the_reference_renders_under_our_csp_from_our_origin(page, live_server):
    requested, problems = [], []
    page.on("request", lambda r: requested.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto("/api/v1/docs")
    page.get_by_text("Guestgate API").first.wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/rooms").first.wait_for()
    assert page.locator(".opblock").count() > 20  # every operation drawn
    origin = urlsplit(live_server.url).netloc
    outside = [u for u in requested if urlsplit(u).scheme in ("http", "https")
               and urlsplit(u).netloc != origin]
    assert outside == []
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert problems == []
