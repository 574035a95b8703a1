"""The benchmark harness can't rot: its quick mode runs here (the full run is `make bench`)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import front

ROOT = Path(__file__).resolve().parent.parent


# Serial: it runs gunicorn servers and wrk on both cores; beside the rest of the suite it took
# over ten minutes in CI's PostgreSQL pass (about two and a half alone).
@pytest.mark.serial
@pytest.mark.skipif(shutil.which("wrk") is None,
                    reason="wrk is not installed (apt-get install -y wrk); CI installs it")
@pytest.mark.skipif(front.available() is not None,
                    reason=f"the event's deploy configuration needs {front.available()}; "
                           "CI installs it")
def test_quick_benchmark_measures_every_route_the_burst_and_the_event(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "OLD_SECRET_KEYS")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out),
         "--data-dir", str(tmp_path / "data")],
        # the timeout is a guard, not a measure: minutes on a busy machine
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(out.read_text())

    assert results["server"]["worker_class"] == "gthread"
    assert (results["server"]["workers"], results["server"]["threads"]) == (2, 4)
    assert list(results["sizes"]) == ["small", "large-quick"]
    for size in results["sizes"].values():
        routes = size["routes"]
        assert set(routes) == {"ceiling", "raw_wsgi", "healthz", "lobby_get", "lobby_post",
                               "lobby_post_hooks", "lobby_post_slow_hooks", "status",
                               "guest_room", "owner_room"}
        for name, route in routes.items():
            assert not any(v for k, v in route["errors"].items() if k != "timeout"), name
            if name != "owner_room":  # ~70 ms of CPU each: a loaded machine may finish none in 1 s
                assert route["requests"] > 0, name
                assert route["rps"] > 0 and route["p99_ms"] >= route["p50_ms"] > 0, name
            no_sql = name in ("ceiling", "raw_wsgi", "healthz")
            assert route["queries"] >= (0 if no_sql else 1), name
        assert routes["ceiling"]["ratio"] == 1.0
        # the ceilings are not the portal: no SQL; the portal's /healthz is measured against them
        assert routes["ceiling"]["queries"] == routes["raw_wsgi"]["queries"] == 0
        # a browser's submission: the lobby GET gave it a device id, so the POST looks it up
        assert routes["lobby_post"]["queries"] >= 5
        # every lobby POST made a new guest
        assert routes["lobby_post"]["new_participants"] >= routes["lobby_post"]["statuses"]["303"]
        # with 3 endpoints that want each entry: its statements, and one event each (a row
        # for each endpoint), all written in the request
        hooks = routes["lobby_post_hooks"]
        assert hooks["queries"] > routes["lobby_post"]["queries"]
        assert hooks["webhook_events"] >= hooks["statuses"]["303"] > 0
        # ... and with a receiver that takes 8 s: every entry answered, each event written
        slow = routes["lobby_post_slow_hooks"]
        assert slow["webhook_events"] >= slow["statuses"]["303"] > 0
        # the owner's page in parts (issue 29 item 4): each answered, with its statements and CPU
        parts = size["owner_parts"]
        assert set(parts) == {"owner_waiting", "owner_inside", "owner_nav", "owner_access",
                              "owner_insights", "owner_details"}
        for name, part in parts.items():
            assert part["status"] == 200 and part["queries"] >= 2 and part["cpu_ms"] > 0, name
        burst = size["burst"]
        assert burst["exact"] and burst["server_errors_5xx"] == 0, burst
        assert burst["link_uses"] == burst["participants"] == burst["entries"] // 2
    assert {t["target"].split(" ")[0] for t in results["targets"]} >= {
        "lobby_get", "status", "lobby_post", "lobby_post_slow_hooks", "owner_room:",
        "owner_waiting:", "owner_inside:", "burst:", "event"}
    assert "Targets:" in done.stdout

    # The event, small: every simulated guest (each its own browser and address) got in, at
    # the start and after Admit all, with no 5xx, and the database counts each exactly once.
    # ... and the same through nginx with its push server (the deploy configuration), where
    # pages are told: every push connection held, and pushes asked for polls.
    for event in (results["event"], results["event_deploy"]):
        assert event["guests"] == 200 and event["ok"]
        assert set(event["scenarios"]) == {"start", "admit_all"}
    deploy = results["event_deploy"]["scenarios"]
    assert all(s["push_refused"] == 0 for s in deploy.values()), deploy
    assert deploy["start"]["polls_woken_by_push"] > 0
    for scenario in [*results["event"]["scenarios"].values(), *deploy.values()]:
        assert scenario["guests_inside"] == 200 and scenario["all_inside"], scenario
        assert scenario["server_errors_5xx"] == 0 and scenario["failed_guests"] == 0, scenario
        assert scenario["database"] == {"participants": 200, "admitted": 200, "link_uses": 200}
        assert scenario["page_knows_p99_s"] is not None
        assert 0 < scenario["wait"]["portal_cpu_share"] <= 1
