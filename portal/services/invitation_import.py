"""Invitations from a CSV file (issue 28, item 5): the owner uploads email, name and role, sees
which rows are new, already invited, invalid, or outside the domain rules (and which don't fit
the room's invitation limit), then sends all the new ones.

A file is read whole or not at all: wrong columns, more than MAX_BYTES, not UTF-8, a cell a
spreadsheet would run as a formula, an address twice — each refuses the file with what to fix,
and nothing is imported. Sending goes through services.invitations (its limit, domain rules and
audit), every row in one transaction; the emails follow the commit."""

import csv
import io
import json
from dataclasses import dataclass, field

from flask import current_app

from .. import emails
from ..access import domain_rules
from ..audit import Actor
from ..csvfiles import FORMULA_STARTS
from ..db import database
from ..models import ROLES, Invitation, Room, User
from . import invitations as invitation_service

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 5000
COLUMNS = ("email", "name", "role")
NAME_LENGTH = 120

# A row's place in the preview, as the owner reads it.
NEW, ALREADY, INVALID, BLOCKED, OVER_LIMIT = "new", "already", "invalid", "blocked", "over_limit"
KIND_WORDS = {NEW: "New: will be invited", ALREADY: "Already invited", INVALID: "Invalid",
              BLOCKED: "Outside the email-domain rules",
              OVER_LIMIT: "Over the room's invitation limit"}


class BadFile(ValueError):
    """The file can't be imported; str() says why and what to do, for the owner."""


@dataclass
class Row:
    line: int
    email: str  # normalised when valid, else as written
    name: str
    role: str
    kind: str = NEW
    why: str = ""


@dataclass
class Preview:
    rows: list[Row]
    limit: int
    free: int  # invitations the limit leaves for this room now

    def of_kind(self, kind: str) -> list[Row]:
        return [r for r in self.rows if r.kind == kind]

    @property
    def counts(self) -> dict[str, int]:
        return {kind: len(self.of_kind(kind)) for kind in KIND_WORDS}

    def to_send(self) -> str:
        """The new rows, carried by the preview's Send all form (checked again on sending)."""
        return json.dumps([[r.email, r.name, r.role] for r in self.of_kind(NEW)])


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    email_errors: dict[str, str] = field(default_factory=dict)  # email -> why not sent


# --- reading the file -----------------------------------------------------------------------------

def read_file(data: bytes) -> list[Row]:
    """The file's rows, or BadFile. Columns by the header (any order, any case): email, and
    optionally name and role (empty: viewer). Commas or semicolons (as spreadsheets in many
    languages save)."""
    if len(data) > MAX_BYTES:
        raise BadFile(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: "
                      "split it, or import only the columns email, name and role.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadFile("The file isn't UTF-8 text: save it as “CSV UTF-8” from the "
                      "spreadsheet and upload it again.") from None
    if "\x00" in text:
        raise BadFile("The file isn't a CSV text file: save it as “CSV UTF-8” from the "
                      "spreadsheet and upload it again.")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first:
        raise BadFile("The file is empty: put the columns email, name, role in the first "
                      "line and one guest a line below it.")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        table = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as error:
        raise BadFile(f"The file isn't valid CSV ({error}).") from None
    numbered = [(n, r) for n, r in enumerate(table, start=1) if any(c.strip() for c in r)]
    header_line, header = numbered[0]
    names = [c.strip().lower() for c in header]
    unknown = [c for c in names if c not in COLUMNS]
    if "email" not in names or unknown or len(set(names)) != len(names):
        found = ", ".join(c.strip() for c in header) or "nothing"
        raise BadFile(f"The first line must name the columns email, name, role (name and role "
                      f"may be left out); it has: {found}.")
    body = numbered[1:]
    if not body:
        raise BadFile("The file has its header but no guests: one guest a line below it.")
    if len(body) > MAX_ROWS:
        raise BadFile(f"The file has {len(body)} guests; import at most {MAX_ROWS} at once.")
    rows, problems = [], []
    for line, cells in body:
        if len(cells) != len(names):
            problems.append(f"line {line} has {len(cells)} cells, the header {len(names)}")
            continue
        formula = next((c for c in cells if c.startswith(FORMULA_STARTS)), None)
        if formula is not None:
            problems.append(f"line {line} has a cell starting with “{formula[:1]}”, which a "
                            "spreadsheet runs as a formula")
            continue
        value = dict(zip(names, (c.strip() for c in cells), strict=True))
        rows.append(Row(line, value["email"], value.get("name", ""),
                        (value.get("role") or "viewer").lower()))
    if problems:
        raise BadFile("Nothing was imported: " + "; ".join(problems[:10])
                      + ("; and more" if len(problems) > 10 else "") + ". Fix the file and "
                      "upload it again.")
    _check_duplicates(rows)
    return rows


def _check_duplicates(rows: list[Row]) -> None:
    seen: dict[str, int] = {}
    twice = []
    for row in rows:
        try:
            key = emails.normalize(row.email)
        except emails.InvalidEmail:
            key = row.email.lower()
        if key in seen:
            twice.append(f"{key} (lines {seen[key]} and {row.line})")
        else:
            seen[key] = row.line
    if twice:
        raise BadFile("Nothing was imported: an address appears twice — "
                      + "; ".join(twice[:10]) + (" and more" if len(twice) > 10 else "")
                      + ". Keep one line for each guest and upload it again.")


# --- the preview ----------------------------------------------------------------------------------

def preview(room: Room, rows: list[Row]) -> Preview:
    """Each row's kind, as sending now would find it (the limit counted in the file's order)."""
    limit = current_app.config["MAX_INVITATIONS_PER_ROOM"]
    free = max(limit - invitation_service.counted_against_limit(room), 0)
    live = {email for (email,) in Invitation.select(Invitation.email).where(
        (Invitation.room == room.id) & Invitation.removed_at.is_null()).tuples()}
    rules = domain_rules()
    left = free
    for row in rows:
        try:
            row.email = emails.normalize(row.email)
        except emails.InvalidEmail as error:
            row.kind, row.why = INVALID, str(error)
            continue
        if row.role not in ROLES:
            row.kind, row.why = INVALID, f"role “{row.role}”: use viewer, moderator or speaker"
        elif len(row.name) > NAME_LENGTH:
            row.kind, row.why = INVALID, f"the name is longer than {NAME_LENGTH} characters"
        elif not emails.domain_allowed(row.email, rules):
            row.kind = BLOCKED
        elif row.email in live:
            row.kind = ALREADY
        elif left <= 0:
            row.kind = OVER_LIMIT
        else:
            row.kind = NEW
            left -= 1
    return Preview(rows, limit, free)


def rows_to_send(carried: str) -> list[Row] | None:
    """The rows a preview's Send all carried back; None when they aren't what a preview
    makes (the page was edited, or is from another version)."""
    try:
        value = json.loads(carried or "")
    except ValueError:
        return None
    limit = current_app.config["MAX_INVITATIONS_PER_ROOM"]
    if not (isinstance(value, list) and 0 < len(value) <= limit
            and all(isinstance(r, list) and len(r) == 3 and all(isinstance(c, str) for c in r)
                    for r in value)):
        return None
    return [Row(n, email, name, role) for n, (email, name, role) in enumerate(value, start=2)]


# --- sending ------------------------------------------------------------------------------------

def send_all(room: Room, rows: list[Row], actor: Actor | None = None) -> ImportResult:
    """Invite every row in one transaction (services.invitations.invite: its limit, rules and
    audit hold, so anything that changed since the preview is refused, not forced), give new
    guest profiles their name, then email each their link."""
    result = ImportResult()
    made = []
    with database.atomic():
        for row in rows:
            if row.role not in ROLES:
                result.refused.append((row.email, f"role {row.role}"))
                continue
            outcome = invitation_service.invite(room, [row.email], row.role, actor=actor)
            result.refused.extend(outcome.refused)
            result.added.extend(outcome.added)
            made.extend(outcome.invitations)
            if outcome.invitations and row.name:
                User.update(name=row.name[:NAME_LENGTH]).where(
                    (User.id == outcome.invitations[0].user_id) & (User.name == "")).execute()
    if made:
        by_id = {inv.id: inv.email for inv in made}
        for inv_id, error in invitation_service.email_invitations(made, actor).items():
            if error is not None:
                result.email_errors[by_id[inv_id]] = error
    return result
