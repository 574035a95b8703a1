"""The guest path speaks the guest's language: Accept-Language decides, a switch overrides it,
and German is complete for the guest path and the denial pages."""

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from helpers import link_path, make_user, text_of

from portal.decision import REASONS
from portal.models import GuestLink, Room
from portal.timeutil import utcnow

TRANSLATIONS = Path(__file__).resolve().parent.parent / "portal" / "translations"
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}


@pytest.fixture
def link(app, db):
    room = Room.create(owner=make_user(), title="Produktstart", guest_access_enabled=True,
                       starts_at=datetime(2030, 3, 14, 9, 30), ends_at=datetime(2030, 3, 14, 11))
    link = GuestLink.create(room=room, name="Gäste")
    return room, link_path(app, link)


def test_every_message_has_a_german_translation(tmp_path):
    """The catalog is complete: every text marked in the code is translated."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
         str(TRANSLATIONS / "babel.cfg"), "-k", "_l", "-k", "N_", "-k", "lazy_gettext",
         "--no-location", "-o", str(pot), "."],
        capture_output=True, text=True, cwd=TRANSLATIONS.parent.parent, check=True)
    with pot.open("rb") as extracted:
        marked = {m.id for m in read_po(extracted) if m.id}
    with (TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        german = read_po(po)
    translated = {m.id for m in german if m.id and (
        all(m.string) if isinstance(m.string, tuple) else m.string)}
    assert marked - translated == set()
    assert all(not m.fuzzy for m in german if m.id)


def test_lobby_follows_accept_language(client, link):
    room, url = link
    page = client.get(url, headers=GERMAN)
    text = text_of(page)
    assert '<html lang="de">' in page.get_data(as_text=True)
    assert "Sie sind eingeladen zu" in text and "Ihr Name" in text and "Teilnehmen" in text
    # Dates are written for the locale (the script then shows them in the guest's zone).
    assert "Donnerstag, 14. März 2030, 09:30 UTC" in text
    english = text_of(client.get(url, headers={"Accept-Language": "en-GB,en"}))
    assert "You're invited to" in english and "Thursday, March 14, 2030" in english


def test_switch_on_the_page_overrides_the_browser(client, link):
    room, url = link
    page = client.get(url, headers=GERMAN)
    assert f'href="{url}?lang=en"' in page.get_data(as_text=True)
    assert "You're invited to" in text_of(client.get(url + "?lang=en", headers=GERMAN))
    assert "You're invited to" in text_of(client.get(url, headers=GERMAN))  # remembered


def test_errors_in_german(client, link):
    room, url = link
    page = client.post(url, data={"name": "", "email": "nope"}, headers=GERMAN)
    text = text_of(page)
    assert page.status_code == 422
    assert "Geben Sie Ihren Namen ein." in text
    assert "Geben Sie eine gültige E-Mail-Adresse ein." in text
    assert "Bitte korrigieren Sie die markierten Felder." in text


def test_denial_pages_in_german(app, client, link):
    room, url = link
    Room.update(guest_access_enabled=False).where(Room.id == room.id).execute()
    page = client.get(url, headers=GERMAN)
    assert page.status_code == 403
    assert "Der Host hat den Gastzugang ausgeschaltet" in text_of(page)
    garbled = client.get("/g/nonsense", headers=GERMAN)
    assert "Dieser Link ist ungültig" in text_of(garbled)
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale("de"):
        for reason in REASONS.values():
            assert gettext(reason.title) != reason.title, reason.code
            assert gettext(reason.next_step) != reason.next_step, reason.code


def test_guest_pages_in_german(app, client, link):
    room, url = link
    Room.update(starts_at=utcnow() + timedelta(hours=1)).where(Room.id == room.id).execute()
    client.post(url, data={"name": "Ada", "email": "ada@example.com"}, headers=GERMAN)
    countdown = text_of(client.get(f"/s/{room.id}", headers=GERMAN))
    assert "Sie sind drin. Warten auf den Beginn" in countdown
    Room.update(starts_at=utcnow() - timedelta(minutes=1)).where(Room.id == room.id).execute()
    inside = text_of(client.get(f"/s/{room.id}", headers=GERMAN))
    assert "Ihre Rolle: Zuschauer" in inside and "Verlassen" in inside


def test_wtforms_own_messages_follow_each_request_language(app, client, link):
    """A form's built-in messages (WTForms' catalogue, read once per language) are in the
    language of the request that shows them, whichever language asked first."""
    from portal.services import registration

    room, _ = link
    with app.test_request_context():
        registration.save_settings(room, enabled=True, mode="open", capacity=None,
                                   opens_at=None, closes_at=None)
        registration.add_question(room, "Sitzplatz", "choice", True, ["Fenster", "Gang"])
        page = registration.page_url(room).replace("http://localhost", "")
    answers = {"name": "Ada", "email": "ada@example.com", "q1": "Dach"}
    for headers, said in ((GERMAN, "Keine gültige Auswahl."),
                          ({"Accept-Language": "en"}, "Not a valid choice."),
                          (GERMAN, "Keine gültige Auswahl.")):
        response = client.post(page, data=answers, headers=headers)
        assert response.status_code == 422 and said in text_of(response)
