"""axe-core (axe-playwright-python, run inside Chromium) on a page: serious and critical
violations fail, with what and where in the message.

Only in a context with JavaScript on: axe runs in the page, and with JavaScript off its run
waits forever (check a no-JS page's look with JavaScript on, or not at all)."""

from axe_playwright_python.sync_playwright import Axe

_axe = Axe()


def serious_violations(page) -> list[str]:
    results = _axe.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(node["target"]) for node in violation["nodes"]][:3]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} "
                         f"at {targets}")
    return found


def assert_accessible(page, label: str = ""):
    problems = serious_violations(page)
    assert not problems, f"{label or page.url}: " + "; ".join(problems)
