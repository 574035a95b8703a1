"""What an install may pick: never a release with a known hole that this app would fall into."""

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

PYPROJECT = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())


def requirement(name: str) -> Requirement:
    return next(r for r in map(Requirement, PYPROJECT["project"]["dependencies"])
                if r.name.lower() == name)


def test_flask_that_signs_with_a_fallback_key_cannot_be_installed():
    """CVE-2025-47278: Flask 3.1.0 signed sessions with the last fallback key, and Guestgate
    keeps fallbacks (OLD_SECRET_KEYS)."""
    flask = requirement("flask")
    assert "3.1.0" not in flask.specifier
    assert version("flask") in flask.specifier
