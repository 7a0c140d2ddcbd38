# The two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-16)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)

.PHONY: install install-dev demo test lint format bench clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-[0-9a-f]*
	touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-dev-*
	touch $@

install: $(STAMP)

install-dev: $(DEV_STAMP)

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) -m demo.train --out .data/demo_models
	$(PY) -m demo.credit_trees --out .data/demo_models
	$(PY) manage.py seed_demo --models .data/demo_models
	$(PY) -m demo.pki --out .data/pki demo-bank:"Demo Bank AG" demo-clinic:"Demo Clinic"
	$(PY) -m demo.serve

lint: install-dev
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q

format: install-dev
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf .data staticfiles .pytest_cache .ruff_cache .mypy_cache
