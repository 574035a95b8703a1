"""Pages every first-time visitor sees alike, rendered once.

A guest link's lobby is the page a whole audience opens in the same minute. For a browser that
brings no cookie at all, the page depends only on its address, its language and the room facts
it shows — nobody is signed in, nothing was flashed, no language was chosen, no presence exists —
so it is rendered once per such key and kept (a bounded LRU per app and process). Each visitor
still gets a CSRF token of their own, put where the first visitor's was. The access decision is
made for every request before this; only the HTML is shared."""

import threading
from collections import OrderedDict
from collections.abc import Callable
from secrets import token_hex

from flask import current_app, render_template, request
from flask_wtf.csrf import generate_csrf

MAX_PAGES = 512
_STORE = "guestgate_first_visit_pages"
_MARKER = f"csrf-token-{token_hex(16)}"  # no page can contain it by chance


def applies() -> bool:
    return request.method == "GET" and not request.cookies


def render(key: tuple, template: str, context: Callable[[], dict]) -> str:
    """The page for `key`: rendered now if it isn't kept yet (`context` gives the template's
    variables then; a kept page needs none of them), with this visitor's CSRF token."""
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
    html = render_template(template, **context())
    with lock:
        pages[key] = html.replace(token, _MARKER)
        while len(pages) > MAX_PAGES:
            pages.popitem(last=False)
    return html
