"""Configuration comes from the environment, a `.env` file fills the gaps, and a fresh machine
gets working defaults: a secret key generated once, SQLite and the outbox in instance/."""

import io
import os
import threading
from datetime import timedelta

import pytest
from helpers import OwnerActions, make_user

from portal import create_app, mail, meetings
from portal.config import from_environment
from portal.db import database
from portal.models import Room
from portal.timeutil import utcnow

SETTINGS = ("SECRET_KEY", "OLD_SECRET_KEYS", "DATABASE_URL", "BASE_URL", "PORT", "MAIL_SERVER",
            "MAIL_PORT", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_USE_TLS", "MAIL_USE_SSL",
            "MAIL_DEFAULT_SENDER", "MAX_UPLOAD_MB", "MAX_LINKS_PER_ROOM")


@pytest.fixture
def bare_environment(tmp_path, monkeypatch):
    """No Guestgate settings in the environment, the working directory an empty folder, and the
    environment restored afterwards (load_dotenv writes into os.environ)."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)  # monkeypatch puts them back afterwards
    saved = dict(os.environ)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    yield cwd
    os.environ.clear()
    os.environ.update(saved)


def test_defaults_work_on_a_fresh_machine(tmp_path, bare_environment):
    instance = tmp_path / "instance"
    settings = from_environment(instance)
    assert settings["DATABASE_URL"] == f"sqlite:///{instance / 'guestgate.sqlite3'}"
    assert settings["BASE_URL"] == "http://127.0.0.1:8000"
    assert settings["PORT"] == 8000
    assert settings["MAIL_SERVER"] is None  # no SMTP server: emails go to the outbox
    assert settings["MAIL_OUTBOX"] == str(instance / "outbox")
    assert settings["UPLOAD_FOLDER"] == str(instance / "uploads")
    assert settings["MAX_LINKS_PER_ROOM"] == 3
    assert settings["MAX_INVITATIONS_PER_ROOM"] == 20


def test_secret_key_is_generated_once_and_kept(tmp_path, bare_environment):
    instance = tmp_path / "instance"
    first = from_environment(instance)["SECRET_KEY"]
    key_file = instance / "secret_key"
    assert key_file.read_text().strip() == first
    assert len(first) >= 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert from_environment(instance)["SECRET_KEY"] == first  # a restart keeps sessions and links


def test_workers_starting_together_share_one_generated_key(tmp_path, bare_environment):
    instance = tmp_path / "instance"
    instance.mkdir()
    keys, start = [], threading.Barrier(8)

    def worker():
        start.wait()
        keys.append(from_environment(instance)["SECRET_KEY"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in instance.iterdir()] == ["secret_key"]  # no temporary files left


def test_secret_key_from_the_environment_wins_and_old_keys_still_verify(
        tmp_path, bare_environment, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-new-key")
    monkeypatch.setenv("OLD_SECRET_KEYS", "old-one, old-two")
    settings = from_environment(tmp_path / "instance")
    assert settings["SECRET_KEY"] == "the-new-key"
    assert settings["SECRET_KEYS"] == ["the-new-key", "old-one", "old-two"]
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_dotenv_file_is_honoured_and_the_environment_wins(tmp_path, bare_environment,
                                                          monkeypatch):
    (bare_environment / ".env").write_text(
        "BASE_URL=https://portal.example.org/\n"
        "PORT=9123\n"
        "MAIL_SERVER=smtp.example.org\n"
        "MAIL_PORT=2525\n"
        "MAIL_USE_TLS=yes\n"
        "DATABASE_URL=sqlite:////srv/from-dotenv.sqlite3\n"
    )
    monkeypatch.setenv("DATABASE_URL", "sqlite:////srv/from-environment.sqlite3")
    settings = from_environment(tmp_path / "instance")
    assert settings["BASE_URL"] == "https://portal.example.org"  # trailing slash dropped
    assert settings["PORT"] == 9123
    assert settings["MAIL_SERVER"] == "smtp.example.org"
    assert settings["MAIL_PORT"] == 2525
    assert settings["MAIL_USE_TLS"] is True
    assert settings["DATABASE_URL"] == "sqlite:////srv/from-environment.sqlite3"


def test_port_sets_the_default_base_url(tmp_path, bare_environment, monkeypatch):
    monkeypatch.setenv("PORT", "8765")
    assert from_environment(tmp_path / "instance")["BASE_URL"] == "http://127.0.0.1:8765"


def test_livekit_without_its_web_client_stops_the_start_naming_it(config, bare_environment,
                                                                  monkeypatch):
    """LiveKit's server, key and secret but no LIVEKIT_MEET_URL: the portal doesn't start (Join
    would otherwise hand each token to LiveKit's hosted demo page), and says what to set."""
    for name, value in {"LIVEKIT_URL": "wss://lk.example.org", "LIVEKIT_API_KEY": "APIkey",
                        "LIVEKIT_API_SECRET": "livekit-secret-0123456789abcdef"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LIVEKIT_MEET_URL", raising=False)
    with pytest.raises(ValueError, match="configured only in part: set LIVEKIT_MEET_URL too"):
        create_app(config)
    monkeypatch.setenv("LIVEKIT_MEET_URL", "https://meet.example.org/custom")
    assert "livekit" in meetings.choices(create_app(config).config)


# --- instance/ is private: password hashes, personal data, live reset and invitation links ------

@pytest.fixture
def umask_022():
    """The usual umask, which makes new files 0644 and folders 0755 unless the app says not to."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> str:
    return oct(path.stat().st_mode & 0o777)


def test_instance_folder_is_private_whatever_the_umask(tmp_path, bare_environment, umask_022):
    fresh, older = tmp_path / "fresh" / "instance", tmp_path / "older"
    older.mkdir(mode=0o755)  # as an earlier version left it
    from_environment(fresh)
    from_environment(older)
    assert mode(fresh) == mode(older) == "0o700"


def test_database_uploads_and_outbox_are_private_whatever_the_umask(config, tmp_path,
                                                                     umask_022):
    private = tmp_path / "instance"
    private.mkdir()
    (private / "uploads").mkdir(mode=0o755)  # as an earlier version left it
    app = create_app({**config, "DATABASE_URL": f"sqlite:///{private / 'guestgate.sqlite3'}",
                      "UPLOAD_FOLDER": str(private / "uploads"),
                      "MAIL_OUTBOX": str(private / "outbox")})
    try:
        now = utcnow()
        with database.connection_context():
            room = Room.create(owner=make_user(), title="R", starts_at=now,
                               ends_at=now + timedelta(hours=1))
        client = app.test_client()
        OwnerActions(client).sign_in()
        assert client.post(f"/rooms/{room.id}/attachments",
                           data={"file": (io.BytesIO(b"%PDF-1.7"), "agenda.pdf")},
                           content_type="multipart/form-data").status_code == 303
        client.post("/forgot-password", data={"email": "owner@example.com"})
        mail.wait_for_background(app)
        files = [p for p in private.rglob("*") if p.is_file()]
        names = {p.name for p in files}
        assert {"guestgate.sqlite3", "guestgate.sqlite3-wal", "guestgate.sqlite3-shm"} <= names
        assert len(list((private / "uploads").iterdir())) == 1
        assert len(list((private / "outbox").iterdir())) == 1
        assert {p.name: mode(p) for p in files} == {name: "0o600" for name in names}
        assert mode(private / "uploads") == mode(private / "outbox") == "0o700"
    finally:
        database.close_all()


def _session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "signing in sets the session cookie"
    return cookies[0]


def test_http_base_url_cookies_are_httponly_lax_and_not_secure(client, owner, auth):
    cookie = _session_cookie(auth.sign_in())
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


class TestBehindHttps:
    @pytest.fixture
    def config(self, config):
        return {**config, "BASE_URL": "https://portal.example.org"}

    def test_https_base_url_makes_cookies_secure(self, app, client, owner, auth):
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
        response = auth.sign_in()
        assert response.status_code == 303
        cookie = _session_cookie(response)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        # and browsers are told to stay on https
        assert "max-age=" in client.get("/").headers["Strict-Transport-Security"]


def test_max_upload_mb_is_the_largest_attachment(tmp_path, monkeypatch):
    """One setting: the largest file an owner may attach; the request may carry the form
    around it too."""
    monkeypatch.setenv("MAX_UPLOAD_MB", "3")
    settings = from_environment(tmp_path / "instance")
    assert settings["MAX_UPLOAD_BYTES"] == 3 * 1024 * 1024
    assert settings["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024


def test_optional_meeting_settings_have_their_platforms_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv("JITSI_AUDIENCE", raising=False)
    monkeypatch.setenv("BIGBLUEBUTTON_CHECKSUM", " SHA256 ")
    settings = from_environment(tmp_path / "instance")
    assert settings["JITSI_AUDIENCE"] == "jitsi"
    assert meetings.bigbluebutton._algorithm(settings) == "sha256"
