"""Pages, or the shells of pages, that many guests see alike: rendered once per key and kept.

Two kinds (a bounded LRU per app and process holds both):

- `render`: a guest link's lobby is the page a whole audience opens in the same minute. For a
  browser that brings no cookie at all, the page depends only on its address, its language and
  the context the template is given — nobody is signed in, nothing was flashed, no language was
  chosen, no presence exists — so it is rendered once per such key and kept. Each visitor still
  gets a CSRF token of their own, put where the first visitor's was.
- `render_shell`: the guest's place in a room (countdown, waiting page, the room) is the page
  every guest of the room loads at the start or on Admit all. What every guest of a room, role
  and language sees alike — the shell — is rendered once per key and kept; the guest's own
  parts (`{{ own("guest/_part.html") }}` in the template: their name, place in line, poll,
  push channel) are rendered for each request and put in, and so is their CSRF token.

Either key is made from the very context the shell is rendered with (every column of each
model), with the address, the script root and the language, so a change to the room makes a new
key: the next load shows it, never a stale page. The access decision is made for every request
before this; only HTML is shared. Kept per process, not in a shared store: each worker renders a
shell once per change of the room, and a hit costs less than a round trip to Redis would
(docs/performance.md, "The guest's pages")."""

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from secrets import token_hex

from flask import current_app, render_template, request, session
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from peewee import Model

from .prepared import model_key

MAX_PAGES = 512
_STORE = "guestgate_kept_pages"  # app.extensions: per app, so a new app starts empty
_MARKER = f"csrf-token-{token_hex(16)}"  # no page can contain it by chance
# Where a shell's own parts and CSRF token go: _SLOT + name + _SLOT.
_SLOT = f"slot-{token_hex(16)}"
_SLOTS = re.compile(f"{_SLOT}(.*?){_SLOT}")
_CSRF = "csrf"


def applies() -> bool:
    return request.method == "GET" and not request.cookies


def _part(value):
    """A context value as part of a key: a model by all its columns, a list of models by theirs;
    anything else must be a plain, hashable value."""
    if isinstance(value, Model):
        return model_key(value)
    if isinstance(value, list | tuple):
        return tuple(_part(item) for item in value)
    hash(value)
    return value


def _key(kind: str, template: str, context: dict) -> tuple:
    return (kind, template, request.script_root, request.full_path, str(get_locale()),
            tuple(sorted((name, _part(value)) for name, value in context.items())))


def _pages() -> tuple[OrderedDict, threading.Lock]:
    store = current_app.extensions.get(_STORE)
    if store is None:  # the app's first such page
        store = current_app.extensions.setdefault(_STORE, (OrderedDict(), threading.Lock()))
    return store


def _kept(key):
    pages, lock = _pages()
    with lock:
        page = pages.get(key)
        if page is not None:
            pages.move_to_end(key)
    return page


def _keep(key, page) -> None:
    pages, lock = _pages()
    with lock:
        pages[key] = page
        while len(pages) > MAX_PAGES:
            pages.popitem(last=False)


def render(template: str, context: dict,
           derived: dict[str, Callable[[dict], object]] | None = None) -> str:
    """The page `template` renders with `context` at this address and in this language:
    rendered now if it isn't kept yet, with this visitor's CSRF token. `derived` are template
    values made from `context` alone (each function gets it, nothing else), so the key holds
    them too; they are made only when the page is rendered."""
    key = _key("page", template, context)
    token = generate_csrf()
    page = _kept(key)
    if page is not None:
        return page.replace(_MARKER, token)
    html = render_template(template, **context,
                           **{name: make(dict(context)) for name, make in (derived or {}).items()})
    _keep(key, html.replace(token, _MARKER))
    return html


class OwnValueInShell(RuntimeError):
    """A shell read a guest's own value: it belongs in an own part (`own(...)`)."""


class _OwnOnly:
    """What a kept shell sees in place of a guest's own value: any use of it is an error, never
    a blank, so no guest's value can be kept for the others."""
    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def _refuse(self, *_args, **_kwargs):
        raise OwnValueInShell(f"{self._name} is the guest's own: show it in an own() part")

    __getattr__ = __getitem__ = __str__ = __html__ = __iter__ = __bool__ = __len__ = _refuse
    __eq__ = __call__ = __format__ = _refuse
    __hash__ = None


def _mark(name: str) -> Markup:
    return Markup(f"{_SLOT}{name}{_SLOT}")


def render_shell(template: str, shared: dict, own: dict, keep: bool = True) -> str:
    """The page `template` renders for this guest: its shell made from `shared` alone (kept per
    key, unless `keep` is false: a page with a part nobody else sees that isn't an own part,
    such as a moderator's live lists), with each `own(...)` part rendered now from `shared` and
    `own` together, and this guest's CSRF token. A page with a message flashed for this browser,
    or for a signed-in person (whose name the header shows), is rendered whole, not kept."""
    token = generate_csrf()
    keep = keep and "_flashes" not in session and not current_user.is_authenticated
    key = _key("shell", template, shared) if keep else None
    pieces = _kept(key) if keep else None
    if pieces is None:
        hidden = {name: _OwnOnly(name) for name in own} if keep else own
        html = render_template(template, **shared, **hidden, own=_mark)
        pieces = tuple(_SLOTS.split(html.replace(token, _mark(_CSRF))))
        if keep:
            _keep(key, pieces)
    context = {**shared, **own}
    current_app.update_template_context(context)
    fill = {_CSRF: token}
    environment = current_app.jinja_env
    for name in pieces[1::2]:
        if name not in fill:
            fill[name] = environment.get_template(name).render(context)
    return "".join(fill[piece] if i % 2 else piece for i, piece in enumerate(pieces))
