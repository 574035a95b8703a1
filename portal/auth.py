"""Sign in and sign out for owners and invited guests, and the access checks of each audience."""

from functools import wraps

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from . import emails, passwords, timeutil
from .extensions import limiter, login_manager
from .forms import SignInForm
from .models import User

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str):
    # The id carries the password version: changing the password signs out other sessions.
    uid, _, version = user_id.partition(":")
    if not uid.isdigit() or not version.isdigit():
        return None
    return User.get_or_none((User.id == int(uid)) & (User.password_version == int(version)))


def owner_required(view):
    """Signed in with owner access (broadcaster or admin); guests get 403."""

    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_owner:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
def sign_in():
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        try:
            email = emails.normalize(form.email.data)
        except emails.InvalidEmail:
            email = None
        user = User.get_or_none(User.email == email) if email else None
        if passwords.check_password(user.password_hash if user else None, form.password.data):
            if form.timezone.data and timeutil.is_valid_zone(form.timezone.data) \
                    and form.timezone.data != user.timezone:
                user.timezone = form.timezone.data
                user.save(only=[User.timezone])
            login_user(user)
            return redirect(safe_next(request.args.get("next")) or url_for("web.index"), 303)
        # Same words whether or not the account exists.
        error = "That email and password don't match an account."
    elif request.method == "POST":
        error = "Enter your email and password."
    status = 401 if error else 200
    return render_template("auth/sign_in.html", form=form, error=error), status


@bp.post("/sign-out")
def sign_out():
    logout_user()
    flash("You're signed out.", "info")
    return redirect(url_for("auth.sign_in"), 303)
