"""Pages every first-time visitor sees alike, rendered once.

A guest link's lobby is the page a whole audience opens in the same minute. For a browser that
brings no cookie at all, the page depends only on its address, its language and the context the
template is given — nobody is signed in, nothing was flashed, no language was chosen, no
presence exists — so it is rendered once per such key and kept (a bounded LRU per app and
process). The key is made from that very context (every column of a model), and whatever else
the template gets is made from that context alone, so nothing it can show is left out of it.
Each visitor still gets a CSRF token of their own, put where the first visitor's was. The access
decision is made for every request before this; only the HTML is shared."""

import threading
from collections import OrderedDict
from collections.abc import Callable
from secrets import token_hex

from flask import current_app, render_template, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from peewee import Model

from .prepared import model_key

MAX_PAGES = 512
_STORE = "guestgate_first_visit_pages"
_MARKER = f"csrf-token-{token_hex(16)}"  # no page can contain it by chance


def applies() -> bool:
    return request.method == "GET" and not request.cookies


def _part(value):
    """A context value as part of a key: a model by all its columns; anything else must be a
    plain, hashable value."""
    if isinstance(value, Model):
        return model_key(value)
    hash(value)
    return value


def render(template: str, context: dict,
           derived: dict[str, Callable[[dict], object]] | None = None) -> str:
    """The page `template` renders with `context` at this address and in this language:
    rendered now if it isn't kept yet, with this visitor's CSRF token. `derived` are template
    values made from `context` alone (each function gets it, nothing else), so the key holds
    them too; they are made only when the page is rendered."""
    key = (template, request.full_path, str(get_locale()),
           tuple(sorted((name, _part(value)) for name, value in context.items())))
    token = generate_csrf()
    store = current_app.extensions.get(_STORE)
    if store is None:  # the app's first such page
        store = current_app.extensions.setdefault(_STORE, (OrderedDict(), threading.Lock()))
    pages, lock = store
    with lock:
        page = pages.get(key)
        if page is not None:
            pages.move_to_end(key)
    if page is not None:
        return page.replace(_MARKER, token)
    html = render_template(template, **context,
                           **{name: make(dict(context)) for name, make in (derived or {}).items()})
    with lock:
        pages[key] = html.replace(token, _MARKER)
        while len(pages) > MAX_PAGES:
            pages.popitem(last=False)
    return html
