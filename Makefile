# Moot: `make run` (the demo, on SQLite with an embedded Redis) and `make test` (the suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)

.PHONY: install run test lint format messages bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

run: install
	$(BIN)/python -m engagement.launcher

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=engagement.settings.test
	$(BIN)/python manage.py compilemessages_py --settings=engagement.settings.test
	$(BIN)/pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Refresh the Welsh catalogue from our sources, allauth's and Django's (needs GNU gettext), then
# compile it. See engagement/locale/README.md.
messages:
	bash engagement/locale/update-catalogue.sh
	$(BIN)/python manage.py compilemessages_py

bench: install
	$(BIN)/python bench/run.py pages

clean:
	rm -rf $(VENV) var db.sqlite3*
