"""Single sign-on with the organisation's OpenID provider (docs/sign-in.md).

Authorization Code flow with PKCE (S256), `state` and `nonce`, through Authlib's Flask client:
it keeps state, nonce and code verifier in the signed session, and checks the ID token's
signature (the provider's JWKS), issuer, audience, expiry and nonce. Discovery is fetched on the
first sign-on, not at start: a provider that is briefly down doesn't stop Guestgate, and a
sign-on then gets a page saying so (503), never a 500.

Accounts are keyed by the provider's (iss, sub). An existing account with the same address is
linked only when the provider says the address is verified (`email_verified`), and the link is
audited. Roles come from a claim (OIDC_ROLES_CLAIM) at every sign-on; a demotion ends the
account's other sessions (User.end_sessions: the session generation every session carries).

Accounts the provider no longer knows (deleted or disabled there) can't sign on any more; a
session they already have lasts until it ends (sign-out, 30 days idle) or an admin uses "Sign out
everywhere" or takes their access on the Users screen. Guestgate never deletes them by itself:
their rooms and audit history stay.
"""

import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
)
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from . import audit, emails, timeutil
from .db import database
from .extensions import limiter
from .models import User
from .services import api_tokens
from .sessions import landing, start_session
from .timeutil import utcnow
from .web import public_url, safe_next

bp = Blueprint("sso", __name__)

CLIENT = "sso"  # the name Authlib keeps the client under
REQUIRED = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")
VALUE_LISTS = ("OIDC_ADMIN_VALUES", "OIDC_BROADCASTER_VALUES", "OIDC_REQUIRED_VALUES")
PASSWORD_MODES = ("all", "admins", "off")
TIMEOUT = 5  # seconds for each request to the provider: a sign-on waits no longer
METADATA_MAX_AGE = 24 * 60 * 60  # the discovery document is read again after a day
LOOPBACK = ("localhost", "::1")


# --- settings ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    name: str  # the button's label; empty: the translated default
    roles_claim: str
    admin_values: frozenset
    broadcaster_values: frozenset
    required_values: frozenset


def _values(raw: str) -> frozenset:
    return frozenset(v.strip() for v in (raw or "").split(",") if v.strip())


def configured(config) -> bool:
    return bool(config.get("OIDC_ISSUER"))


def _is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def check_settings(config) -> None:
    """At start-up: single sign-on configured halfway or with a malformed value is an error
    naming the variable to fix — not a sign-in page that fails when someone first uses it."""
    present = [k for k in REQUIRED if config.get(k)]
    others = [k for k in ("OIDC_SCOPES", "OIDC_NAME", "OIDC_ROLES_CLAIM", *VALUE_LISTS)
              if config.get(k)]
    if present and len(present) < len(REQUIRED):
        missing = ", ".join(k for k in REQUIRED if not config.get(k))
        raise ValueError(f"Single sign-on is configured only in part: set {missing} too "
                         f"(or unset {', '.join(present)}).")
    if not present and others:
        raise ValueError(f"{others[0]} is set but single sign-on is not: set OIDC_ISSUER, "
                         "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET too (or unset it).")
    mode = config.get("PASSWORD_SIGN_IN") or "all"
    if mode not in PASSWORD_MODES:
        raise ValueError(f"PASSWORD_SIGN_IN must be all, admins or off, not {mode!r}.")
    if mode != "all" and not present:
        raise ValueError(f"PASSWORD_SIGN_IN={mode} needs single sign-on (OIDC_ISSUER, "
                         "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET): nobody could sign in.")
    if not present:
        return
    issuer = config["OIDC_ISSUER"]
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query \
            or parts.fragment or (parts.scheme == "http" and not _is_loopback(parts.hostname)):
        raise ValueError(f"OIDC_ISSUER must be the provider's https:// issuer URL (its "
                         f"/.well-known/openid-configuration is read from there), not "
                         f"{issuer!r}.")
    scopes = (config.get("OIDC_SCOPES") or "").split()
    if scopes and "openid" not in scopes:
        raise ValueError("OIDC_SCOPES must include openid (e.g. \"openid email profile\").")
    claim = config.get("OIDC_ROLES_CLAIM") or ""
    if claim and (any(not segment for segment in claim.split("."))
                  or any(c.isspace() or c == "," for c in claim)):
        raise ValueError(f"OIDC_ROLES_CLAIM must be a claim name or a dotted path such as "
                         f"groups or realm_access.roles, not {claim!r}.")
    for key in VALUE_LISTS:
        if config.get(key) and not claim:
            raise ValueError(f"{key} needs OIDC_ROLES_CLAIM: the claim whose values it names "
                             "(e.g. groups).")
        if config.get(key) and not _values(config[key]):
            raise ValueError(f"{key} must be a comma-separated list of claim values.")


def settings(config) -> Settings:
    return Settings(
        issuer=config["OIDC_ISSUER"].rstrip("/"),
        client_id=config["OIDC_CLIENT_ID"],
        client_secret=config["OIDC_CLIENT_SECRET"],
        scopes=config.get("OIDC_SCOPES") or "openid email profile",
        name=config.get("OIDC_NAME") or "",
        roles_claim=config.get("OIDC_ROLES_CLAIM") or "",
        admin_values=_values(config.get("OIDC_ADMIN_VALUES")),
        broadcaster_values=_values(config.get("OIDC_BROADCASTER_VALUES")),
        required_values=_values(config.get("OIDC_REQUIRED_VALUES")),
    )


def button_label(config) -> str:
    return config.get("OIDC_NAME") or str(_l("Sign in with single sign-on"))


def provider_name(config) -> str:
    """How the admin's screens name the provider: its host."""
    return urlsplit(config.get("OIDC_ISSUER") or "").hostname or ""


def password_allowed(config, user: User | None) -> bool:
    """Whether this account may sign in with its password (PASSWORD_SIGN_IN). An account
    linked to the provider signs in there while single sign-on is on: its password would
    outlive its removal from the provider's group."""
    if not configured(config):
        return True
    if user is not None and user.signs_on:
        return False
    mode = config.get("PASSWORD_SIGN_IN") or "all"
    return mode == "all" or (mode == "admins" and user is not None and user.is_admin)


def password_form_shown(config) -> bool:
    return (config.get("PASSWORD_SIGN_IN") or "all") != "off" or not configured(config)


# --- roles: plain functions over the claims -------------------------------------------------------

def claim_values(claims: dict, path: str) -> list[str]:
    """The values at a claim path: `groups`, `realm_access.roles`, or a claim whose own name
    holds dots or slashes (`https://example.com/groups`), looked up whole first. A list of
    strings, or one string, counts; anything else is no values."""
    if not path:
        return []
    if path in claims:
        value = claims[path]
    else:
        value = claims
        for segment in path.split("."):
            value = value.get(segment) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


@dataclass(frozen=True)
class Roles:
    access: str | None  # None: refused (none of OIDC_REQUIRED_VALUES)
    source: str  # for the Users screen: "groups: staff, gg-admins"


def roles_for(s: Settings, claims: dict, current: str | None) -> Roles:
    """The access the provider's claims give. Without OIDC_ROLES_CLAIM the provider gives
    none: a new account is a broadcaster (it can host), an existing one keeps its access.
    With it: refused without one of OIDC_REQUIRED_VALUES; admin with one of OIDC_ADMIN_VALUES;
    broadcaster with one of OIDC_BROADCASTER_VALUES (or with none set: everyone it lets in);
    otherwise guest access."""
    if not s.roles_claim:
        return Roles(current or "broadcaster", "")
    values = claim_values(claims, s.roles_claim)
    known = s.admin_values | s.broadcaster_values | s.required_values
    shown = ", ".join(v for v in values if v in known)[:400] or "none of the configured values"
    source = f"{s.roles_claim}: {shown}"
    have = set(values)
    if s.required_values and not have & s.required_values:
        return Roles(None, source)
    if have & s.admin_values:
        return Roles("admin", source)
    if not s.broadcaster_values or have & s.broadcaster_values:
        return Roles("broadcaster", source)
    return Roles("guest", source)


RANK = {"guest": 0, "broadcaster": 1, "admin": 2}


def email_verified(claims: dict) -> bool:
    # Some providers (Amazon Cognito) send the string "true".
    return claims.get("email_verified") in (True, "true")


# --- the account a sign-on opens -----------------------------------------------------------------

class Refused(Exception):
    """The sign-on is refused: `title` and `detail` are msgids for the page, `status` its
    HTTP status; the audit event is recorded already."""

    def __init__(self, title, detail, status=403):
        super().__init__(str(title))
        self.title, self.detail, self.status = title, detail, status


def _end_everything(user: User) -> str:
    """The account's sessions and API tokens end, as "Sign out everywhere" ends them: what the
    provider took away must not live on in another browser or in a script. What to add to the
    audit event's detail."""
    user.end_sessions()
    revoked = api_tokens.revoke_all(user)
    return f"; {revoked} API token{'s' if revoked != 1 else ''} revoked" if revoked else ""


def _refuse(email: str, why: str, title, detail, user: User | None = None):
    with database.atomic():
        if user is not None:
            why += _end_everything(user)  # no longer allowed: the sessions it has end too
        audit.record("sso_refused", None, email, detail=why,
                     actor=user or audit.Actor(email=email))
    return Refused(title, detail)


def account_for(s: Settings, claims: dict, now=None) -> User:
    """The account these verified claims open, made, linked and refreshed as the provider
    says. Raises Refused."""
    now = now or utcnow()
    iss, sub = s.issuer, str(claims["sub"])
    email = emails.account_key(claims.get("email") or "") or ""
    verified = bool(email) and email_verified(claims)
    name = str(claims.get("name") or "").strip()[:120]
    user = User.get_or_none((User.oidc_issuer == iss) & (User.oidc_subject == sub))
    linked = False
    if user is None:
        if not email:
            raise _refuse(f"{iss} {sub}"[:255], "the provider gave no email address",
                          _l("Your email address is needed"),
                          _l("The sign-in service didn't share your email address. Ask your "
                             "administrator to include the email scope."))
        existing = User.get_or_none(User.email == email)
        if existing is not None and (existing.signs_on or not verified):
            why = ("the address belongs to an account linked to another sign-on identity"
                   if existing.signs_on else
                   "an account has this address and the provider doesn't say it is verified")
            raise _refuse(email, why, _l("This address already has an account"),
                          _l("An account with your email address exists already, and it can't "
                             "be linked to this sign-in. Ask your administrator."))
        user, linked = existing, existing is not None
    roles = roles_for(s, claims, user.access if user else None)
    if roles.access is None:
        raise _refuse(email or user.email, f"none of {', '.join(sorted(s.required_values))} "
                      f"in {s.roles_claim}", _l("You can't sign in to Guestgate"),
                      _l("Your organisation's sign-in doesn't give you access to Guestgate. "
                         "If you should have it, ask your administrator."), user=user)
    try:
        with database.atomic():
            if user is None:
                user = _create(iss, sub, email, name, roles, claims, now)
            else:
                user = _refresh(user, iss, sub, email if verified else "", name, roles, now,
                                linked)
    except IntegrityError:  # the same person's two first sign-ons at once, or an address taken
        user = User.get_or_none((User.oidc_issuer == iss) & (User.oidc_subject == sub))
        if user is None:
            raise _refuse(email, "the address was taken meanwhile",
                          _l("This address already has an account"),
                          _l("An account with your email address exists already, and it "
                             "can't be linked to this sign-in. Ask your administrator."))
    return user


def _create(iss, sub, email, name, roles: Roles, claims, now) -> User:
    from .passwords import UNUSABLE

    zone = claims.get("zoneinfo")
    user = User.create(
        email=email, name=name, access=roles.access, oidc_issuer=iss, oidc_subject=sub,
        sso_roles=roles.source, last_sign_in_at=now,
        password_hash=UNUSABLE,  # no password: the account signs in at the provider
        timezone=zone if isinstance(zone, str) and timeutil.is_valid_zone(zone) else "UTC")
    audit.record("sso_account_created", None, email, detail=f"{roles.access} access"
                 + (f" ({roles.source})" if roles.source else ""), actor=user)
    return user


def _refresh(user: User, iss, sub, email, name, roles: Roles, now, linked: bool) -> User:
    old = user.access
    changes = {User.last_sign_in_at: now, User.access: roles.access,
               User.sso_roles: roles.source}
    if linked:
        changes.update({User.oidc_issuer: iss, User.oidc_subject: sub})
    if name:
        changes[User.name] = name
    if email and email != user.email and not User.select().where(User.email == email).exists():
        changes[User.email] = email  # only a verified address: invitations find accounts by it
    User.update(changes).where(User.id == user.id).execute()
    user = User.get_by_id(user.id)
    if linked:
        audit.record("sso_linked", None, user.email,
                     detail=f"{iss} (the provider says the address is verified)", actor=user)
    ended = ""
    if RANK[roles.access] < RANK[old]:
        ended = _end_everything(user)  # a demotion ends every session and API token it had
        user = User.get_by_id(user.id)  # this sign-on's session starts after it
    if old != roles.access:
        audit.record("access_changed", None, user.email,
                     detail=f"{old} → {roles.access} (from the sign-in provider: "
                            f"{roles.source}){ended}", actor=user)
    return user


# --- the client ----------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(lambda url: urlsplit(url or "").hostname or "", "host_of")
    if not configured(app.config):
        return

    @app.context_processor
    def _sso_button():
        # Pages other than sign-in that offer the button (an invitation that needs an account)
        return {"sso_button_label": button_label(app.config)}

    s = settings(app.config)
    oauth = OAuth(app)
    oauth.register(
        CLIENT, client_id=s.client_id, client_secret=s.client_secret,
        server_metadata_url=s.issuer + "/.well-known/openid-configuration",
        client_kwargs={"scope": s.scopes, "code_challenge_method": "S256",
                       "default_timeout": TIMEOUT})


def _client():
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT)


class Unreachable(Exception):
    """The provider didn't answer, or answered nonsense."""


def _metadata(client) -> dict:
    """The provider's discovery document, read once a process (Authlib keeps it); its issuer
    must be the one configured (OpenID Connect Discovery 1.0, section 4.3)."""
    if time.time() - client.server_metadata.get("_loaded_at", time.time()) > METADATA_MAX_AGE:
        client.server_metadata.clear()  # read again: endpoints and keys may have moved
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError, TypeError) as exc:
        raise Unreachable(str(exc))
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
               if not metadata.get(k)]
    wrong_issuer = str(metadata.get("issuer", "")).rstrip("/") \
        != settings(current_app.config).issuer
    if missing or wrong_issuer:
        client.server_metadata.clear()
        raise Unreachable(f"the discovery document lacks {', '.join(missing)}" if missing else
                          f"the discovery document names the issuer "
                          f"{metadata.get('issuer')!r}, not OIDC_ISSUER")
    return metadata


def _problem(title, detail, status: int):
    return render_template("auth/sso_problem.html", title=title, detail=detail), status


UNREACHABLE = (_l("The sign-in service can't be reached"),
               _l("Guestgate couldn't reach your organisation's sign-in service. Try again in "
                  "a moment."))
FAILED = (_l("Signing in didn't work"),
          _l("The answer from the sign-in service couldn't be checked, or it came from an "
             "earlier attempt. Start again from the sign-in page."))


def _sign_on_limit():
    return current_app.config["SIGN_IN_LIMIT_PER_ADDRESS"]


@bp.get("/sign-in/sso")
@limiter.limit(_sign_on_limit)
def start():

    if not configured(current_app.config):
        abort(404)
    client = _client()
    try:
        _metadata(client)
    except Unreachable as exc:
        current_app.logger.warning("sign-on provider unreachable: %s", exc)
        return _problem(*UNREACHABLE, 503)
    session["sso_next"] = safe_next(request.args.get("next")) or ""
    return client.authorize_redirect(public_url("sso.callback"))


@bp.get("/sign-in/sso/callback")
@limiter.limit(_sign_on_limit)
def callback():

    config = current_app.config
    if not configured(config):
        abort(404)
    if request.args.get("error"):
        # The person cancelled at the provider, or it refused them: back to the sign-in page.
        current_app.logger.info("sign-on answered %s", request.args.get("error"))
        return _problem(_l("Signing in was cancelled"),
                        _l("The sign-in service didn't sign you in. Start again from the "
                           "sign-in page."), 401)
    client = _client()
    try:
        _metadata(client)
        s = settings(config)
        # The ID token is for this client (aud) from this issuer; Authlib checks the signature,
        # expiry, nonce, azp and at_hash on its own.
        token = client.authorize_access_token(claims_options={
            "iss": {"essential": True, "values": [_metadata(client)["issuer"]]},
            "aud": {"essential": True, "values": [s.client_id]}})
        claims = dict(token.get("userinfo") or {})
        if not claims.get("sub"):
            raise OAuthError(description="no ID token")  # an ID token is what signs someone in
        claims = _with_userinfo(client, token, claims)
    except Unreachable as exc:
        current_app.logger.warning("sign-on provider unreachable: %s", exc)
        return _problem(*UNREACHABLE, 503)
    except requests.RequestException as exc:
        current_app.logger.warning("sign-on provider unreachable: %s", exc)
        return _problem(*UNREACHABLE, 503)
    except Exception as exc:  # noqa: BLE001 - state, PKCE, signature, claims: all refused
        if not _token_problem(exc):
            raise
        current_app.logger.warning("sign-on refused: %s: %s", type(exc).__name__, exc)
        # Whoever it was is unknown: the answer couldn't be trusted.
        audit.record("sso_refused", None, "", detail=f"{type(exc).__name__}: {exc}"[:500],
                     actor=audit.Actor())
        return _problem(*FAILED, 400)
    try:
        user = account_for(s, claims)
    except Refused as refused:
        return _problem(refused.title, refused.detail, refused.status)
    next_url = session.get("sso_next") or ""
    start_session(user)
    # This session signed on: sign-out signs out at the provider too (RP-initiated logout), with
    # the ID token as its hint — unless the token is so large (Entra ID with many groups) that
    # it would push the session cookie past what browsers keep; client_id alone then names us.
    session["sso"] = True
    id_token = token.get("id_token", "")
    session["sso_id_token"] = id_token if len(id_token) <= MAX_HINT else ""

    return redirect(next_url or landing(user), 303)


def _token_problem(exc: Exception) -> bool:
    """Errors that mean "this answer can't be trusted", from Authlib and the JOSE libraries."""
    from joserfc.errors import JoseError

    return isinstance(exc, OAuthError | JoseError | ValueError | KeyError)


def _with_userinfo(client, token, claims: dict) -> dict:
    """Providers put roles and the address in the ID token or only in the UserInfo answer
    (oidc-provider, Authentik): the ID token's claims, and UserInfo's for what it lacks — for
    the same subject only (OpenID Connect Core, 5.3.2)."""
    if not client.server_metadata.get("userinfo_endpoint") or not token.get("access_token"):
        return claims
    info = client.userinfo(token=token)
    if str(info.get("sub")) != str(claims["sub"]):
        raise OAuthError(description="UserInfo is about another subject")
    protected = {"iss", "sub", "aud", "exp", "iat", "nonce", "azp", "auth_time", "at_hash"}
    return {**{k: v for k, v in info.items() if k not in protected}, **claims}


MAX_HINT = 2000  # characters of ID token kept in the session cookie for the logout hint


def logout_url(config, signed_on: bool, id_token: str) -> str | None:
    """RP-initiated logout at the provider, back to the sign-in page; None when the session
    didn't sign on, or the provider offers none (or can't be reached: the Guestgate session
    has ended all the same)."""
    if not configured(config) or not signed_on:
        return None
    try:
        endpoint = _metadata(_client()).get("end_session_endpoint")
    except Unreachable:
        return None
    if not endpoint:
        return None
    query = urlencode({**({"id_token_hint": id_token} if id_token else {}),
                       "client_id": settings(config).client_id,
                       "post_logout_redirect_uri": public_url("auth.sign_in")})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"


def form_action_origin(config) -> str:
    """The provider's origin, which the sign-out form's redirect goes to (the Content Security
    Policy's form-action): '' without single sign-on."""
    if not configured(config):
        return ""
    parts = urlsplit(config["OIDC_ISSUER"])
    return f"{parts.scheme}://{parts.netloc}"
