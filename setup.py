"""The package build compiles the translations (portal/translations/*/LC_MESSAGES/*.po → .mo), so
every way of installing serves the same app: `make install`, `pip install -e .`, `pip install .`,
a wheel. Everything else is declared in pyproject.toml.

The catalogs are compiled next to their .po files, in the source tree (the .mo files are not in
git): an editable install serves them from there, a wheel picks them up as package data, and a
checkout installed either way and run from its own folder (`gunicorn app:app`) finds them too."""

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TRANSLATIONS = Path(__file__).resolve().parent / "portal" / "translations"


def compile_catalogs(translations: Path = TRANSLATIONS) -> None:
    """Each .po whose .mo is missing or older, compiled as `pybabel compile` does (fuzzy
    entries left out), written whole to a temporary file and then moved into place."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(translations.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_name(f".{mo.name}.{os.getpid()}")
        with partial.open("wb") as target:
            write_mo(target, catalog)
        os.replace(partial, mo)


class BuildPyWithCatalogs(build_py):
    """build_py also runs for an editable install (which then copies nothing): compile first."""

    def run(self):
        compile_catalogs()
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs})
