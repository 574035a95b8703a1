"""Command-line tools: create-user, set-access, seed-demo (init-db lives with the database)."""

import json
import sys
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import emails, meetings, passwords, timeutil
from .admin import AccountExists, LastAdmin, add_user, change_access
from .db import database
from .models import ACCESS_LEVELS, Room, User
from .services import alerts, api_tokens, invitations, links, registration
from .services.rooms import save as save_room

DEMO_OWNER = "demo-owner@guestgate.example"


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user)
    app.cli.add_command(set_access)
    app.cli.add_command(seed_demo)
    app.cli.add_command(verify_ticket)
    app.cli.add_command(create_api_token)
    from .background import deliver_webhooks_command, run_background_jobs_command

    app.cli.add_command(deliver_webhooks_command)
    app.cli.add_command(run_background_jobs_command)


@click.command("verify-ticket")
@with_appcontext
@click.argument("ticket")
@click.option("--audience", default=None,
              help="The join URL's origin the ticket must be for (https://meet.example.org).")
@click.option("--leeway", type=int, default=0, help="Seconds of clock difference to allow.")
def verify_ticket(ticket: str, audience: str | None, leeway: int):
    """Print an admission ticket's claims, or why it is invalid (exit status 1)."""
    from .meetings import other

    claims, why = other.verify(current_app.config, ticket, audience, leeway)
    if claims is None:
        click.echo(f"invalid ticket: {why}", err=True)
        sys.exit(1)
    click.echo(json.dumps(claims, indent=2, ensure_ascii=False))


@click.command("create-api-token")
@with_appcontext
@click.argument("email")
@click.option("--scope", type=click.Choice(api_tokens.SCOPES), required=True,
              help="read: GET only; write: every change an owner can make.")
@click.option("--days", type=click.IntRange(1, api_tokens.MAX_DAYS), required=True,
              help="How long the token works.")
@click.option("--name", default="command line", show_default=True)
def create_api_token(email: str, scope: str, days: int, name: str):
    """Make a REST API token for an owner's account. The token alone is on the last line
    (shown once: only its hash is kept)."""
    email = _normalized(email)
    user = User.get_or_none(User.email == email)
    if user is None:
        raise click.ClickException(f"No account with the email {email}.")
    try:
        row, token = api_tokens.create(user, name, scope, days)
    except api_tokens.NotAnOwner:
        raise click.ClickException(f"{email} has {user.access} access: only broadcasters and "
                                   "admins have API tokens.")
    click.echo(f"API token “{row.name}” for {email}: {scope}, until "
               f"{timeutil.iso_utc(row.expires_at)}. It is shown only now:", err=True)
    click.echo(token)


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--access", type=click.Choice(ACCESS_LEVELS), default="broadcaster",
              show_default=True)
@click.option("--name", default="")
def create_user(email: str, access: str, name: str):
    """Create an account, or give an invited address's guest-only profile a name, password and
    access. The password is read from a prompt, or from stdin when piped."""
    email = _normalized(email)
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    why = passwords.problem(password)
    if why:
        raise click.ClickException(f"Password not accepted: {why}")
    try:
        upgraded = add_user(email, name, access, password)
    except AccountExists:
        raise click.ClickException(f"An account with the email {email} already exists. "
                                   "Change its access with flask set-access.")
    click.echo(f"Created {email} with {access} access"
               + (" (was a guest-only profile)." if upgraded else "."))


@click.command("set-access")
@with_appcontext
@click.argument("email")
@click.option("--access", type=click.Choice(ACCESS_LEVELS), required=True)
def set_access(email: str, access: str):
    """Change an existing account's access."""
    email = _normalized(email)
    user = User.get_or_none(User.email == email)
    if user is None:
        raise click.ClickException(f"No account with the email {email}.")
    try:
        change_access(user, access)
    except LastAdmin:
        raise click.ClickException(f"{email} is the only admin: make another account an "
                                   "admin first.")
    click.echo(f"{email} now has {access} access.")


def _normalized(email: str) -> str:
    try:
        return emails.normalize(email)
    except emails.InvalidEmail as exc:
        raise click.BadParameter(str(exc), param_hint="EMAIL")


def _room_url(room: Room) -> str:
    return f"{current_app.config['BASE_URL']}/rooms/{room.id}"


@click.command("seed-demo")
@with_appcontext
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def seed_demo(as_json: bool):
    """A demo owner and four rooms: live now, starting in an hour, a channel room, and one
    live now where guests wait to be admitted (two are waiting already).

    Safe to run again: the owner's password is reset and a fresh set of rooms is added, so the
    printed details always work."""
    password = passwords.random_password()
    now = timeutil.utcnow()
    # With a meeting platform configured, the regular rooms use it: the whole path to the
    # live session works from the demo.
    platform = (meetings.configured(current_app.config) or [meetings.OTHER])[0]
    with database.atomic():
        owner = User.get_or_none(User.email == DEMO_OWNER)
        if owner is None:
            owner = User.create(email=DEMO_OWNER, name="Demo Owner", access="broadcaster",
                                password_hash=passwords.hash_password(password))
        else:
            owner.password_hash = passwords.hash_password(password)
            owner.password_version += 1
            owner.access = "broadcaster"
            owner.save()
        rooms = [
            Room(owner=owner, title="Product launch — live now",
                 description="Our quarterly launch, with questions from guests.",
                 speakers="Ada Lovelace\nGrace Hopper", platform=platform,
                 starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=2)),
            Room(owner=owner, title="Customer round-table",
                 description="An hour with our customers. Guests wait to be admitted.",
                 speakers="Katherine Johnson", require_approval=True, platform=platform,
                 starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2)),
            Room(owner=owner, title="Company channel", kind="channel",
                 description="The always-on company channel.",
                 starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=365)),
            # Live now, and guests already wait: the waiting list, Admit and Deny, and (with
            # nobody watching) the host alert can be seen at once.
            Room(owner=owner, title="Open office hours — guests waiting",
                 description="Drop-in questions, live now. Guests wait to be admitted.",
                 speakers="Ada Lovelace", require_approval=True, platform=platform,
                 starts_at=now - timedelta(minutes=15), ends_at=now + timedelta(hours=3)),
        ]
        for room in rooms:
            save_room(room)  # named as the owner's screens name rooms
        details = {r.id: {} for r in rooms}
        # Each feature's demo data, named here: {room id: details to print}.
        for demo in (links.seed_guest_links(owner, rooms),
                     invitations.seed_invitations(owner, rooms),
                     alerts.seed_waiting_guests(rooms),
                     registration.seed_registration(owner, rooms)):
            for room_id, extra in demo.items():
                details[room_id].update(extra)
    base = current_app.config["BASE_URL"]
    out = {
        "base_url": base,
        "owner": {"email": owner.email, "password": password},
        "rooms": [{"id": r.id, "title": r.title, "kind": r.kind, "platform": r.platform,
                   "starts_at": timeutil.iso_utc(r.starts_at), "url": _room_url(r),
                   "guests_wait": r.require_approval, **details[r.id]} for r in rooms],
    }
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"Guestgate demo — open {base}/sign-in")
    click.echo(f"  email:    {owner.email}")
    click.echo(f"  password: {password}")
    for room in out["rooms"]:
        on = "" if room["platform"] == meetings.OTHER else \
            f", on {meetings.LABELS[room['platform']]}"
        wait = ", guests wait to be admitted" if room["guests_wait"] else ""
        click.echo(f"  {room['title']} ({room['kind']}{on}{wait}, starts {room['starts_at']}): "
                   f"{room['url']}")
        if room.get("waiting"):
            click.echo(f"    waiting now: {', '.join(room['waiting'])}")
        if room.get("registration_url"):
            click.echo(f"    registration page: {room['registration_url']}")
        for link in room.get("guest_links", []):
            click.echo(f"    guest link “{link['name']}”: {link['url']}")
        for inv in room.get("invitations", []):
            click.echo(f"    invitation for {inv['email']} ({inv['role']}): {inv['url']}")
