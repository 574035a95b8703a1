"""Languages of the guest path (Flask-Babel): the browser's Accept-Language decides, a switch on
the page overrides it for the session. Dates and times are formatted for the locale."""

from datetime import datetime
from functools import lru_cache

from babel import dates
from flask import Flask, request, session
from flask_babel import Babel, get_locale

LANGUAGES = {"en": "English", "de": "Deutsch"}
babel = Babel()


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default="en")


def switch_url(code: str) -> str:
    """This page again in another language (the token-carrying path is kept as it is)."""
    args = request.args.to_dict()
    args["lang"] = code
    from urllib.parse import urlencode

    return f"{request.path}?{urlencode(args)}"


@lru_cache(maxsize=4096)
def _written(utc: datetime, locale: str) -> str:
    """Every guest of a room sees the same start time: written once per language."""
    return f"{dates.format_date(utc, 'full', locale=locale)}, " \
        f"{dates.format_time(utc, 'short', locale=locale)} UTC"


def init_app(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, default_domain="messages",
                   default_translation_directories="translations")

    @app.before_request
    def _switch_language():
        code = request.args.get("lang")
        if code in LANGUAGES:
            session["lang"] = code

    @app.template_filter("local_datetime")
    def local_datetime(utc):
        """A UTC time written for the guest's language (in UTC: the script shows it in the
        guest's own zone when it runs)."""
        if utc is None:
            return ""
        return _written(utc, str(get_locale() or "en"))

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_locale": str(get_locale() or "en"),
                "lang_switch_url": switch_url}
