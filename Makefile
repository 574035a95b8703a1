# Guestgate — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
WORKERS ?= 2
THREADS ?= 4
export PORT

.PHONY: run test install install-test lint bench check screenshots i18n clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools

# Reinstall only when the package's definition or a translation changes: the package build
# compiles the translations (setup.py; the .mo files are not in git), as for any other install.
PO_FILES := $(wildcard portal/translations/*/LC_MESSAGES/*.po)
$(VENV)/.installed: pyproject.toml setup.py $(PO_FILES) | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml setup.py $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The OpenID provider the single sign-on tests start (npm, pinned in tests/oidc/package-lock.json).
# Without Node those tests skip, saying why (CI installs Node).
tests/oidc/node_modules/.package-lock.json: tests/oidc/package.json tests/oidc/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix tests/oidc --no-audit --no-fund --silent; \
	  else echo "npm not found: the single sign-on tests will skip (apt-get install nodejs npm)"; fi

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test tests/oidc/node_modules/.package-lock.json

## make run: the portal with demo data on SQLite, served by gunicorn on 127.0.0.1:$(PORT)
run: install
	$(BIN)/flask --app app init-db
	@if [ ! -s instance/demo.txt ]; then \
	  $(BIN)/flask --app app seed-demo > instance/demo.txt.tmp && mv instance/demo.txt.tmp instance/demo.txt; \
	  chmod 600 instance/demo.txt; fi
	@# The details were saved on the first run; print them with today's BASE_URL (PORT may differ).
	@seeded=$$(sed -n '1s|.* open \(.*\)/sign-in$$|\1|p' instance/demo.txt); \
	  current=$$($(BIN)/python -c 'from app import app; print(app.config["BASE_URL"])'); \
	  if [ -n "$$seeded" ] && [ -n "$$current" ]; then sed "s|$$seeded|$$current|g" instance/demo.txt; \
	  else cat instance/demo.txt; fi
	@echo "Serving on http://127.0.0.1:$(PORT) ($(WORKERS) workers x $(THREADS) threads) — Ctrl+C to stop"
	$(BIN)/gunicorn --config python:portal.gunicorn_conf --workers $(WORKERS) --threads $(THREADS) \
	  --bind 127.0.0.1:$(PORT) app:app

## make test: the whole suite (browser and PostgreSQL tests skip with a reason when their
## server is missing, except in CI where a skip is a failure). TEST_WORKERS processes share the
## tests (pytest-xdist, default: one per core); tests marked serial run alone afterwards.
## Exit status 5 is pytest's "no tests collected": a PYTEST_ARGS selection may hold none of a part.
## MARKS selects further by marker (MARKS="not two_hosts"); pytest keeps only the last -m, so
## PYTEST_ARGS must not carry one.
TEST_WORKERS ?= auto
AND_MARKS = $(if $(MARKS), and ($(MARKS)))
test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not serial$(AND_MARKS)" $(PYTEST_ARGS); \
	  s=$$?; [ $$s -eq 0 ] || [ $$s -eq 5 ] || exit $$s
	$(BIN)/python -m pytest -m "serial$(AND_MARKS)" $(PYTEST_ARGS); \
	  s=$$?; [ $$s -eq 0 ] || [ $$s -eq 5 ] || exit $$s

lint: install-test
	$(BIN)/ruff check .

## make check: the security and reliability suite (DATABASE_URL=postgresql://... for PostgreSQL)
SECURITY_TESTS := tests/test_security_*.py tests/test_fuzz.py tests/test_burst_and_faults.py \
                  tests/test_rate_limits.py tests/test_database_outage.py \
                  tests/test_email.py
check: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(SECURITY_TESTS) $(PYTEST_ARGS)

## make bench: the benchmark harness (gunicorn + wrk, not part of make test; see bench/README.md).
## QUICK=1 for a brief smoke run; BENCH_ARGS passes options (python -m bench.run --help).
bench: install-test
	$(BIN)/python -m bench.run $(if $(QUICK),--quick) $(BENCH_ARGS)

## make screenshots: PNGs of the guest pages and a moderator's Live (English, German) and owner
## screens (each of the room's views), desktop and phone widths, in screenshots/ (needs Chromium)
screenshots: install-test
	$(BIN)/python tests/browser/screenshots.py screenshots

## make i18n: extract the marked texts and merge them into each language's .po
i18n: install
	$(BIN)/pybabel extract -F portal/translations/babel.cfg -k _l -k N_ -k lazy_gettext \
	  --no-location --sort-output --omit-header -o portal/translations/messages.pot .
	@# update has no --no-location (the template has none to pass on) and keeps each .po's header
	$(BIN)/pybabel update -i portal/translations/messages.pot -d portal/translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
