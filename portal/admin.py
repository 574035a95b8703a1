"""Admin screens: users, the organisation's email-domain rules, and every room's audit log."""


from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from peewee import IntegrityError
from playhouse.flask_utils import get_object_or_404

from . import audit, passwords
from .auth import admin_required
from .db import database, is_sqlite
from .forms import AccessForm, DomainRuleForm, NewUserForm
from .models import ACCESS_LEVELS, DomainRule, Room, User
from .services import api_tokens

bp = Blueprint("admin", __name__, url_prefix="/admin")


# --- accounts (also used by the command line) -----------------------------------------------------

class AccountExists(Exception):
    """The address already has an account with host access: change its access instead."""


class LastAdmin(Exception):
    """Taking admin access from the only admin would leave nobody to manage users."""


def _done(notice: str, endpoint: str):
    """A form that worked: its notice, and post/redirect/get back to the screen."""
    flash(notice, "success")
    return redirect(url_for(endpoint), 303)


def add_user(email: str, name: str, access: str, password: str) -> bool:
    """Create an account; or, for an address that only has the guest-only profile inviting it
    made, give that profile this name, password and access (its invitations stay its own).
    Returns whether a profile was upgraded. Raises AccountExists."""
    password_hash = passwords.hash_password(password)  # slow on purpose: outside the transaction
    try:
        with database.atomic():
            user = User.get_or_none(User.email == email)
            if user is None:
                User.create(email=email, name=name, access=access, password_hash=password_hash)
            elif user.access == "guest":
                user.name, user.access, user.password_hash = name, access, password_hash
                user.password_version += 1  # a reset link sent to the profile dies
                user.save()
            else:
                raise AccountExists
            upgraded = user is not None
            audit.record("user_added", None, email,
                         detail=access + (" (was a guest-only profile)" if upgraded else ""))
    except IntegrityError:  # added by someone else meanwhile
        raise AccountExists
    return upgraded


def change_access(user: User, access: str) -> None:
    """Give the account this access. Raises LastAdmin."""
    with database.atomic():
        old = User.get_by_id(user.id).access
        if old == "admin" and access != "admin":
            admins = User.select(User.id).where(User.access == "admin")
            # PostgreSQL: lock the admins, so two demoting each other can't both succeed.
            # (SQLite runs one write transaction at a time: IMMEDIATE.)
            if [a.id for a in (admins if is_sqlite() else admins.for_update())] == [user.id]:
                raise LastAdmin
        if old != access:
            User.update(access=access).where(User.id == user.id).execute()
            audit.record("access_changed", None, user.email, detail=f"{old} → {access}")
    user.access = access


# --- the Users screen -----------------------------------------------------------------------------

def _users_page(form: NewUserForm, status: int = 200):
    users = list(User.select().order_by(User.access, User.email))
    return render_template("admin/users.html", form=form, users=users,
                           access_levels=ACCESS_LEVELS), status


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            add_user(form.email.data, form.name.data or "", form.access.data, form.password.data)
        except AccountExists:
            form.email.errors.append("An account with this email already exists. Change its "
                                     "access in the list below.")
        else:
            return _done(f"{form.email.data} added with {form.access.data} access.", "admin.users")
    return _users_page(form, 422 if form.errors else 200)


@bp.post("/users/<int:user_id>/access")
@admin_required
def set_access(user_id: int):
    user = get_object_or_404(User, User.id == user_id)
    form = AccessForm()
    if not form.validate_on_submit():
        flash(f"Choose admin, broadcaster or guest access for {user.email}.", "error")
        return _users_page(NewUserForm(formdata=None), 422)
    try:
        change_access(user, form.access.data)
    except LastAdmin:
        flash("You are the only admin: make another account an admin first.", "error")
        return _users_page(NewUserForm(formdata=None), 422)
    flash(f"{user.email} now has {user.access} access.", "success")
    if user.id == current_user.id and not user.is_admin:
        return redirect(url_for("owner.rooms") if user.is_owner else url_for("web.index"), 303)
    return redirect(url_for("admin.users"), 303)


def _audited(change, action: str, target: str, detail: str = "") -> None:
    """An admin's change and its audit event, in one transaction: both or neither."""
    with database.atomic():
        change()
        audit.record(action, None, target, detail=detail)


@bp.post("/users/<int:user_id>/sign-out")
@admin_required
def sign_out_everywhere(user_id: int):
    """For a lost laptop or a stolen cookie: every session of the user ends, wherever it is,
    and every API token of theirs is revoked."""
    user = get_object_or_404(User, User.id == user_id)

    def end_everything():
        user.end_sessions()
        api_tokens.revoke_all(user,
                              actor=audit.Actor.of_account(current_user._get_current_object()))

    _audited(end_everything, "user_signed_out", user.email)
    return _done(f"{user.email} is signed out everywhere.", "admin.users")


# --- email-domain rules ---------------------------------------------------------------------------

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
            return _done(f"{form.domain.data} is now {verb}.", "admin.domains")
    rules = list(DomainRule.select().order_by(DomainRule.mode, DomainRule.domain))
    return render_template("admin/domains.html", form=form, rules=rules,
                           allow_list=any(r.mode == "allow" for r in rules)), \
        422 if form.errors else 200


@bp.post("/domains/<int:rule_id>/delete")
@admin_required
def delete_domain(rule_id: int):
    rule = get_object_or_404(DomainRule, DomainRule.id == rule_id)
    _audited(rule.delete_instance, "domain_rule_removed", rule.domain, rule.mode)
    return _done(f"The rule for {rule.domain} was removed.", "admin.domains")


# --- the audit log of every room ------------------------------------------------------------------

@bp.get("/audit")
@admin_required
def audit_log():
    room_id = request.args.get("room", "")
    action = request.args.get("action", "")
    room_filter = int(room_id) if room_id.isdigit() and len(room_id) < 12 else None
    # The known actions (not a DISTINCT over the whole log, which would read all of it).
    actions = sorted(audit.ACTION_WORDS, key=audit.ACTION_WORDS.get)
    action_filter = action if action in audit.ACTION_WORDS else None
    query = audit.everything(room_filter, action_filter)
    rooms = list(Room.select(Room.id, Room.title, Room.deleted_at).order_by(Room.title, Room.id))
    return render_template("admin/audit.html", rooms=rooms, actions=actions,
                           room_filter=room_filter, action_filter=action_filter,
                           **audit.paginate(query, audit.page_number()))
