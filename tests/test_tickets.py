"""Admission tickets: issued on the hand-off, verified by the room platform or verify-ticket."""

import json
import time
from types import SimpleNamespace

from portal import tickets

CONFIG = {"SECRET_KEY": "app-secret", "TICKET_SECRET": ""}
PERSON = SimpleNamespace(room_id=3, id=9, name="Ada", email="ada@example.com", role="speaker")


def test_issue_and_verify():
    claims, why = tickets.verify(CONFIG, tickets.issue(CONFIG, PERSON))
    assert why == ""
    assert claims["room"] == 3 and claims["participant"] == 9 and claims["role"] == "speaker"
    assert claims["name"] == "Ada" and claims["email"] == "ada@example.com"
    assert claims["exp"] - time.time() <= tickets.MAX_AGE


def test_tampered_and_expired_tickets_say_why():
    ticket = tickets.issue(CONFIG, PERSON)
    assert tickets.verify(CONFIG, ticket[:-2])[1].startswith("bad signature")
    assert tickets.verify({**CONFIG, "SECRET_KEY": "other"}, ticket)[1].startswith("bad signature")
    old = tickets.issue(CONFIG, PERSON)
    time.sleep(1.1)
    claims, why = tickets.verify(CONFIG, old, max_age=0)
    assert claims is None and why.startswith("expired")


def test_ticket_secret_is_not_the_app_key():
    assert tickets.ticket_secret(CONFIG) != CONFIG["SECRET_KEY"]
    assert tickets.ticket_secret({**CONFIG, "TICKET_SECRET": "shared"}) == "shared"


def test_join_url_keeps_the_platform_query():
    assert tickets.join_url("https://meet.example/r?id=1", "T") == \
        "https://meet.example/r?id=1&guestgate_ticket=T"
    assert tickets.join_url("https://meet.example/r", "T") == \
        "https://meet.example/r?guestgate_ticket=T"


def test_verify_ticket_command(app, runner):
    ticket = tickets.issue(app.config, PERSON)
    result = runner.invoke(args=["verify-ticket", ticket])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["email"] == "ada@example.com"
    result = runner.invoke(args=["verify-ticket", ticket + "x"])
    assert result.exit_code == 1
    assert "invalid ticket: bad signature" in result.output
