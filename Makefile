# Guestgate — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
WORKERS ?= 2
THREADS ?= 4
export PORT

.PHONY: run test install install-test lint bench check screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

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
## server is missing, except in CI where a skip is a failure)
test: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
