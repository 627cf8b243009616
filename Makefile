# The README's commands. Outside an active virtual environment, one is made in .venv.
SHELL := /bin/bash
ifdef VIRTUAL_ENV
PY := python
STAMP := $(VIRTUAL_ENV)/.skillsgap-installed
else
PY := .venv/bin/python
STAMP := .venv/.skillsgap-installed
endif
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench lint install

$(PY):
	python3 -m venv .venv

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m surveyapp.cli db upgrade
	$(PY) -m surveyapp.cli demo --if-empty
	$(PY) -m surveyapp.cli serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(PY) -m ruff check questionnaires analysis surveyapp tests bench
	$(PY) -m mypy
