"""A real Chromium (Debian's /usr/bin/chromium) driven by Playwright; never downloads a browser."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--mute-audio"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def context(browser, live_server):
    ctx = browser.new_context(base_url=live_server.url)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def new_context(browser, live_server):
    """Another, separate browser (its own cookies): a second guest."""
    made = []

    def make(**kwargs):
        ctx = browser.new_context(base_url=live_server.url, **kwargs)
        ctx.set_default_timeout(10_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


# Pages that wait ask the server this often (seconds) in the browser tests: a test waits for a
# poll, not for the production interval.
FAST_POLL = 0.5


@pytest.fixture
def config(config):
    # The browser uses the real forms: CSRF on, as in production.
    return {**config, "WTF_CSRF_ENABLED": True,
            "POLL_WAITING_SECONDS": FAST_POLL, "POLL_COUNTDOWN_SECONDS": FAST_POLL,
            "POLL_COUNTDOWN_LONGEST_SECONDS": FAST_POLL,
            "POLL_OWNER_SECONDS": FAST_POLL, "POLL_DENIALS_SECONDS": FAST_POLL}
