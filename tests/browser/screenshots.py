"""`make screenshots`: PNGs of the main guest pages and an invited moderator's room page (in
English and German) and the owner screens — the room's four views (Live, Access, Insights,
Details) among them; owner screens are in English — at desktop (1280×800) and phone (360×740)
width, into screenshots/.

Seeds its own temporary database (tests/browser/scenes.py), serves the app on 127.0.0.1 as the
live_server fixture does, and drives the system Chromium. Run with the venv's Python:
    .venv/bin/python tests/browser/screenshots.py [OUTPUT_DIR]
"""

import logging
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# scenes.py and helpers.py, however this is run; and this checkout's portal, not whichever one
# the virtualenv has installed (a git worktree shares its main checkout's .venv)
sys.path[:0] = [str(HERE), str(HERE.parent), str(ROOT)]

from helpers import PASSWORD, LiveServer  # noqa: E402
from scenes import ADMIN, seed  # noqa: E402

from portal import create_app  # noqa: E402
from portal.db import database  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars"]
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2,
              "is_mobile": True, "has_touch": True},
}
LOCALES = {"en": "en-US", "de": "de-DE"}


def make_app(workdir: Path):
    return create_app({
        "SECRET_KEY": "screenshots-" + uuid.uuid4().hex,
        "DATABASE_URL": f"sqlite:///{workdir / 'guestgate.sqlite3'}",
        "BASE_URL": "http://127.0.0.1",
        "MAIL_OUTBOX": str(workdir / "outbox"),
        "UPLOAD_FOLDER": str(workdir / "uploads"),
        "RATELIMIT_ENABLED": False,
    })


def enter(page, url, name="Ada Guest", email="ada.guest@example.com"):
    page.goto(url)
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=email]").fill(email)
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()


def guest_pages(page, scene):
    """Each guest page in turn; yields its file name once it is shown."""
    from playwright.sync_api import expect
    page.goto(scene["live"][1])
    yield "lobby"
    page.locator("button[type=submit]").click()
    page.wait_for_load_state()
    yield "lobby-errors"
    enter(page, scene["later"][1])
    expect(page.locator("[data-countdown]")).not_to_have_text("")
    yield "countdown"
    enter(page, scene["approval"][1])
    yield "waiting"
    enter(page, scene["live"][1])
    yield "room"
    page.goto(scene["off"][1])
    yield "denied-guest-access-off"
    page.goto("/g/not-a-valid-token")
    yield "denied-link-invalid"


def owner_pages(page, scene):
    page.goto("/sign-in")
    yield "sign-in"
    page.get_by_label("Email").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/rooms/")
    yield "rooms"
    # The room's views, each its own page (the room opens on Live: its session runs).
    page.goto(f"/rooms/{scene['room'].id}")
    yield "room-live"
    for view in ("access", "insights", "details"):
        page.goto(f"/rooms/{scene['room'].id}/{view}")
        yield f"room-{view}"
    page.goto("/rooms/new")
    yield "room-form"
    page.get_by_label("Title").fill("")
    page.get_by_role("button", name="Create room").click()
    page.wait_for_load_state()
    yield "room-form-errors"
    page.goto("/admin/users")
    yield "admin-users"
    page.goto("/admin/domains")
    yield "admin-domains"


def moderator_pages(page, scene):
    """An invited moderator's room page: the Live view's waiting room and In the room, in
    English and German (owner screens stay English). One browser a size: one presence."""
    from playwright.sync_api import expect
    page.goto(scene["moderator_url"])
    page.locator("input[name=name]").fill("Mo Moderator")
    page.locator("input[name=email]").fill("mo@example.com")
    page.locator("button[type=submit]").click()
    expect(page.locator("#waiting-room")).to_be_visible()
    for lang in LOCALES:
        page.goto(f"/s/{scene['room'].id}?lang={lang}")
        expect(page.locator("#waiting-room")).to_be_visible()
        yield f"moderator-live-{lang}"


def shoot(browser, server, out: Path, scene) -> list[Path]:
    written = []
    for size, options in SIZES.items():
        for lang, locale in LOCALES.items():
            context = browser.new_context(base_url=server.url, locale=locale, **options)
            context.set_default_timeout(20_000)
            page = context.new_page()
            for name in guest_pages(page, scene):
                written.append(out / f"guest-{name}-{lang}-{size}.png")
                page.screenshot(path=written[-1], full_page=True)
            context.close()
        context = browser.new_context(base_url=server.url, **options)
        context.set_default_timeout(20_000)
        page = context.new_page()
        for name in moderator_pages(page, scene):
            written.append(out / f"{name}-{size}.png")
            page.screenshot(path=written[-1], full_page=True)
        context.close()
        context = browser.new_context(base_url=server.url, locale="en-US", **options)
        context.set_default_timeout(20_000)
        page = context.new_page()
        for name in owner_pages(page, scene):
            written.append(out / f"owner-{name}-{size}.png")
            page.screenshot(path=written[-1], full_page=True)
        context.close()
    return written


def main(argv: list[str]) -> int:
    from playwright.sync_api import sync_playwright

    out = Path(argv[1]) if len(argv) > 1 else ROOT / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    if not os.path.exists(CHROMIUM):
        print(f"no Chromium at {CHROMIUM}: apt-get install chromium", file=sys.stderr)
        return 1
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory(prefix="guestgate-screenshots-") as tmp:
        app = make_app(Path(tmp))
        with LiveServer(app) as server:
            scene = seed(app)
            database.close()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
                try:
                    written = shoot(browser, server, out, scene)
                finally:
                    browser.close()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    print(f"{len(written)} screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
