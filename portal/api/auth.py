"""Who calls the API: the account of the `Authorization: Bearer` token, checked on every request
(portal/services/api_tokens.py), never a session cookie (portal/sessions.py gives /api/ URLs
none). The token's account is then the request's `current_user`, so the API reaches rooms
through the screens' own `owned_room` and writes the audit log as the screens do."""

import json

import flask_smorest
from flask import current_app, g, request
from flask_limiter.util import get_remote_address
from webargs.flaskparser import FlaskParser

from .. import timeutil
from ..extensions import limiter
from ..models import ApiToken
from ..services import api_tokens
from .problems import abort

READING = ("GET", "HEAD", "OPTIONS")
SCHEME = "bearerAuth"


def identify() -> tuple[ApiToken | None, api_tokens.Refusal | None]:
    """The request's token, or why it has none; looked up once a request (the rate limit asks
    first)."""
    if "api_auth" not in g:
        g.api_auth = api_tokens.check(request.headers.get("Authorization"), timeutil.utcnow())
    return g.api_auth


def limit_key() -> str:
    """Each token counts its own requests; requests without a usable token count per address
    (guessing tokens is slowed too)."""
    token, _refusal = identify()
    return f"api-token:{token.id}" if token is not None else f"api-anon:{get_remote_address()}"


def per_token_limit() -> str:
    return current_app.config["API_LIMIT_PER_TOKEN"]


def authenticate():
    """Every API blueprint's first step: a usable token, with the write scope for a change."""
    token, refusal = identify()
    if refusal is not None:
        error = "" if refusal is api_tokens.MISSING else ', error="invalid_token"'
        abort(refusal.status, refusal.code, refusal.detail,
              headers={"WWW-Authenticate": f'Bearer realm="guestgate"{error}'}
              if refusal.status == 401 else None)
    if request.method not in READING and not token.is_write:
        abort(403, "insufficient_scope", "This token may only read: make a token with the "
              "write scope to change anything.",
              headers={"WWW-Authenticate": 'Bearer realm="guestgate", '
                                           'error="insufficient_scope", scope="write"'})
    g._login_user = token.user  # Flask-Login's current_user for this request: the token's
    g.api_token = token


class Parser(FlaskParser):
    def _raw_load_json(self, req):
        """A body Python's json can't read as numbers (more than 4,300 digits) is as invalid
        as any other that isn't JSON: a 400, not a 500."""
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except ValueError as exc:
            raise json.JSONDecodeError(str(exc), "(a number too long)", 0)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()


def protect(blueprint) -> None:
    """A blueprint of the API: token only, rate-limited per token, no CSRF (no cookie)."""
    from ..extensions import csrf

    blueprint.before_request(authenticate)
    csrf.exempt(blueprint)
    limiter.limit(per_token_limit, key_func=limit_key)(blueprint)
