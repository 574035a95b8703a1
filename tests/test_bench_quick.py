"""The benchmark harness can't rot: its quick mode runs here (the full run is `make bench`), and the
owner's room page makes one query per list, however many rows the lists hold."""

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import count_queries

from portal.models import GuestLink, Invitation, Participant, Room, User
from portal.timeutil import utcnow

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("wrk") is None,
                    reason="wrk is not installed (apt-get install -y wrk); CI installs it")
def test_quick_benchmark_measures_every_route_and_the_burst_is_exact(tmp_path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "OLD_SECRET_KEYS")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--out", str(out),
         "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    results = json.loads(out.read_text())

    assert results["server"]["worker_class"] == "gthread"
    assert (results["server"]["workers"], results["server"]["threads"]) == (2, 4)
    assert list(results["sizes"]) == ["small", "large-quick"]
    for size in results["sizes"].values():
        routes = size["routes"]
        assert set(routes) == {"ceiling", "lobby_get", "lobby_post", "status", "guest_room",
                               "owner_room"}
        for name, route in routes.items():
            assert not any(v for k, v in route["errors"].items() if k != "timeout"), name
            if name != "owner_room":  # ~70 ms of CPU each: a loaded machine may finish none in 1 s
                assert route["requests"] > 0, name
                assert route["rps"] > 0 and route["p99_ms"] >= route["p50_ms"] > 0, name
            assert route["queries"] >= (0 if name == "ceiling" else 1), name
        assert routes["ceiling"]["ratio"] == 1.0
        # every lobby POST made a new guest
        assert routes["lobby_post"]["new_participants"] >= routes["lobby_post"]["statuses"]["303"]
        burst = size["burst"]
        assert burst["exact"] and burst["server_errors_5xx"] == 0, burst
        assert burst["link_uses"] == burst["participants"] == burst["entries"] // 2
    assert {t["target"].split(" ")[0] for t in results["targets"]} >= {
        "lobby_get", "status", "lobby_post", "owner_room:", "burst:"}
    assert "Targets:" in done.stdout


# --- the owner's room page: queries per list, not per row ---------------------------------------

def _room_with(owner, links: int, invitations: int, waiting: int) -> Room:
    now = utcnow()
    room = Room.create(owner=owner, title=f"Room with {waiting} waiting", require_approval=True,
                       guest_access_enabled=True, starts_at=now - timedelta(minutes=5),
                       ends_at=now + timedelta(hours=1))
    made = [GuestLink.create(room=room, name=f"Link {i}", max_uses=100) for i in range(links)]
    for i in range(invitations):
        email = f"invited{i}-{room.id}@example.com"
        user = User.create(email=email, password_hash="!", access="guest")
        Invitation.create(room=room, user=user, email=email, role="speaker")
    for i in range(waiting):
        Participant.create(room=room, link=made[i % links], name=f"Waiting guest {i}",
                           email=f"waiting{i}@example.org", status="waiting",
                           device=f"device-{room.id}-{i}")
    return room


def test_owner_room_page_makes_one_query_per_list_not_one_per_row(client, db,
                                                                  signed_in_owner):
    small = _room_with(signed_in_owner, links=1, invitations=1, waiting=1)
    full = _room_with(signed_in_owner, links=3, invitations=20, waiting=200)

    with count_queries() as few:
        page = client.get(f"/rooms/{small.id}")
    assert page.status_code == 200
    with count_queries() as many:
        page = client.get(f"/rooms/{full.id}")
    assert page.status_code == 200

    html = page.get_data(as_text=True)
    assert "200 waiting" in html and "Waiting guest 199" in html
    assert "invited19-" in html and "Link 2" in html
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= 10, "\n".join(many)
