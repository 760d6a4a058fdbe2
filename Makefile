# brandpulse: the two Quick start commands are `make demo` and `make test`.
# Both are idempotent: the virtual environment is rebuilt only when
# requirements.txt, constraints.txt or pyproject.toml change; pip's and Maven's download caches
# live outside the checkout (~/.cache/pip, ~/.cache/brandpulse).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat requirements.txt constraints.txt pyproject.toml | sha256sum | cut -c1-16)

.PHONY: setup demo test lint es-start es-stop clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@echo "==> [1/3] virtual environment in $(VENV)"
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=24.1"
	@echo "==> [2/3] pinned requirements (first time: ~4 GB, torch included, a few minutes; cached in ~/.cache/pip)"
	@$(VENV)/bin/pip install --disable-pip-version-check --progress-bar raw -r requirements.txt -c constraints.txt \
		| $(VENV)/bin/python brandpulse/dev/pip_progress.py
	@echo "==> [3/3] brandpulse itself (editable) and the console script"
	@$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e . \
		|| $(VENV)/bin/pip install --disable-pip-version-check -q --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

demo: setup
	@$(VENV)/bin/brandpulse demo

test: setup
	@$(VENV)/bin/python -m pytest

lint: setup
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

es-start: setup
	@$(VENV)/bin/brandpulse es start

es-stop: setup
	@$(VENV)/bin/brandpulse es stop

clean:
	-@$(VENV)/bin/brandpulse es stop 2>/dev/null
	rm -rf .state

# Scaled-out stack on this machine, with faults (brandpulse/dev/scaleout.py): PostgreSQL,
# Redis, Airflow with two Celery workers, a two-node Elasticsearch cluster; ~10-20 minutes.
# Needs `make setup` and the Debian packages redis-server and postgresql. Not part of `make test`.
# VENV=/path/to/venv to use another environment; the state lives in SCALEOUT_STATE.
SCALEOUT_STATE ?= /tmp/scaleout-state
.PHONY: scaleout-check
scaleout-check:
	@test -x $(VENV)/bin/python || { echo "no $(VENV)/bin/python: run make setup (or pass VENV=...)"; exit 2; }
	@PYTHONPATH=$(CURDIR) $(VENV)/bin/python -m brandpulse.dev.scaleout --state-dir $(SCALEOUT_STATE)
