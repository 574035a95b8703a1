"""Response headers for every response, and the pages for errors, in one place."""

import math
import time

from flask import Flask, abort, g, render_template, request
from flask_babel import ngettext
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from limits.errors import StorageError
from peewee import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from .api import problems
from .db import discard_connection
from .decision import N_
from .extensions import limiter
from .sessions import is_api

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

ERROR_WORDS = {
    400: (N_("Something in the request wasn't right"),
          N_("Go back, reload the page and try again.")),
    403: (N_("You don't have access to this page"),
          N_("Sign in with an account that has access, or ask the owner of the room.")),
    404: (N_("Page not found"), N_("Check the address, or go back to the start page.")),
    405: (N_("That action isn't possible here"), N_("Go back and use the buttons on the page.")),
    410: (N_("This page is no longer available"), N_("It was removed.")),
    413: (N_("The file is too large"), N_("Choose a smaller file and try again.")),
    429: (N_("Too many attempts"), N_("Wait a moment, then try again.")),
    500: (N_("Something went wrong on our side"),
          N_("Try again in a moment. Nothing you entered was saved half-way.")),
    503: (N_("Guestgate is briefly unavailable"), N_("Try again in a moment; nothing was lost.")),
}


def try_again_in(seconds: int) -> str:
    """The wait of a 429 in words: seconds up to a minute and a half, then minutes up to an hour
    and a half, then hours; rounded up, so nobody who follows it is refused again."""
    if seconds <= 90:
        return ngettext("Try again in %(num)d second.", "Try again in %(num)d seconds.", seconds)
    if seconds <= 90 * 60:
        return ngettext("Try again in %(num)d minute.", "Try again in %(num)d minutes.",
                        math.ceil(seconds / 60))
    return ngettext("Try again in %(num)d hour.", "Try again in %(num)d hours.",
                    math.ceil(seconds / 3600))


def retry_after(exc: HTTPException) -> int:
    """Seconds until the refused request may succeed: the end of the breached limit's window
    (Flask-Limiter), else what the exception says, else a minute."""
    breached = limiter.current_limit
    if breached is not None and breached.breached:
        return max(1, math.ceil(breached.window[0] - time.time()))
    retry = getattr(exc, "retry_after", None)
    if retry is None and exc.response is not None:
        retry = exc.response.headers.get("Retry-After")
    try:
        return max(1, int(retry))
    except (TypeError, ValueError):  # None, or an HTTP date: not ours to parse
        return 60


def keep_retry_after(app: Flask) -> None:
    """The 429 page's Retry-After is the number its text says. Flask-Limiter's own after_request
    hook recomputes the header from the clock (truncating, a moment later), which could make it a
    second short of the page; this hook runs after it (Flask runs after_request hooks in reverse
    order of registration: call this before the limiter's init_app) and puts the page's back."""
    @app.after_request
    def _retry_after(response):
        seconds = g.pop("retry_after", None)
        if seconds is not None and response.status_code == 429:
            response.headers["Retry-After"] = str(seconds)
        return response


def headers_for(config) -> list[tuple[str, str]]:
    """The headers every response carries unless it sets its own (portal/quickpoll.py's 204s
    too, which never reach Flask)."""
    # Signing out of single sign-on redirects the sign-out form to the provider: Chromium checks
    # form-action on a form's redirects too.
    from .sso import form_action_origin

    provider = form_action_origin(config)
    csp = CSP.replace("form-action 'self'", f"form-action 'self' {provider}") if provider else CSP
    headers = [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # Tokens travel in URLs: never leak them to another site through Referer.
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if config["BASE_URL"].startswith("https://"):
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers


def init_app(app: Flask) -> None:
    @app.before_request
    def _refuse_nul():
        # No browser sends NUL in a query string, and PostgreSQL can't even compare with it: one
        # clear 400 here rather than a surprise inside a query. (Forms refuse control characters
        # field by field, with a message; a token with NUL is simply not a valid token.)
        if any("\x00" in v for v in request.args.values()):
            abort(400)

    @app.after_request
    def _headers(response):
        h = response.headers
        for name, value in headers_for(app.config):
            h.setdefault(name, value)
        if "Cache-Control" not in h:
            h["Cache-Control"] = "no-store"  # pages carry personal data; files set their own
        h.add("Vary", "HX-Request")
        return response

    def error_page(status: int, title: str | None = None, detail: str | None = None,
                   said: str | None = None, **headers):
        """`title` and `detail` are msgids (the template translates them); `said` is a text
        already in the reader's language, shown instead of `detail`. The API answers JSON."""
        if is_api(request.path):
            return problems.response(status, headers=headers)
        default_title, default_detail = ERROR_WORDS.get(status, ERROR_WORDS[500])
        body = render_template("error.html", status=status, title=title or default_title,
                               detail=detail or default_detail, said=said)
        return body, status, headers

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        # htmx doesn't swap a 400: reload the page, which brings a fresh token.
        headers = {"HX-Refresh": "true"} if request.headers.get("HX-Request") else {}
        return error_page(400, N_("This form has expired"),
                          N_("Reload the page and submit the form again."), **headers)

    @app.errorhandler(HTTPException)
    def _http(exc):
        headers = {}
        said = None
        if exc.code == 429:
            g.retry_after = seconds = retry_after(exc)
            headers["Retry-After"] = str(seconds)
            said = try_again_in(seconds)
        if is_api(request.path):
            return problems.from_http_exception(exc, headers)
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return error_page(exc.code or 500, said=said, **headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(exc):
        app.logger.warning("database unavailable: %s", exc)
        discard_connection()
        # The page must not ask the database who is signed in.
        g._login_user = AnonymousUserMixin()
        return error_page(503, **{"Retry-After": "5"})

    @app.errorhandler(StorageError)
    def _ratelimit_storage_down(exc):
        # Only with RATELIMIT_SWALLOW_ERRORS=false (portal/ratelimit.py): refuse, clearly.
        app.logger.warning("rate-limit storage unavailable: %s", exc)
        return error_page(503, **{"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("unhandled error")
        return error_page(500)
