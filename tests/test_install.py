"""Every documented way of installing gives the same app (issue 32, item 7). A wheel built from a
fresh clone's files, installed into a fresh virtualenv, and an editable install (`pip install
-e`, which `make install` and the two-host recipe of docs/operations.md use) each serve the
guest's page in German, with their templates and static files, run as docs/operations.md runs
them (`flask --app portal`,
gunicorn `portal:create_app()`) outside the checkout. The package build compiles the translations
(setup.py): no `make` and no pybabel afterwards.

Offline, as CI runs it after `make install-test`: the build uses this environment's setuptools and
Babel (--no-build-isolation), and the fresh virtualenv borrows this environment's site-packages
for the dependencies through a .pth file — which adds those folders without reading their own .pth
files, so the checkout's editable `portal` is not among them."""

import http.client
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import free_port
from servers import Response, wait_for

ROOT = Path(__file__).resolve().parent.parent
GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


def run(*args, cwd, env=None, timeout=300) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def clone_files(into: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and new, nothing ignored: no
    compiled catalog, no build leftovers, no instance/)."""
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT)
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    assert not list(into.glob("portal/translations/*/LC_MESSAGES/*.mo"))
    return into


def plain_env(home: Path, **settings) -> dict:
    """No Guestgate setting from the test run (CI's DATABASE_URL, say): the installed app's own
    defaults."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **settings}


def fresh_venv(path: Path) -> Path:
    """A new virtualenv with no `portal` in it; the dependencies are this environment's."""
    run(sys.executable, "-m", "venv", "--without-pip", path, cwd=path.parent)
    python = path / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))",
                    cwd=path).strip())
    ours = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))
            and Path(p).is_dir()]
    (site / "_test_dependencies.pth").write_text("\n".join(ours) + "\n")
    return python


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    top = tmp_path_factory.mktemp("wheel")
    source = clone_files(top / "source")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", top / "dist", source, cwd=top, env=plain_env(top))
    (built,) = (top / "dist").glob("guestgate-*.whl")
    return built


def serve(python: Path, workdir: Path, env: dict) -> dict:
    """What a person sees from the installed app: demo data seeded with its command line (the
    app makes its database on start), then pages from gunicorn, both started from a folder
    outside the checkout."""
    demo = json.loads(run(python, "-m", "flask", "--app", "portal", "seed-demo", "--json",
                          cwd=workdir, env=env))
    lobby = demo["rooms"][0]["guest_links"][0]["url"].removeprefix(demo["base_url"])
    port = int(env["PORT"])
    log = (workdir / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "--config", "python:portal.gunicorn_conf", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "portal:create_app()"],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: server.poll() is not None or answers(port), "gunicorn", timeout=60)
        assert server.poll() is None, (workdir / "gunicorn.log").read_text()
        return {"lobby": get(port, lobby, GERMAN), "english": get(port, lobby),
                "css": get(port, "/static/app.css")}
    finally:
        server.terminate()
        server.wait(15)
        log.close()


def answers(port: int) -> bool:
    try:
        return get(port, "/healthz").status == 200
    except OSError:
        return False


def get(port: int, path: str, headers: dict | None = None) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return Response(response.status, dict(response.getheaders()),
                        response.read().decode("utf-8", "replace"))
    finally:
        conn.close()


def test_the_wheel_carries_compiled_catalogs_templates_and_static_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "portal/translations/de/LC_MESSAGES/messages.mo" in names
    assert {"portal/templates/base.html", "portal/templates/guest/lobby.html",
            "portal/templates/email/invitation.txt", "portal/static/app.css",
            "portal/static/app.js"} <= names


def test_the_app_installed_from_the_wheel_speaks_german(wheel, tmp_path):
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path,
        env=plain_env(tmp_path))
    workdir = tmp_path / "work"
    workdir.mkdir()
    seen = serve(python, workdir, plain_env(tmp_path, PORT=str(free_port())))
    # The installed package answered, keeping its data (SQLite, secret key) where Flask keeps an
    # installed app's instance folder, not inside site-packages.
    assert (venv / "var" / "portal-instance" / "guestgate.sqlite3").is_file()
    assert not list(venv.glob("lib/*/site-packages/instance"))
    assert seen["lobby"].status == 200
    assert "Sie sind eingeladen zu" in seen["lobby"].visible
    assert "Ihr Name" in seen["lobby"].visible and "Teilnehmen" in seen["lobby"].visible
    assert "You're invited to" in seen["english"].visible
    assert seen["css"].status == 200 and "text/css" in seen["css"].headers["Content-Type"]


def test_an_editable_install_speaks_german(tmp_path):
    source = clone_files(tmp_path / "source")
    venv = tmp_path / "venv"
    python = fresh_venv(venv)
    run(python, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
        "-e", source, cwd=tmp_path, env=plain_env(tmp_path))
    workdir = tmp_path / "work"
    workdir.mkdir()
    seen = serve(python, workdir, plain_env(tmp_path, PORT=str(free_port())))
    assert (source / "instance" / "guestgate.sqlite3").is_file()  # as make run's: the checkout's
    assert "Sie sind eingeladen zu" in seen["lobby"].visible
    assert seen["css"].status == 200
