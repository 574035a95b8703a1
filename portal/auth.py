"""Sign in and sign out for owners and invited guests, and the access checks of each audience."""

from functools import wraps

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_login.utils import login_url

from . import emails, passwords, sign_in_limits, sso, timeutil, tokens
from .db import database
from .extensions import limiter, login_manager
from .forms import ForgotPasswordForm, ResetPasswordForm, SignInForm
from .models import User
from .prepared import prepared
from .sessions import start_session
from .web import public_url, safe_next

bp = Blueprint("auth", __name__)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"


@login_manager.unauthorized_handler
def _unauthorized():
    """To the sign-in page, and back here after. An htmx request (a poll whose session ended)
    gets HX-Redirect so the whole page goes there, not a sign-in form swapped into a section."""
    if request.htmx:
        current = request.htmx.current_url or ""
        next_path = safe_next("/" + current.split("/", 3)[3] if current.count("/") >= 3 else "")
        response = make_response("", 401)
        response.headers["HX-Redirect"] = login_url("auth.sign_in", next_url=next_path or "/")
        return response
    flash("Sign in to continue.", "info")
    here = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(login_url("auth.sign_in", next_url=here))


@login_manager.user_loader
def load_user(user_id: str):
    # The id carries the password version and the session generation (User.get_id): a password
    # change or a sign-out ends every session made before it, copies of the cookie included.
    parts = user_id.split(":")
    if len(parts) != 3 or not all(p.isdigit() and len(p) < 19 for p in parts):
        return None
    uid, version, generation = map(int, parts)
    return _signed_in_user.first(user_id=uid, version=version, generation=generation)


@prepared
def _signed_in_user(user_id, version, generation):
    # Every signed-in request's first query (prepared: built once, not on every page and poll)
    return User.select().where((User.id == user_id) & (User.password_version == version)
                               & (User.session_generation == generation)).limit(1)


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


def _account() -> str | None:
    """The account this sign-in names: the one key of its lookup and of every limit kept per
    account (emails.account_key), worked out once a request."""
    if "sign_in_account" not in g:
        g.sign_in_account = emails.account_key(request.form.get("email", ""))
    return g.sign_in_account


@bp.route("/sign-in", methods=["GET", "POST"])
# Wrong passwords for one account from one client are slowed quickly. The client is the address,
# or a browser that signed in to the account before (its own count: others at its address don't
# hold it).
@limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT"], methods=["POST"],
               key_func=lambda: sign_in_limits.client_limit_key(_account()))
# Wrong passwords for one account from everywhere: they hold only browsers that never signed in
# to it (portal/sign_in_limits.py) — nobody can lock the owner out.
@limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=lambda: sign_in_limits.account_limit_key(_account()),
               exempt_when=lambda: sign_in_limits.trusted(_account()))
@limiter.limit(lambda: current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"], methods=["POST"])
def sign_in():
    form = SignInForm()
    config = current_app.config
    error = None
    if request.method == "POST" and not sso.password_form_shown(config):
        return _sign_in_page(form, _("Sign in with the button above: passwords aren't used "
                                     "here."), 403)
    if form.validate_on_submit():
        account = _account()
        user = User.get_or_none(User.email == account) if account else None
        if passwords.check_password(user.password_hash if user else None, form.password.data):
            if not sso.password_allowed(config, user):
                # The right password, for an account that signs in at the provider (or isn't
                # the break-glass admin): not a wrong guess, and no session.
                error = _("This account signs in with the button above, not with a password.")
                return _sign_in_page(form, error, 403)
            user.last_sign_in_at = timeutil.utcnow()  # the admin's Users screen shows it
            if form.timezone.data and timeutil.is_valid_zone(form.timezone.data):
                user.timezone = form.timezone.data
            user.save(only=[User.timezone, User.last_sign_in_at])
            start_session(user)
            response = redirect(safe_next(request.args.get("next")) or url_for("web.index"), 303)
            sign_in_limits.trust_browser(response, user)
            return response
        sign_in_limits.failed(account)
        # Same words whether or not the account exists.
        error = "That email and password don't match an account."
    elif request.method == "POST":
        error = "Enter your email and password."
    return _sign_in_page(form, error, 401 if error else 200)


def _sign_in_page(form, error, status):
    """With single sign-on, its button comes first; the password form below it, for everyone
    (PASSWORD_SIGN_IN=all), behind a "Sign in with a password" link (admins: the break-glass
    admin's way in, which works with the provider down, without scripts), or not at all (off)."""
    config = current_app.config
    on = sso.configured(config)
    mode = config.get("PASSWORD_SIGN_IN") or "all"
    show_form = not on or mode == "all" or (mode == "admins" and (
        request.args.get("with") == "password" or request.method == "POST"))
    next_url = safe_next(request.args.get("next"))
    return render_template(
        "auth/sign_in.html", form=form, error=error, sso_on=on,
        sso_label=sso.button_label(config) if on else "",
        sso_url=url_for("sso.start", next=next_url) if on else "",
        show_form=show_form and sso.password_form_shown(config),
        password_link=url_for("auth.sign_in", next=next_url, **{"with": "password"})
        if on and mode == "admins" and not show_form else "",
        forgot_link=not on or mode == "all"), status


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        current_user.end_sessions()  # a copy of the cookie must not stay signed in
    signed_on, id_token = session.get("sso", False), session.get("sso_id_token", "")
    logout_user()
    # Nothing of this person stays in the browser: messages, language, guest presence.
    session.clear()
    flash("You're signed out.", "info")
    # Signed on: signed out at the provider too, which sends the browser back to the sign-in
    # page (RP-initiated logout), when it offers that.
    provider = sso.logout_url(current_app.config, signed_on, id_token)
    return redirect(provider or url_for("auth.sign_in"), 303)


# --- forgot password ------------------------------------------------------------------------------
# A timed token signs (user id, password version): it lasts an hour, and changing the password
# bumps the version, so each link works once. Guest-only profiles made by an invitation have a
# random password nobody knows; this is how they choose one.

RESET_MAX_AGE = 60 * 60
FORGOT_ANSWER = ("If an account exists for that address, we've emailed it a link to choose a "
                 "new password. The link works for an hour. Check your spam folder too.")


def _forgot_email_key() -> str:
    return "forgot:" + (emails.account_key(request.form.get("email", "")) or "invalid")


def reset_url(user: User) -> str:
    token = tokens.timed_dumps(current_app.config["SECRET_KEYS"], tokens.RESET_SALT,
                               [user.id, user.password_version])
    return public_url("auth.reset_password", token=token)


def _send_reset(email: str) -> None:
    from . import mail

    user = User.get_or_none(User.email == email)
    if user is None or not sso.password_allowed(current_app.config, user):
        return  # no password to choose: the account signs in with single sign-on
    error = mail.send_password_reset(user, reset_url(user), RESET_MAX_AGE // 60)
    if error:
        current_app.logger.warning("password reset email not sent: %s", error)


@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["FORGOT_PASSWORD_LIMIT"], methods=["POST"])
@limiter.limit(lambda: current_app.config["FORGOT_PASSWORD_LIMIT_PER_ACCOUNT"], methods=["POST"],
               key_func=_forgot_email_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = emails.account_key(form.email.data)
        if email:
            from . import mail

            # Looked up and sent after the answer: the same answer, as fast, whether or not the
            # account exists (sending takes the mail server's time; nothing to send takes none).
            mail.in_background(lambda: _send_reset(email), "password reset email")
        flash(FORGOT_ANSWER, "info")
        return redirect(url_for("auth.sign_in"), 303)
    return render_template("auth/forgot_password.html", form=form), 422 if form.errors else 200


def _user_for_reset(token: str) -> tuple[User | None, str]:
    # The current key only: a link signed with a retired one (OLD_SECRET_KEYS) could have been
    # made by whoever holds that key, and it would open an account.
    payload, why = tokens.timed_loads([current_app.config["SECRET_KEY"]], tokens.RESET_SALT,
                                      token, RESET_MAX_AGE)
    if payload is None:
        return None, "expired" if why == "expired" else "invalid"
    if not (isinstance(payload, list) and len(payload) == 2
            and all(type(v) is int and 0 < v < 2**63 for v in payload)):
        return None, "invalid"
    user = User.get_or_none((User.id == payload[0]) & (User.password_version == payload[1]))
    if user is not None and not sso.password_allowed(current_app.config, user):
        # Sent before the account was linked to single sign-on (or before PASSWORD_SIGN_IN
        # changed): a password it can't sign in with would still open it here.
        return None, "invalid"
    return (user, "") if user is not None else (None, "used")


RESET_DEAD = {
    "expired": ("This link has expired", 410),
    "used": ("This link has already been used", 410),
    "invalid": ("This link isn't valid", 404),
}


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RESET_PASSWORD_LIMIT"], methods=["POST"])
def reset_password(token: str):
    user, why = _user_for_reset(token)
    if user is None:
        title, status = RESET_DEAD[why]
        return render_template("auth/reset_dead.html", title=title), status
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with database.atomic():
            # Conditional on the version: two tabs submitting the same link change it once.
            changed = User.update(password_hash=passwords.hash_password(form.password.data),
                                  password_version=User.password_version + 1).where(
                (User.id == user.id) & (User.password_version == user.password_version)
            ).execute()
        if not changed:
            title, status = RESET_DEAD["used"]
            return render_template("auth/reset_dead.html", title=title), status
        user = User.get_by_id(user.id)
        start_session(user)  # the new password version signs out every other session
        flash("Your password was changed. You're signed in.", "success")
        response = redirect(url_for("web.index"), 303)
        # This browser is trusted with the account; those trusted before, with the old
        # password, are strangers again (portal/sign_in_limits.py).
        sign_in_limits.trust_browser(response, user)
        return response
    return render_template("auth/reset_password.html", form=form, user=user), \
        422 if form.errors else 200
