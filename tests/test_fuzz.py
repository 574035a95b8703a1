"""Bad input, fuzzed: Hypothesis fills every guest, owner, admin and sign-in form (found by walking
app.url_map) and every token route with nasty values — Unicode, control characters, CR/LF,
100 KB strings, wrong types, missing, extra and repeated fields. Whatever comes in: never a 5xx,
never a generated marker echoed unescaped, never a half-written row, and never an injected email
header. More than 10,000 requests in all: each test asserts the requests it sent itself, and
their planned sum is checked without running them."""

import email
import gc
import io
import os
import sqlite3
import warnings
from datetime import timedelta
from email import policy
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import JOIN, fn
from test_security_walk import build_world, sign_in_as
from wtforms import StringField

from portal import emails, passwords, tokens
from portal.emails import normalize_domain
from portal.forms import (
    AccessForm,
    AttachmentForm,
    DomainRuleForm,
    ForgotPasswordForm,
    GuestAccessForm,
    HostMessageForm,
    InvitationImportForm,
    InvitationImportSendForm,
    InviteForm,
    LinkForm,
    LobbyForm,
    NewUserForm,
    PresenceRoleForm,
    QuestionForm,
    RegistrationSettingsForm,
    ReminderForm,
    ResetPasswordForm,
    RoleForm,
    RoomForm,
    SignInForm,
    extend_form,
    raise_form,
    registration_form,
)
from portal.models import (
    Attachment,
    DomainRule,
    GuestLink,
    Invitation,
    Participant,
    Room,
    User,
)
from portal.services import registration
from portal.timeutil import utcnow

# Every POST route of the audiences' blueprints → the form its view reads (None: no fields).
# test_every_post_route_is_fuzzed fails when a new route is missing here.
FORMS = {
    "guest.link_lobby": LobbyForm,
    "guest.invite_lobby": LobbyForm,
    "guest.leave": None,
    "guest.moderator_admit": None,
    "guest.moderator_deny": None,
    "guest.moderator_admit_all": None,
    "guest.moderator_remove": None,
    "guest.moderator_move": None,
    "guest.moderator_role": PresenceRoleForm,
    "guest.moderator_allow": None,
    "auth.sign_in": SignInForm,
    "auth.sign_out": None,
    "auth.forgot_password": ForgotPasswordForm,
    "auth.reset_password": ResetPasswordForm,
    "owner.new_room": RoomForm,
    "owner.edit_room": RoomForm,
    "owner.delete_room": None,
    "owner.host_message": HostMessageForm,
    "owner.upload_attachment": AttachmentForm,
    "owner.delete_attachment": None,
    "owner.guest_access": GuestAccessForm,
    "owner.create_link": LinkForm,
    "owner.delete_link": None,
    "owner.add_invitations": InviteForm,
    "owner.change_role": RoleForm,
    "owner.email_invitation": None,
    "owner.email_all": None,
    "owner.reset_invitation": None,
    "owner.delete_invitation": None,
    "owner.admit": None,
    "owner.deny": None,
    "owner.admit_all": None,
    "owner.remove_guest": None,
    "owner.move_guest": None,
    "owner.guest_role": PresenceRoleForm,
    "owner.allow_again": None,
    "admin.users": NewUserForm,
    "admin.sign_out_everywhere": None,
    "admin.set_access": AccessForm,
    "admin.domains": DomainRuleForm,
    "admin.delete_domain": None,
    # The denial panel's fixes; the forms' prefixes carry the link's id.
    "owner.fix_guest_access": None,
    "owner.extend_link": lambda v: extend_form(v["link_id"]),
    "owner.raise_link_limit": lambda v: raise_form(v["link_id"]),
    "owner.invite_again": None,
    "owner.resend_invitation": None,
    # Registration: the owner's screen, the public page (with the world's room's questions)
    # and the registrant's cancel page.
    "owner.registration_settings": RegistrationSettingsForm,
    "owner.registration_question_add": QuestionForm,
    "owner.registration_question_delete": None,
    "owner.registration_link_reset": None,
    "owner.registration_decide": lambda v: DecideFields(),
    "guest.register": lambda v: registration_form(registration.questions_of(
        registration.settings_of(Room.get_by_id(v["room_id"])))),
    "guest.cancel_registration": None,
    # The invitations' CSV import (its file left out: the field without a file), reminders.
    "owner.registration_reminders": ReminderForm,
    "owner.invitation_import_preview": InvitationImportForm,
    "owner.invitation_import_send": InvitationImportSendForm,
}


class DecideFields(FlaskForm):
    """What the registrants list posts (read from request.form by the view)."""
    action = StringField()
    one = StringField()
    ids = StringField()
    decide = StringField()  # a row's own button: "approve:ID" / "decline:ID"
    show = StringField()  # the list's status filter and page, kept by a decision
    page = StringField()
BLUEPRINTS = ("guest.", "owner.", "admin.", "auth.")
MIN_REQUESTS = 10_000
# Examples per route (each sends its form three times: plain, htmx, and as multipart); the room
# form renders every time zone, so it gets fewer. GUESTGATE_FUZZ_EXAMPLES overrides the base.
EXAMPLES_PER_FORM = int(os.environ.get("GUESTGATE_FUZZ_EXAMPLES", "110"))
FEWER = {"owner.new_room": 3, "owner.edit_room": 3}  # divisors
# Routes that change the shared world (undone after each example), or make users or files.
CHANGES_WORLD = ("owner.delete_", "owner.admit", "owner.deny", "owner.edit_room",
                 "owner.registration_", "guest.cancel_registration",
                 "owner.extend_link", "owner.raise_link_limit", "owner.invite_again",
                 "admin.delete_domain", "guest.leave", "guest.moderator_", "owner.remove_guest",
                 "owner.move_guest", "owner.guest_role", "owner.allow_again")
MAKES_USERS_OR_FILES = ("admin.users", "admin.domains", "owner.add_invitations",
                        "owner.invitation_import_send",
                        "auth.reset_password", "owner.upload_attachment",
                        "owner.delete_attachment")

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_FORM, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example])


# --- what the fuzzer types ------------------------------------------------------------------------

NASTY = [
    "", " ", "\r\n", "\n", "\t", "\x00", "\x7f", "\u2028", "\u0085", "\ufeff", "\u202e",
    "a\r\nBcc: victim@example.org", "x\nX-Evil: 1", "%0d%0aBcc:%20v@example.org",
    "'; DROP TABLE room; --", "{{ 7*7 }}", "{% raw %}", "${7*7}", "../../etc/passwd",
    "None", "null", "true", "[]", "{}", "-1", "0", "1", "1e308", "NaN", "9" * 40, "٣",
    "e\u0301", "\U0001d54f", "ß", "İ", "\uffff", "😀" * 3, "javascript:alert(1)",
]
# Lengths around the limits, and a 100 KB string.
SIZES = [99, 100, 101, 200, 201, 254, 255, 500, 501, 5001, 20001, 100_000]


def marker_strategy():
    return st.integers(0, 10**6).flatmap(lambda n: st.sampled_from([
        f"<x-fuzz-{n}>", f'"><script>fz{n}</script>', f"'><img src=x onerror=fz{n}>"]))


base_text = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]), max_size=8),
    st.sampled_from(NASTY),
    # codec: a lone surrogate can't be sent at all (the test client fails to encode it)
    st.builds(lambda ch, n: (ch or "A") * n, st.characters(codec="utf-8"), st.sampled_from(SIZES)),
    st.integers().map(str),
    st.floats(allow_nan=True).map(str),
)


class Marked:
    """Text around a marker, filled in once the example's markers are drawn."""

    def __init__(self, parts):
        self.before, self.after, self.which = parts

    def fill(self, markers: list[str]) -> str:
        return self.before + markers[self.which % len(markers)] + self.after


marked_text = st.builds(Marked, st.tuples(base_text, base_text, st.integers(0, 3)))


def with_marker(markers: list[str]):
    """Text that sometimes carries a marker, which must never come back unescaped."""
    return st.one_of(base_text, marked_text.map(lambda m: m.fill(markers)))


_n = st.integers(0, 10**6)
_good_email = _n.map(lambda i: f"guest{i}@example.com")
_any_email = st.one_of(
    _good_email,
    st.tuples(st.text(max_size=12), st.sampled_from(["example.com", "bücher.example", "x",
                                                     "[127.0.0.1]", "blocked.example"]))
    .map(lambda t: f"{t[0]}@{t[1]}"),
    st.sampled_from(["not-an-email", "a@b", "Ada <ada@example.com>", "ADA@Example.COM",
                     "ada@example.com\r\nBcc: v@example.org", "\"a b\"@example.com",
                     "a" * 250 + "@example.com"]),
)
_dates = st.sampled_from([
    "2030-01-01T10:00", "2030-01-01T11:00:30", "2099-12-31T23:59", "0001-01-01T00:00",
    "9999-12-31T23:59", "2030-02-30T10:00", "2030-01-01 10:00", "yesterday", "",
    # Europe/Berlin: a wall-clock hour that doesn't exist, and one that happens twice
    "2030-03-31T02:30", "2030-03-31T03:10", "2030-10-27T02:30"])
PLAUSIBLE = {
    "name": st.sampled_from(["Ada Lovelace", "Zoë", "李雷", "O'Brien"]),
    "email": _any_email,
    "password": st.sampled_from(["correct horse battery", "short", "x" * 201]),
    "confirm": st.sampled_from(["correct horse battery", "other password!"]),
    "timezone": st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Kiritimati",
                                 "America/St_Johns", "Not/AZone", "utc", ""]),
    "title": st.sampled_from(["Launch", "Q&A <live>", "Ünïcode"]),
    "description": st.sampled_from(["Line one\r\nLine two", "x" * 5000, ""]),
    "speakers": st.sampled_from(["Ada\r\nGrace", ""]),
    "starts_at": _dates, "ends_at": _dates,
    "kind": st.sampled_from(["regular", "channel", "other"]),
    "require_approval": st.sampled_from(["y", "", "false", "0"]),
    "require_email_match": st.sampled_from(["y", "", "off"]),
    "join_url": st.sampled_from(["https://live.example.com/r/1", "http://x", "ftp://x",
                                 "javascript:alert(1)", "//evil.example", ""]),
    "message": st.sampled_from(["Starting soon", "x" * 501, ""]),
    "enabled": st.sampled_from(["on", "off", "ON", "1"]),
    "link-name": st.sampled_from(["Guests", "Speakers"]),
    "link-max_uses": st.sampled_from(["1", "3", "1000000", "1000001", "0", "-5", "2.5", "１０",
                                      "9" * 30, ""]),
    "link-duration_days": st.sampled_from(["1", "3650", "3651", "0", "x", "9" * 30, ""]),
    "emails": st.lists(_any_email, max_size=25).map(", ".join),
    "role": st.sampled_from(["viewer", "moderator", "speaker", "admin", ""]),
    "validity": st.sampled_from(["unlimited", "once", "days", "forever"]),
    "days": st.sampled_from(["1", "7", "365", "366", "0", "-1", "x", "9" * 30, ""]),
    "send_now": st.sampled_from(["y", ""]),
    "access": st.sampled_from(["admin", "broadcaster", "guest", "root"]),
    "domain": st.sampled_from(["example.org", "*.bücher.example", "@Example.NET", "-x-.com",
                               "a" * 64 + ".com", "localhost", "xn--.com"]),
    "mode": st.sampled_from(["block", "allow", "maybe"]),
    "clicks": st.sampled_from(["1", "10", "1000000", "0", "-1", "x", "9" * 30, ""]),
}
_FIELD_VALUES: dict[str, st.SearchStrategy] = {}


def field_value(field: str):
    """A value (plausible, nasty or marked), several values (a repeated field), or the field
    left out (None). Built once per field name: building strategies is slow."""
    if field not in _FIELD_VALUES:
        plausible = PLAUSIBLE.get(field)
        if plausible is None:
            plausible = PLAUSIBLE.get(field.rsplit("-", 1)[-1], st.text(max_size=20))
        one = st.one_of(plausible, plausible, base_text, marked_text)
        _FIELD_VALUES[field] = st.one_of(one, one, one, st.lists(one, min_size=2, max_size=3),
                                         st.none())
    return _FIELD_VALUES[field]


_extra = st.dictionaries(
    st.one_of(st.text(min_size=1, max_size=10),
              st.sampled_from(["csrf_token", "id", "owner", "uses", "access", "is_admin"])),
    st.one_of(base_text, marked_text), max_size=3)


def _fill(value, markers):
    if isinstance(value, list):
        return [_fill(v, markers) for v in value]
    return value.fill(markers) if isinstance(value, Marked) else value


@st.composite
def form_data(draw, fields: list[str]):
    markers = draw(st.lists(marker_strategy(), min_size=1, max_size=2))
    data = {}
    for field in fields:
        value = draw(field_value(field))
        if value is not None:
            data[field] = _fill(value, markers)
    for key, value in draw(_extra).items():
        data.setdefault(key, _fill(value, markers))
    return data, markers


# --- sending and checking -------------------------------------------------------------------------

# Requests each example sends: the forms three times (plain, htmx, multipart), tokens twice
# (as drawn, and with a marker appended), invitations once.
FORM_SENDS, TOKEN_SENDS, EMAIL_SENDS = 3, 2, 1
TOKEN_KINDS = [(tokens.LINK, "/g/"), (tokens.INVITE, "/i/"), ("reset", "/reset-password/")]


def form_examples(endpoint: str) -> int:
    return EXAMPLES_PER_FORM // FEWER.get(endpoint, 1)


def check(response, markers, what):
    assert response.status_code < 500, (what, response.status_code)
    body = response.get_data(as_text=True)
    location = response.headers.get("Location", "") + response.headers.get("HX-Redirect", "")
    for marker in markers:
        assert marker not in body, (what, "unescaped echo", marker)
        assert marker not in location, (what, "marker in a redirect", marker)


def field_names(app, form_class, values) -> list[str]:
    """The names a browser sends for the view's form: a FlaskForm class, or a function of the
    world's ids that makes the form (for forms whose prefix carries an id)."""
    if form_class is None:
        return []
    with app.test_request_context():
        form = form_class(formdata=None) if isinstance(form_class, type) else form_class(values)
        return [f.name for f in form if f.name != "csrf_token"]


def check_invariants(app, upload_folder: Path, everything: bool = True):
    """Whatever was sent: no half-written rows, every limit and rule of the model holds."""
    # A click is never counted without its participant (and never beyond the limit).
    uses = (GuestLink.select(GuestLink.id, GuestLink.uses, GuestLink.max_uses,
                             fn.COUNT(Participant.id).alias("through"))
            .join(Participant, JOIN.LEFT_OUTER, on=(Participant.link == GuestLink.id))
            .group_by(GuestLink.id, GuestLink.uses, GuestLink.max_uses).tuples())
    for link_id, used, max_uses, through in uses:
        assert used == through, ("uses != participants", link_id, used, through)
        assert max_uses is None or used <= max_uses, ("over the click limit", link_id)
    # No invitation without its user, and the user is the invited address.
    orphans = (Invitation.select().join(User, JOIN.LEFT_OUTER, on=(Invitation.user == User.id))
               .where(User.id.is_null() | (User.email != Invitation.email)).count())
    assert orphans == 0, "invitation without its user"
    assert Room.select().where(Room.ends_at <= Room.starts_at).count() == 0, "room ends <= start"
    for room_id, live in (Invitation.select(Invitation.room, fn.COUNT(Invitation.id))
                          .where(Invitation.removed_at.is_null()).group_by(Invitation.room)
                          .tuples()):
        assert live <= app.config["MAX_INVITATIONS_PER_ROOM"], ("invitations", room_id)
    for room_id, live in (GuestLink.select(GuestLink.room, fn.COUNT(GuestLink.id))
                          .where(GuestLink.deleted_at.is_null()).group_by(GuestLink.room)
                          .tuples()):
        assert live <= app.config["MAX_LINKS_PER_ROOM"], ("links", room_id)
    # A participant belongs to the room of the link or invitation it came through.
    stray = (Participant.select().join(GuestLink, on=(Participant.link == GuestLink.id))
             .where(GuestLink.room != Participant.room).count())
    stray += (Participant.select().join(Invitation, on=(Participant.invitation == Invitation.id))
              .where(Invitation.room != Participant.room).count())
    assert stray == 0, "participant in another room than its door"
    if not everything:
        return
    # Every attachment has its file, and no file is left without its row.
    stored = {a.stored_name for a in Attachment.select(Attachment.stored_name)}
    on_disk = {p.name for p in upload_folder.iterdir()} if upload_folder.exists() else set()
    assert stored == on_disk, ("attachments vs files", stored ^ on_disk)
    # Emails and domains are kept in the normalised form the lookups compare with.
    for (address,) in User.select(User.email).tuples():
        assert emails.normalize(address) == address, address
    for (domain,) in DomainRule.select(DomainRule.domain).tuples():
        assert normalize_domain(domain) == domain, domain


@pytest.fixture
def fast_passwords(monkeypatch):
    """Argon2 at its lowest cost: the fuzzer exercises input handling, not hashing."""
    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY", hasher.hash("dummy password"))


@pytest.fixture
def fuzz_world(app, db, tmp_path, fast_passwords, database_url):
    if database_url.startswith("sqlite:///"):
        # Requests run in this thread and close its connection; another one held open spares
        # SQLite a WAL checkpoint at every close.
        keeper = sqlite3.connect(database_url[len("sqlite:///"):])
        yield from _world(app, tmp_path)
        keeper.close()
    else:
        yield from _world(app, tmp_path)


def _world(app, tmp_path):
    world = build_world(app, tmp_path)
    values = world["values"]
    Room.update(require_approval=True).where(Room.id == values["room_id"]).execute()
    GuestLink.update(max_uses=25).where(GuestLink.id == values["link_id"]).execute()
    # The world's participant came in through the link: one use.
    GuestLink.update(uses=1).where(GuestLink.id == values["link_id"]).execute()
    # An invited moderator inside the room, in a browser of its own (the guest.* room routes).
    Invitation.update(role="moderator").where(Invitation.id == values["invitation_id"]).execute()
    guest = world["users"]["guest user"]
    world["moderator"] = Participant.create(
        room=values["room_id"], invitation=values["invitation_id"], name="Mo", email=guest.email,
        role="moderator", status="admitted", device=MODERATOR_DEVICE).id
    # Registration open on the room, with a question of each kind and one registrant.
    room = Room.get_by_id(values["room_id"])
    with app.test_request_context():
        registration.save_settings(room, enabled=True, mode="approval", capacity=5,
                                   opens_at=None, closes_at=None)
        for kind in ("short", "long", "choice", "choices", "checkbox"):
            registration.add_question(room, f"Q {kind}", kind, kind == "short", ["A", "B"])
        registration.register(room, "Reg", "reg@example.com", {"q1": "x"})
        reg = registration.registrations(room)[0]
        world["cancel_token"] = registration.cancel_token(reg)
        world["register_token"] = registration.page_token(registration.settings_of(room))
        values["question_id"] = registration.questions_of(registration.settings_of(room))[0]["id"]
    yield world


MODERATOR_DEVICE = "moderator-device"
GUEST_ROOM_ROUTES = ("guest.leave", "guest.moderator_")


def revive(world):
    """Undo what destructive routes did, so every example meets the same world."""
    v = world["values"]
    Room.update(deleted_at=None).where(Room.id == v["room_id"]).execute()
    GuestLink.update(deleted_at=None, max_uses=25, expires_at=None).where(
        GuestLink.id == v["link_id"]).execute()
    Invitation.update(removed_at=None).where(Invitation.id == v["invitation_id"]).execute()
    Participant.update(status="waiting", removed_at=None, moved_at=None).where(
        Participant.id == v["participant_id"]).execute()
    Participant.update(status="admitted", role="moderator", removed_at=None, moved_at=None).where(
        Participant.id == world["moderator"]).execute()
    if not DomainRule.get_or_none(DomainRule.id == v["rule_id"]):
        v["rule_id"] = DomainRule.create(domain=f"blocked{utcnow().timestamp():.0f}.example",
                                         mode="block").id


# --- the forms ------------------------------------------------------------------------------------

def post_rules(app):
    return sorted((r for r in app.url_map.iter_rules()
                   if "POST" in r.methods and r.endpoint.startswith(BLUEPRINTS)),
                  key=lambda r: r.endpoint)


def test_every_post_route_is_fuzzed(app):
    endpoints = {r.endpoint for r in post_rules(app)}
    missing = endpoints - set(FORMS)
    assert not missing, f"add these POST routes to FORMS in tests/test_fuzz.py: {missing}"
    assert set(FORMS) <= endpoints, f"routes gone: {set(FORMS) - endpoints}"


@st.composite
def upload(draw, markers):
    """The file field: a file with a nasty name, plain text instead of a file, or nothing."""
    filename = draw(st.one_of(
        st.sampled_from(["slides.pdf", "notes.TXT", "../../etc/passwd", "x.exe", ".pdf",
                         "a.pdf.exe", "ünï.png", "con.txt", "", "x" * 300 + ".pdf"]),
        with_marker(markers).map(lambda s: s + ".pdf")))
    content = draw(st.sampled_from([b"", b"%PDF-1.4 tiny", b"\x00" * 64]))
    return draw(st.sampled_from([(io.BytesIO(content), filename), "not a file", None]))


# werkzeug's test client spools a multipart body over 500 KB into a temporary file it never
# closes; when the garbage collector finds it is a matter of timing, not of the app.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_forms_survive_anything(app, fuzz_world, endpoint, tmp_path):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    world = fuzz_world
    fields = [f for f in field_names(app, FORMS[endpoint], world["values"]) if f != "file"]
    owner_client = app.test_client()
    sign_in_as(owner_client, world["users"]["an admin"])
    moderator_client = app.test_client()
    with moderator_client.session_transaction() as session:
        session["device"] = MODERATOR_DEVICE
    reset_user = world["users"]["guest user"]
    upload_folder = Path(app.config["UPLOAD_FOLDER"])
    sent = []

    @given(form=form_data(fields), htmx_first=st.booleans(), data=st.data())
    def fuzz(form, htmx_first, data):
        values, markers = form
        url_values = dict(world["values"])
        if endpoint == "guest.invite_lobby":
            url_values["token"] = world["invite_token"]
        if endpoint == "guest.register":
            url_values["token"] = world["register_token"]
        if endpoint == "guest.cancel_registration":
            url_values["token"] = world["cancel_token"]
        if endpoint == "auth.reset_password":
            user = User.get_by_id(reset_user.id)
            url_values["token"] = tokens.timed_dumps(app.config["SECRET_KEYS"],
                                                     tokens.RESET_SALT,
                                                     [user.id, user.password_version])
        url = rule.build({a: url_values[a] for a in rule.arguments
                          if a not in (rule.defaults or {})})[1]
        variants = [(htmx_first, None), (not htmx_first, None),
                    (htmx_first, "multipart/form-data")]
        for htmx, content_type in variants:
            body = {k: (list(v) if isinstance(v, list) else v) for k, v in values.items()}
            if endpoint == "owner.upload_attachment":
                file = data.draw(upload(markers))
                if file is not None:
                    body["file"] = file
            if endpoint.startswith(GUEST_ROOM_ROUTES):
                client = moderator_client
            elif endpoint.startswith(("guest.", "auth.")):
                client = app.test_client()  # a new browser each time
            else:
                client = owner_client
            with warnings.catch_warnings():
                # werkzeug's test client spools a multipart body over 500 KB into a temporary
                # file it never closes: collect it now, not at a random later moment.
                warnings.simplefilter("ignore", ResourceWarning)
                response = client.post(url, data=body, content_type=content_type,
                                       headers={"HX-Request": "true"} if htmx else {})
                sent.append(1)
                check(response, markers, (endpoint, htmx))
                response.close()
                del response
                if content_type and sum(len(str(v)) for v in body.values()) > 400_000:
                    gc.collect()
        check_invariants(app, upload_folder, everything=endpoint.startswith(MAKES_USERS_OR_FILES))
        if endpoint.startswith(CHANGES_WORLD):
            revive(world)

    settings(FUZZ_SETTINGS, max_examples=form_examples(endpoint))(fuzz)()
    assert len(sent) >= FORM_SENDS * form_examples(endpoint)


# --- token routes ---------------------------------------------------------------------------------

@st.composite
def token_strings(draw, app, kind):
    keys = app.config["SECRET_KEYS"]
    payload = st.one_of(
        st.lists(st.integers(-2**70, 2**70), max_size=3),
        st.lists(st.one_of(st.integers(0, 10), st.booleans(), st.none(), st.text(max_size=5),
                           st.floats()), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.text(max_size=10), st.integers(),
    )
    choice = draw(st.integers(0, 5))
    if choice == 0:  # garbage
        return draw(st.text(st.characters(exclude_characters="/?#"), min_size=1, max_size=300))
    if choice == 1:  # a right-looking token, signed with another key
        salt = draw(st.sampled_from([tokens.LINK, tokens.INVITE]))
        return tokens.make_token(["another key"], salt, draw(st.integers(1, 10)), 1)
    if choice == 2:  # signed with the real key but the other kind (link ↔ invitation)
        other = tokens.INVITE if kind == tokens.LINK else tokens.LINK
        return tokens.make_token(keys, other, draw(st.integers(1, 3)), 1)
    if choice == 3:  # the real key, any payload at all
        from itsdangerous import URLSafeSerializer, URLSafeTimedSerializer

        salt = {tokens.LINK: "guestgate.guest-link", tokens.INVITE: "guestgate.invitation"}.get(
            kind, tokens.RESET_SALT)
        cls = URLSafeTimedSerializer if kind == "reset" else URLSafeSerializer
        return cls(list(reversed(keys)), salt=salt).dumps(draw(payload))
    # A real token, damaged: cut, extended, a character changed.
    real = tokens.make_token(keys, kind if kind != "reset" else tokens.LINK, 1, 1)
    cut = draw(st.integers(0, len(real)))
    return real[:cut] + draw(st.text(max_size=5).filter(lambda s: "/" not in s and "?" not in s
                                                         and "#" not in s))


@pytest.mark.parametrize("kind,prefix", TOKEN_KINDS)
def test_token_routes_survive_any_token(app, fuzz_world, kind, prefix):
    from urllib.parse import quote

    sent = []

    @FUZZ_SETTINGS
    @given(data=st.data(), method=st.sampled_from(["GET", "POST"]))
    def fuzz(data, method):
        token = data.draw(token_strings(app, kind))
        markers = data.draw(st.lists(marker_strategy(), min_size=1, max_size=1))
        body, _ = data.draw(form_data(["name", "email", "password", "confirm"]))
        client = app.test_client()
        for path in (prefix + quote(token, safe=""), prefix + quote(token + markers[0], safe="")):
            response = client.open(path, method=method, data=body if method == "POST" else None,
                                   query_string={"next": markers[0]})
            sent.append(1)
            check(response, markers, (kind, token))
            assert response.status_code in {200, 303, 401, 403, 404, 410, 422}, \
                (path, response.status_code)
            response.close()
        check_invariants(app, Path(app.config["UPLOAD_FOLDER"]), everything=False)

    fuzz()
    assert len(sent) >= TOKEN_SENDS * EXAMPLES_PER_FORM


# --- email headers --------------------------------------------------------------------------------

EXPECTED_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version",
                    "content-type", "content-transfer-encoding"}


def test_names_and_titles_never_inject_email_headers(app, fuzz_world, db):
    """Names and titles straight into the database (an old row, an import, a bug elsewhere —
    the forms refuse control characters), then invitations through the outbox mode."""
    assert not app.config.get("MAIL_SERVER"), "outbox mode expected"
    world = fuzz_world
    owner = world["users"]["an admin"]
    client = app.test_client()
    sign_in_as(client, owner)
    outbox = Path(app.config["MAIL_OUTBOX"])
    now = utcnow()
    sent = []
    header_text = st.one_of(
        with_marker(["\r\nBcc: victim@example.org", "\nX-Evil: 1", "\r\n\r\n<x-body>",
                     "\rCc: c@example.org", "\u2028Bcc: v@example.org"]),
        st.text(max_size=40),
    # PostgreSQL can't store NUL in text at all (and the forms refuse it anyway).
    ).map(lambda s: s[:200].replace("\x00", ""))

    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES_PER_FORM // 2)
    @given(title=header_text, name=header_text, n=st.integers(0, 10**9),
           description=header_text)
    def fuzz(title, name, n, description):
        User.update(name=name[:120]).where(User.id == owner.id).execute()
        room = Room.create(owner=owner, title=title or "x", description=description,
                           guest_access_enabled=True, starts_at=now + timedelta(hours=1),
                           ends_at=now + timedelta(hours=2))
        before = set(outbox.glob("*.eml")) if outbox.exists() else set()
        address = f"guest{n}@example.com"
        response = client.post(f"/rooms/{room.id}/invitations",
                               data={"emails": address, "send_now": "y", "role": "viewer",
                                     "validity": "unlimited"})
        sent.append(1)
        assert response.status_code == 303, response.status_code
        [path] = set(outbox.glob("*.eml")) - before
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        headers = [k.lower() for k in message]
        assert headers.count("to") == 1 and headers.count("subject") == 1
        assert headers.count("from") == 1
        assert set(headers) <= EXPECTED_HEADERS, set(headers) - EXPECTED_HEADERS
        assert message["To"] == address
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        html = message.get_body(preferencelist=("html",)).get_content()
        assert "<x-body>" not in html
        path.unlink()

    fuzz()
    assert len(sent) >= EMAIL_SENDS * (EXAMPLES_PER_FORM // 2)


def test_the_tests_above_send_at_least_ten_thousand_requests():
    """What the tests above assert they each sent, summed (whichever of them ran, in any
    order)."""
    if "GUESTGATE_FUZZ_EXAMPLES" in os.environ:
        pytest.skip("fewer examples asked for: a quick run")
    planned = (sum(FORM_SENDS * form_examples(endpoint) for endpoint in FORMS)
               + TOKEN_SENDS * EXAMPLES_PER_FORM * len(TOKEN_KINDS)
               + EMAIL_SENDS * (EXAMPLES_PER_FORM // 2))
    assert planned >= MIN_REQUESTS, planned
