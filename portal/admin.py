"""Admin screens: users and the organisation's email-domain rules."""

import re

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from peewee import IntegrityError
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length
from wtforms.validators import ValidationError as WTFValidationError

from . import audit, emails, passwords
from .auth import admin_required
from .db import database
from .forms import NewUserForm, strip
from .models import DomainRule, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            with database.atomic():
                user = User.create(email=form.email.data, name=form.name.data or "",
                                   access=form.access.data,
                                   password_hash=passwords.hash_password(form.password.data))
                audit.record("user_added", None, user.email, detail=user.access)
        except IntegrityError:
            form.email.errors.append("An account with this email already exists.")
        else:
            flash(f"{user.email} added with {user.access} access.", "success")
            return redirect(url_for("admin.users"), 303)
    users = list(User.select().order_by(User.access, User.email))
    return render_template("admin/users.html", form=form, users=users), \
        422 if form.errors else 200


# --- email-domain rules ---------------------------------------------------------------------------

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(raw: str) -> str:
    """"@Example.COM", "*.example.com" or "bücher.example" → the lower-case ASCII (IDNA) domain
    that portal.emails.domain_of compares with, made by the same normaliser as addresses.
    Raises ValueError with words a person can act on."""
    text = (raw or "").strip().lower().rstrip(".")
    text = text.removeprefix("*.").removeprefix("@")
    if "@" in text:
        text = text.rpartition("@")[2]
    try:
        text = emails.ascii_domain(text)
    except UnicodeError:
        raise ValueError("Enter a domain such as example.com.")
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("Enter a domain such as example.com.")
    return text


class DomainRuleForm(FlaskForm):
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
            field.data = normalize_domain(field.data)
        except ValueError as exc:
            raise WTFValidationError(str(exc))


@bp.route("/domains", methods=["GET", "POST"])
@admin_required
def domains():
    form = DomainRuleForm()
    if form.validate_on_submit():
        try:
            with database.atomic():
                DomainRule.create(domain=form.domain.data, mode=form.mode.data,
                                  created_by=current_user.id)
                audit.record("domain_rule_added", None, form.domain.data, detail=form.mode.data)
        except IntegrityError:
            form.domain.errors.append("There is already a rule for this domain: remove it "
                                      "first to change it.")
        else:
            verb = "allowed" if form.mode.data == "allow" else "blocked"
            flash(f"{form.domain.data} is now {verb}.", "success")
            return redirect(url_for("admin.domains"), 303)
    rules = list(DomainRule.select().order_by(DomainRule.mode, DomainRule.domain))
    return render_template("admin/domains.html", form=form, rules=rules,
                           allow_list=any(r.mode == "allow" for r in rules)), \
        422 if form.errors else 200


@bp.post("/domains/<int:rule_id>/delete")
@admin_required
def delete_domain(rule_id: int):
    rule = DomainRule.get_or_none(DomainRule.id == rule_id)
    if rule is None:
        abort(404)
    with database.atomic():
        rule.delete_instance()
        audit.record("domain_rule_removed", None, rule.domain, detail=rule.mode)
    flash(f"The rule for {rule.domain} was removed.", "success")
    return redirect(url_for("admin.domains"), 303)
