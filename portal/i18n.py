"""Languages of the guest path (Flask-Babel): the browser's Accept-Language decides, a switch on
the page overrides it for the session. Dates and times are formatted for the locale."""

from datetime import datetime
from functools import lru_cache

from babel import dates, support
from flask import Flask, request, session
from flask_babel import Babel, get_locale
from wtforms.i18n import messages_path

LANGUAGES = {"en": "English", "de": "Deutsch"}
babel = Babel()


@lru_cache(maxsize=len(LANGUAGES) + 1)
def _wtforms_catalogue(locale: str) -> support.Translations:
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class WTFormsMessages:
    """WTForms' own messages ("Not a valid choice.") in the page's language. Flask-WTF reads the
    catalogue from disk again for every request that makes a form (0.6 ms of a lobby entry's
    3.8); the files don't change while the app runs, so it is read once per language here."""

    def gettext(self, string: str) -> str:
        return _wtforms_catalogue(str(get_locale())).ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _wtforms_catalogue(str(get_locale())).ungettext(singular, plural, n)


wtforms_messages = WTFormsMessages()


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
