# Two commands do all the set-up on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run test lint bench browser-deps db seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

db: $(VENV)/.installed
	$(BIN)/flask db upgrade

seed: db
	$(BIN)/flask seed-demo

run: seed
	$(BIN)/flask run --host 127.0.0.1 --port 5000

# Debian's Chromium (Playwright cannot download browsers here) and a CJK font for readable screenshots.
browser-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
		else \
			echo "Chromium (/usr/bin/chromium) is missing: run 'sudo apt-get install chromium fonts-noto-cjk'"; exit 1; \
		fi; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

test: $(VENV)/.installed-dev browser-deps lint
	$(BIN)/pytest

# Speed targets are measured here, not in timed tests. DATABASE_URL=postgresql+psycopg://… for PostgreSQL.
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/roster_import.py
	$(BIN)/python bench/evaluation.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
