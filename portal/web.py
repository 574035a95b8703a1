"""What every screen shares: the start page, htmx itself (served from its installed package),
template filters for times, and the small htmx helpers."""

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup, escape
from werkzeug.routing import IntegerConverter
from werkzeug.urls import iri_to_uri

from . import timeutil

bp = Blueprint("web", __name__)

HTMX_DIR = str(files("js_lib_htmx") / "static" / "htmx")


@bp.get("/")
def index():
    if current_user.is_authenticated:
        if current_user.is_owner:
            return redirect(url_for("owner.rooms"))
        return redirect(url_for("guest.my_sessions"))
    return render_template("index.html")


@bp.get("/vendor/htmx.min.js")
def htmx_js():
    return send_from_directory(HTMX_DIR, "htmx.min.js", max_age=60 * 60 * 24 * 365)


@bp.get("/push-worker.js")
def push_worker():
    """The service worker that shows host alerts (static/push-worker.js), served from the site's
    root so its scope is the whole site; never cached long, so a new version is picked up."""
    script = (Path(current_app.static_folder) / "push-worker.js").read_bytes()
    return current_app.response_class(script, mimetype="text/javascript",
                                      headers={"Cache-Control": "no-cache"})


@bp.get("/healthz")
def healthz():
    return {"ok": True}


class IdConverter(IntegerConverter):
    """`<int:...>` for database ids: a number beyond a 64-bit integer is simply not found (404);
    SQLite can't even compare it, which would be a 500."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):
        super().__init__(map, fixed_digits, min, max, signed)


def public_url(endpoint: str, **values) -> str:
    """An address for people outside the app (emails, Copy link, calendar files): BASE_URL and
    the route's path — never the request's Host header — and it works without a request too
    (seed-demo)."""
    path = current_app.url_map.bind("").build(endpoint, values)
    return current_app.config["BASE_URL"] + path


def is_htmx() -> bool:
    """A real htmx request for a fragment (not a history restore, which wants the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def unchanged_since_last_poll(fingerprint: str) -> bool:
    """A polling section sends the fingerprint of what it shows as ?seen=; while it still
    matches, the answer is 204 and htmx swaps nothing (focus and screen readers stay put)."""
    return is_htmx() and request.args.get("seen") == fingerprint


def polled_section(fragment: str, context: dict, fingerprint: str,
                   whole_page: Callable[[], object]):
    """A polling section's GET: 204 while `context[fingerprint]` still matches, the `fragment`
    for htmx, and `whole_page()` (the page, or a redirect to it) for a plain load or a history
    restore."""
    if unchanged_since_last_poll(context[fingerprint]):
        return make_response("", 204)
    if is_htmx():
        return render_template(fragment, **context)
    return whole_page()


def answer(fragment: str, fragment_context: Callable[[], dict], page: str,
           page_context: Callable[[], dict], *, back: str, status: int = 200,
           flashes: Iterable[tuple[str, str]] = ()):
    """The one rule for what a form's POST answers, with htmx or without.

    Done (`status` 2xx): htmx gets the fragment, its notice inside; a plain form gets `flashes`
    ((category, text) pairs) and a 303 to `back` (post/redirect/get).
    Refused (`status` 4xx): the error is shown where the form is. A plain form gets the whole
    `page` with `status`; htmx gets the fragment with 422, the one error status base.html's
    htmx-config tells htmx to swap (htmx 2 swaps no other 4xx)."""
    if is_htmx():
        return render_template(fragment, **fragment_context()), 422 if status >= 400 else status
    if status >= 400:
        return render_template(page, **page_context()), status
    for category, text in flashes:
        flash(text, category)
    return redirect(back, 303)


def see_other(endpoint: str, **values):
    """Post/redirect/get; for htmx, HX-Redirect makes the browser follow it as a full load."""
    url = url_for(endpoint, **values)
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


# --- a list's rows: drawn once as a pattern, filled per row --------------------------------------
# A host's lists (the waiting room, In the room) show up to HOST_LIST_ROWS rows, and several
# hosts' polls draw them again at every change. Drawn by Jinja row by row, each row was some
# thirty escaped values, two to four url_for calls and macro calls: most of the room page's
# time. So the template draws a row once, with a slot (`slot.name`) wherever a row's value
# goes, and each row fills the slots with its values, escaped once each as `{{ }}` would.

_SLOT = re.compile("\ue000(\\w+)\ue001")  # private-use characters: never escaped, never typed


class _Slots:
    """`slot.name` in a template: where each row's `name` goes in a row pattern."""

    def __getattr__(self, name: str) -> Markup:
        if name.startswith("_"):
            raise AttributeError(name)
        return Markup(f"\ue000{name}\ue001")


slot = _Slots()


class RowPattern:
    """A row drawn once with slots (`row_pattern(drawn)` in a template); `fill(**values)` is
    one row: the same markup as drawing it with those values (a value no slot names is
    left out: a list's rows may be drawn by two patterns from the same values)."""

    __slots__ = ("_first", "_names", "_slots")

    def __init__(self, drawn: str):
        parts = _SLOT.split(str(drawn))  # text, slot name, text, slot name, ..., text
        self._first = parts[0]
        self._slots = tuple(zip(parts[1::2], parts[2::2], strict=True))  # (slot, text after it)
        self._names = tuple(dict.fromkeys(parts[1::2]))

    def fill(self, **values) -> Markup:
        escaped = {name: _escaped(values[name]) for name in self._names}  # once each
        out = [self._first]
        for name, text in self._slots:
            out += (escaped[name], text)
        return Markup("".join(out))


def _escaped(value) -> str:
    """escape(value), without its work where the answer is known: markup stays as it is, a
    number is its digits."""
    if isinstance(value, Markup):
        return value
    return str(value) if type(value) is int else escape(value)


# An id no list holds: where url_for writes it, the row's id goes.
_ROW_ID = 8_675_309_192_837_465


def url_for_row(endpoint: str, key: str = "participant_id", **values) -> Markup:
    """`url_for(endpoint, **values)` for a row pattern, the row's id (`key`) its `slot.id`."""
    head, found, tail = url_for(endpoint, **values, **{key: _ROW_ID}).partition(str(_ROW_ID))
    if not found or str(_ROW_ID) in tail:
        raise ValueError(f"{endpoint}: {key} isn't written once in its URL")
    return Markup(f"{escape(head)}{slot.id}{escape(tail)}")


def user_zone() -> str:
    """The signed-in person's time zone (looked up once a request: lists format many times)."""
    zone = g.get("user_zone")
    if zone is None:
        zone = g.user_zone = (current_user.timezone or "UTC") \
            if current_user.is_authenticated else "UTC"
    return zone


def owner_time(utc, fmt="%a %d %b %Y, %H:%M") -> str:
    """A UTC time in the signed-in owner's zone, with the zone's abbreviation (also the
    templates' `owner_time` filter; a list's rows call it for each, so the zone is looked up
    once a request)."""
    return "" if utc is None else _owner_time(utc, user_zone(), fmt)


@functools.lru_cache(maxsize=4096)
def _owner_time(utc, zone: str, fmt: str) -> str:
    """Remembered: a host's lists write the same times again at every poll."""
    local = utc.replace(tzinfo=UTC).astimezone(timeutil.zone(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def untranslated(text: str, **values) -> Markup:
    """`_` for English-only screens in a template shared with translated guest pages: fills in
    %(name)s values, escaped like Flask-Babel's `_`, and translates nothing."""
    return Markup(text) % values if values else Markup(text)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["untranslated"] = untranslated
    app.jinja_env.globals.update(slot=slot, row_pattern=RowPattern, url_for_row=url_for_row)

    app.add_template_filter(owner_time)

    @app.template_filter("iso")
    def iso(utc):
        return timeutil.iso_utc(utc) or ""

    @app.template_filter("utc_time")
    def utc_time(utc, fmt="%a %d %b %Y, %H:%M UTC"):
        return "" if utc is None else utc.strftime(fmt)

    @app.context_processor
    def _globals():
        return {"is_htmx": is_htmx(), "now_utc": timeutil.utcnow()}


def safe_next(target: str | None) -> str | None:
    """Only a path of this site: never an open redirect. Browsers drop tabs and newlines from a
    URL, read a backslash as a slash and take "//x" or "///x" as the host x, so a target holding
    a control character, a space or a backslash is refused whole, and it must be a path both as
    given and as the Location header will carry it (werkzeug normalises it on the way out)."""
    if not target or any(c == "\\" or unicodedata.category(c)[0] in "CZ" for c in target):
        return None
    return target if _is_path(target) and _is_path(iri_to_uri(target)) else None


def _is_path(url: str) -> bool:
    parts = urlsplit(url)
    return url.startswith("/") and not url.startswith("//") and not parts.scheme \
        and not parts.netloc
