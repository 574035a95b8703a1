"""Forms (Flask-WTF). Text is trimmed; control characters are refused with a clear message."""


from flask import current_app
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    URLField,
    widgets,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    StopValidation,
)
from wtforms.validators import ValidationError as WTFValidationError

from . import emails, meetings, outbox, passwords, timeutil
from .i18n import wtforms_messages
from .models import ACCESS_LEVELS, ROLES
from .services import api_tokens
from .services import rooms as room_rules
from .services.hosting import NOTE_MAX
from .services.invitations import MAX_DAYS as INVITATION_MAX_DAYS
from .services.links import MAX_DAYS as LINK_MAX_DAYS
from .services.links import MAX_USES
from .text import control_characters_problem, strip, unix_newlines  # noqa: F401 (shared)


class Form(FlaskForm):
    """Every form of the portal: Flask-WTF's (CSRF), with WTForms' messages in the page's
    language read once per language (portal/i18n.py), not once per request."""

    class Meta:
        def get_translations(self, form):
            return wtforms_messages


def no_control_characters(multiline: bool = False):
    def check(form, field):
        why = control_characters_problem(field.data, multiline)
        if why:
            raise WTFValidationError(why)

    return check


def file_name_without_control_characters(form, field):
    # Such a name can't go into a download's Content-Disposition header (every download would
    # fail); NUL can't be stored on PostgreSQL.
    if control_characters_problem(getattr(field.data, "filename", None)):
        raise WTFValidationError("The file name has control or text-direction characters: "
                                 "rename the file and upload it again.")


def valid_email(form, field):
    try:
        field.data = emails.normalize(field.data or "")
    except emails.InvalidEmail as exc:
        # The validator's detail is English; other languages get the sentence alone.
        english = str(get_locale() or "en").startswith("en")
        raise WTFValidationError(str(exc) if english else gettext(exc.short))


class SignInForm(Form):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    timezone = HiddenField(filters=[strip])  # filled in by the browser's script when it runs


def rule(check):
    """A field validator from one of the services' rules: `check(value)` gives the message of
    the broken rule, or None (portal/services/rooms.py holds the room's)."""
    def validate(form, field):
        why = check(field.data)
        if why:
            raise WTFValidationError(why)

    return validate


def _text_rule(name: str):
    return rule(lambda value: room_rules.text_problem(name, value))


class RoomForm(Form):
    """Every field rule is portal/services/rooms.py's, which the API and the service itself
    apply too; the form only reads the browser's values and shows the messages."""
    title = StringField("Title", filters=[strip],
                        validators=[DataRequired(room_rules.NO_TITLE),
                                    rule(room_rules.title_problem)])
    description = TextAreaField("Description", filters=[strip, unix_newlines],
                                validators=[_text_rule("description")])
    speakers = TextAreaField("Speakers (one per line)", filters=[strip, unix_newlines],
                             validators=[_text_rule("speakers")])
    starts_at = DateTimeLocalField("Starts", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                   validators=[InputRequired("Enter the start date and time."),
                                               rule(room_rules.year_problem)])
    ends_at = DateTimeLocalField("Ends", format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
                                 validators=[InputRequired("Enter the end date and time."),
                                             rule(room_rules.year_problem)])
    timezone = SelectField("Time zone", validators=[DataRequired()])
    kind = RadioField("Kind", choices=[SelectChoice("regular", "Regular room"),
                                       SelectChoice("channel", "Channel (no guest access)")],
                      default="regular", validators=[DataRequired()])
    require_approval = BooleanField("Guests wait to be admitted")
    require_email_match = BooleanField("Guests confirm the invited email", default=True)
    consent_required = BooleanField("Guests must agree before they enter")
    consent_text = TextAreaField("What guests agree to", filters=[strip, unix_newlines],
                                 validators=[_text_rule("consent_text")])
    # No meeting name: Guestgate gives every room its own (portal/services/rooms.py), so nobody
    # can name their room's meeting after another room's and be its moderator.
    platform = SelectField("Meeting platform")
    join_url = URLField("Join URL of the live session (optional)", filters=[strip],
                        validators=[Optional(), rule(room_rules.join_url_problem)])
    alert_hosts = RadioField("Who is alerted when guests wait unseen", default="hosts",
                             choices=[SelectChoice(k, v)
                                      for k, v in room_rules.ALERT_HOSTS.items()],
                             validators=[DataRequired()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(z, z) for z in timeutil.zone_names()]
        platforms = room_rules.platforms(current_app.config)
        if platforms == [meetings.OTHER]:  # no platform configured: the form stays as it was
            del self.platform
        else:
            self.platform.choices = [SelectChoice(p, meetings.LABELS[p]) for p in platforms]
            if self.platform.data is None:  # a new room: the first configured platform
                self.platform.data = platforms[0]

    def validate_consent_text(self, field):
        why = room_rules.consent_problem(self.consent_required.data, field.data)
        if why:
            raise WTFValidationError(why)

    def validate_ends_at(self, field):
        if self.starts_at.errors or field.errors or field.data is None \
                or self.starts_at.data is None:
            return
        why = room_rules.times_problem(self.starts_at.data, field.data, self.timezone.data)
        if why:
            raise WTFValidationError(why)

    def values(self) -> "room_rules.RoomValues":
        """What the owner entered, for portal/services/rooms.py."""
        return room_rules.RoomValues(
            title=self.title.data, description=self.description.data or "",
            speakers=self.speakers.data or "", starts_at=self.starts_at.data,
            ends_at=self.ends_at.data, timezone=self.timezone.data, kind=self.kind.data,
            require_approval=self.require_approval.data,
            require_email_match=self.require_email_match.data,
            consent_required=self.consent_required.data,
            consent_text=self.consent_text.data or "", join_url=self.join_url.data or None,
            alert_hosts=self.alert_hosts.data,
            platform=self.platform.data if "platform" in self else None)


class AttachmentForm(Form):
    file = FileField("File", validators=[DataRequired("Choose a file to upload."),
                                         file_name_without_control_characters])


class ReminderForm(Form):
    reminder_hours = StringField("Remind registrants this many hours before the start",
                                 filters=[strip], validators=[Length(max=40)])
    follow_up = BooleanField("Send a follow-up after the session")
    follow_up_came = TextAreaField("Follow-up for those who came", filters=[strip],
                                   validators=[Length(max=5000), no_control_characters()])
    follow_up_missed = TextAreaField("Follow-up for those who didn't come", filters=[strip],
                                     validators=[Length(max=5000), no_control_characters()])

    def validate_reminder_hours(self, field):
        from .reminders import parse_hours

        try:
            parse_hours(field.data)
        except ValueError as why:
            raise WTFValidationError(str(why)) from None


class InvitationImportForm(Form):
    # FileRequired: an uploaded file, not a plain field of that name
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file to upload.")])


class InvitationImportSendForm(Form):
    rows = HiddenField()


class NewUserForm(Form):
    email = EmailField("Email", filters=[strip], validators=[DataRequired(), valid_email])
    name = StringField("Name", filters=[strip],
                       validators=[Length(max=120), no_control_characters()])
    access = SelectField("Access", choices=[SelectChoice(a, a.capitalize()) for a in ACCESS_LEVELS],
                         default="broadcaster")
    password = PasswordField("Password", validators=[DataRequired()])

    def validate_password(self, field):
        why = passwords.problem(field.data or "")
        if why:
            raise WTFValidationError(why)


class AccessForm(Form):
    """One account's access, changed from its row on the Users screen."""
    access = SelectField("Access", choices=[SelectChoice(a, a.capitalize())
                                            for a in ACCESS_LEVELS])




class WholeNumberField(IntegerField):
    """An optional whole number, with words a person understands when it isn't one."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        raw = valuelist[0].strip()
        try:
            # NumberRange compares as a float, which a 400-digit number overflows (a 500): such
            # a number is refused here; a merely large one gets the range's own words.
            self.data = int(raw) if len(raw) <= 100 else None
        except ValueError:
            self.data = None
        if self.data is None:
            raise ValueError("Enter a whole number, such as 10." if len(raw) <= 100
                             else "That number is too large.")

    def pre_validate(self, form):
        if self.process_errors:  # one message is enough: skip the range check
            raise StopValidation()


class LobbyForm(Form):
    """The guest's name and email on the lobby page (guest-facing: translated)."""
    name = StringField(_l("Your name"), filters=[strip],
                       validators=[DataRequired(_l("Enter your name.")),
                                   Length(max=100, message=_l("Use at most 100 characters.")),
                                   no_control_characters()])
    email = EmailField(_l("Email"), filters=[strip],
                       validators=[DataRequired(_l("Enter your email address.")), valid_email])
    # Only in rooms that ask for it (the view removes it otherwise); the host's text is shown
    # beside it, and what was agreed to is recorded with the participant.
    consent = BooleanField(_l("I agree"),
                           validators=[DataRequired(_l("To enter, tick “I agree”: the host asks "
                                                       "everyone to agree first."))])
    # The version of the host's text the page showed, sent back: what the guest agrees to is
    # what they read (the view asks again when the host has changed it since).
    consent_version = HiddenField()


class HostMessageForm(Form):
    message = StringField("Message to everyone waiting", filters=[strip],
                          validators=[Length(max=500, message="Use at most 500 characters."),
                                      no_control_characters()])


class DenyForm(Form):
    """A host's Deny, with a message to the guest if they write one (the owner's and an invited
    moderator's page: labelled in the template, in the page's language)."""
    message = StringField("Message to the guest", filters=[strip], validators=[
        Length(max=NOTE_MAX, message=_l("Use at most %(max)d characters.")),
        no_control_characters()])


class PresenceRoleForm(Form):
    """In the room: the role of someone inside (the select is labelled in the template, in the
    page's language)."""
    role = SelectField("Role", choices=[SelectChoice(role, role) for role in ROLES])


# --- the owner's room page: guest access, links, invitations, the denial panel's fixes ------------

class GuestAccessForm(Form):
    enabled = HiddenField(validators=[AnyOf(["on", "off"], message="Choose on or off.")])


class LinkForm(Form):
    """Create new link: name, number of clicks (optional), duration in days (optional)."""

    name = StringField("Name", filters=[strip],
                       validators=[DataRequired("Enter a name for the link."),
                                   Length(max=100, message="Use at most 100 characters."),
                                   no_control_characters()])
    max_uses = WholeNumberField(
        "Number of clicks (optional)",
        validators=[Optional(), NumberRange(
            min=1, max=MAX_USES, message=f"Enter a whole number from 1 to {MAX_USES:,}.")],
        render_kw={"min": 1, "step": 1, "inputmode": "numeric"})
    duration_days = WholeNumberField(
        "Duration in days (optional)",
        validators=[Optional(), NumberRange(min=1, max=LINK_MAX_DAYS,
                                            message=f"Enter a whole number of days from 1 to "
                                                    f"{LINK_MAX_DAYS:,}.")],
        render_kw={"min": 1, "step": 1, "inputmode": "numeric"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="link", **kwargs)


ROLE_CHOICES = [SelectChoice(r, r.capitalize()) for r in ROLES]


class InviteForm(Form):
    emails = TextAreaField("Email addresses", filters=[strip],
                           validators=[DataRequired("Enter at least one email address."),
                                       Length(max=20000, message="That's too much text.")])
    role = SelectField("Role", choices=ROLE_CHOICES, default="viewer")
    validity = RadioField("The link is valid", choices=[SelectChoice("unlimited", "No limit"),
                                   SelectChoice("once", "Valid once (one device)"),
                                   SelectChoice("days", "For a number of days")],
                          default="unlimited")
    days = WholeNumberField("Number of days", validators=[
        Optional(), NumberRange(1, INVITATION_MAX_DAYS, f"Enter 1 to {INVITATION_MAX_DAYS} days.")])
    send_now = BooleanField("Send each guest a secure link now")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.validity.data == "days" and not self.days.data and not self.days.errors:
            self.days.errors = [f"Enter the number of days (1 to {INVITATION_MAX_DAYS})."]
            return False
        return valid


class RoleForm(Form):
    role = SelectField("Role", choices=ROLE_CHOICES)


class ExtendForm(Form):
    days = WholeNumberField("Extend by (days)", default=7, validators=[
        InputRequired("Enter a number of days."),
        NumberRange(min=1, max=LINK_MAX_DAYS, message=f"Enter a whole number of days from 1 to "
                                                 f"{LINK_MAX_DAYS:,}.")],
        render_kw={"min": 1, "max": LINK_MAX_DAYS, "step": 1, "inputmode": "numeric"})


class RaiseForm(Form):
    clicks = WholeNumberField("More clicks", default=10, validators=[
        InputRequired("Enter a number of clicks."),
        NumberRange(min=1, max=MAX_USES, message=f"Enter a whole number from 1 to "
                                                 f"{MAX_USES:,}.")],
        render_kw={"min": 1, "step": 1, "inputmode": "numeric"})


def extend_form(link_id: int, formdata=None) -> ExtendForm:
    return ExtendForm(formdata=formdata, prefix=f"extend-{link_id}")


def raise_form(link_id: int, formdata=None) -> RaiseForm:
    return RaiseForm(formdata=formdata, prefix=f"raise-{link_id}")


# --- signing in, the admin's domain rules, API tokens -------------------------------------------

class ForgotPasswordForm(Form):
    email = EmailField("Email", filters=[strip],
                       validators=[DataRequired("Enter your email address."), Length(max=254)])


class ResetPasswordForm(Form):
    password = PasswordField("New password", validators=[DataRequired("Choose a password.")],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired("Repeat the password.")],
                            render_kw={"autocomplete": "new-password"})

    def validate_password(self, field):
        why = passwords.problem(field.data or "")
        if why:
            raise WTFValidationError(why)

    def validate_confirm(self, field):
        if field.data != self.password.data:
            raise WTFValidationError("The two passwords don't match.")


class DomainRuleForm(Form):
    domain = StringField("Domain", filters=[strip],
                         validators=[DataRequired("Enter a domain such as example.com."),
                                     Length(max=253)])
    mode = RadioField("Rule", choices=[
        SelectChoice("block", "Block: addresses at this domain can't be invited or enter"),
        SelectChoice("allow", "Allow: once any domain is allowed, only allowed domains"
                              " can be used"),
    ],
                      default="block", validators=[DataRequired("Choose allow or block.")])

    def validate_domain(self, field):
        try:
            field.data = emails.normalize_domain(field.data)
        except ValueError as exc:
            raise WTFValidationError(str(exc))


class TokenForm(Form):
    name = StringField("Name", filters=[strip], validators=[
        DataRequired("Name the token after what uses it, such as “LMS sync”."),
        Length(max=api_tokens.NAME_MAX), no_control_characters()])
    scope = RadioField("Scope", default="read", choices=[
        SelectChoice("read", "Read: see rooms, links, invitations, people and logs"),
        SelectChoice("write", "Write: also create, change and delete, as you can on screen")],
        validators=[DataRequired("Choose read or write.")])
    days = WholeNumberField("Expires after (days)", default=30, validators=[
        InputRequired("Enter a number of days."),
        NumberRange(1, api_tokens.MAX_DAYS,
                    f"Enter a whole number of days from 1 to {api_tokens.MAX_DAYS}.")],
        render_kw={"min": 1, "max": api_tokens.MAX_DAYS, "step": 1, "inputmode": "numeric"})


class AlertPreferencesForm(Form):
    """An account's host alerts (portal/host_alerts.py, the Alerts screen)."""
    email = BooleanField("Email me")
    push = BooleanField("Notify my browsers (the ones listed above)")
    moderated_rooms = BooleanField("Also for rooms I moderate by invitation")
    quiet_from = TimeField("Quiet from", validators=[Optional()])
    quiet_until = TimeField("Quiet until", validators=[Optional()])

    def validate(self, extra_validators=None):
        # Not an inline validator: Optional() ends an empty field's chain before it would run.
        valid = super().validate(extra_validators)
        if valid and (self.quiet_from.data is None) != (self.quiet_until.data is None):
            empty = self.quiet_from if self.quiet_from.data is None else self.quiet_until
            empty.errors = ["Enter both times of the quiet hours, or neither."]
            return False
        return valid


class RegistrationSettingsForm(Form):
    """The owner's registration options (times in the room's zone, as the room form's)."""
    enabled = BooleanField("People can register for this room")
    mode = RadioField("Who gets a place", default="open", validators=[DataRequired()],
                      choices=[SelectChoice("open", "Open: everyone who registers and confirms"),
                               SelectChoice("approval",
                                            "Approval: a host approves each registration")])
    # What the places and the times may be is services.registration's (settings_problems).
    capacity = WholeNumberField("Places (empty: no limit)", validators=[Optional()])
    opens_at = DateTimeLocalField("Registration opens (optional)", validators=[Optional()],
                                  format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    closes_at = DateTimeLocalField("Registration closes (optional)", validators=[Optional()],
                                   format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


class QuestionForm(Form):
    label = StringField("Question", filters=[strip], validators=[
        DataRequired("Enter the question."), Length(max=200, message="Use at most 200 "
                                                                     "characters."),
        no_control_characters()])
    kind = SelectField("Kind", default="short", choices=[
        SelectChoice("short", "Short text"), SelectChoice("long", "Long text"),
        SelectChoice("choice", "One choice"),
        SelectChoice("choices", "Several choices"), SelectChoice("checkbox", "A checkbox")])
    choices = TextAreaField("Choices (one per line; for one or several choices)",
                            filters=[strip, unix_newlines],
                            validators=[Length(max=4000, message="That's too much text."),
                                        no_control_characters(multiline=True)])
    required = BooleanField("Required")


# --- checkboxes, registration and webhooks --------------------------------------------------------

class Checkboxes(SelectMultipleField):
    """Several choices as a list of checkboxes."""
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def registration_form(questions: list[dict], formdata=None):
    """The public registration page's form: name, email, and a field for each of the owner's
    questions (named q1, q2, ...; services.registration keeps them)."""

    class RegistrationForm(Form):
        name = LobbyForm.name
        email = LobbyForm.email

    for q in questions:
        label, required = q["label"], q.get("required")
        need = [InputRequired(_l("Answer this question."))] if required else [Optional()]
        kind = q["kind"]
        if kind == "short":
            f = StringField(label, filters=[strip], validators=[
                *([DataRequired(_l("Answer this question."))] if required else [Optional()]),
                Length(max=300, message=_l("Use at most 300 characters.")),
                no_control_characters()])
        elif kind == "long":
            f = TextAreaField(label, filters=[strip], validators=[
                *([DataRequired(_l("Answer this question."))] if required else [Optional()]),
                Length(max=2000, message=_l("Use at most 2000 characters.")),
                no_control_characters(multiline=True)])
        elif kind == "choice":
            f = RadioField(label, choices=[SelectChoice(c, c) for c in q["choices"]],
                           validators=need,
                           validate_choice=True)
        elif kind == "choices":
            f = Checkboxes(label, choices=[SelectChoice(c, c) for c in q["choices"]],
                           validators=[*([DataRequired(_l("Choose at least one."))]
                                         if required else [Optional()])])
        else:
            f = BooleanField(label, validators=[DataRequired(_l("Tick this box to register."))]
                             if required else [Optional()])
        setattr(RegistrationForm, q["id"], f)
    return RegistrationForm(formdata=formdata) if formdata is not None else RegistrationForm()


class UncheckedCheckboxes(Checkboxes):
    def pre_validate(self, form):
        """Choices are checked by the service (it says which are unknown)."""


class EndpointForm(Form):
    """A webhook endpoint (the owner's Webhooks screen)."""
    url = StringField("Receiver URL", filters=[lambda v: (v or "").strip()],
                      validators=[DataRequired("Enter the URL that receives the events."),
                                  Length(max=500, message="Use at most 500 characters.")])
    description = StringField("Description (optional)",
                              validators=[Length(max=100, message="Use at most 100 characters.")])
    events = UncheckedCheckboxes("Events", choices=[SelectChoice(name, f"{name} — {words}")
                                                    for name, words in outbox.EVENTS.items()])
    rooms = UncheckedCheckboxes("Only these rooms (none chosen: every room you can see)",
                                coerce=str)


class ActionForm(Form):
    """A button's form: CSRF only."""
