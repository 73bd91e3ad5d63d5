# Two commands do all the set-up on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app

.PHONY: run serve test lint typecheck bench bench-import bench-api bench-reminders system-deps browser-deps db seed clean

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

# Debian packages the site itself needs: an embeddable TrueType CJK font for the PDFs (certificates,
# registration forms). Installed when missing and running as root; otherwise the command is printed.
system-deps:
	@if [ ! -f /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null; \
		else \
			echo "The PDF font is missing: run 'sudo apt-get install fonts-wqy-zenhei'"; exit 1; \
		fi; \
	fi

# DEMO_MODE: the site serves the demo data and says so on every page (config.py; refused in production).
# Beside the site, a Huey consumer runs the jobs (e-mails, text messages, the periodic outbox sweep) from the
# queue's SQLite file in the instance folder (services/infra/queue.py; REDIS_URL set: Redis instead). The trap
# stops the consumer when flask stops, however it stops (Ctrl-C, a kill, an error).
PORT ?= 5000
run: system-deps seed
	@export DEMO_MODE=1; \
	$(BIN)/huey_consumer services.jobs.huey -k thread -w 4 & consumer=$$!; \
	trap 'kill $$consumer 2>/dev/null; wait $$consumer 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	echo "jobs: huey consumer (pid $$consumer)"; \
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

# Production: gunicorn with several workers on DATABASE_URL (PostgreSQL) and REDIS_URL, behind a reverse
# proxy (docs/DEPLOY.md). JIDI_ENV defaults to production, so the app refuses to start without real keys.
# Migrations are not run here: run `flask db upgrade` once per release, not once per server.
WORKERS ?= 4
BIND ?= 127.0.0.1:8000
serve: system-deps $(VENV)/.installed
	JIDI_ENV=$${JIDI_ENV:-production} $(BIN)/gunicorn --workers $(WORKERS) --bind $(BIND) --no-control-socket \
		--access-logfile - "app:create_app()"

# What the tests need from Debian: Chromium (Playwright cannot download browsers here), a CJK font for
# readable screenshots, poppler (pdffonts, pdftotext, pdftoppm) and zbar (decoding the certificate's QR code).
TEST_TOOLS := /usr/bin/chromium /usr/bin/pdffonts /usr/bin/zbarimg
browser-deps: system-deps
	@if ! ls $(TEST_TOOLS) >/dev/null 2>&1 || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				chromium fonts-noto-cjk poppler-utils zbar-tools >/dev/null; \
		else \
			echo "Missing test tools: run 'sudo apt-get install chromium fonts-noto-cjk poppler-utils zbar-tools'"; exit 1; \
		fi; \
	fi

# bandit over the app's own code (not .venv, tests or bench/); a high-severity finding fails the lint.
# Lower findings are fixed or carry `# nosec <test>` with the reason on the line above.
APP_CODE := app.py config.py extensions.py cli.py blueprints services seeding models migrations
lint: $(VENV)/.installed-dev typecheck
	$(BIN)/ruff check .
	$(BIN)/bandit --quiet --recursive --severity-level high $(APP_CODE)

# mypy over the domain (services/, models/), as pyproject.toml's [tool.mypy] sets it.
typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# Known vulnerabilities in the installed (pinned) packages; needs PyPI, so `make test` does not run it.
# --strict: a package that could not be looked up fails the audit instead of passing unchecked.
audit: $(VENV)/.installed-dev
	$(BIN)/pip-audit --strict --progress-spinner off

test: $(VENV)/.installed-dev browser-deps lint
	$(BIN)/pytest --durations=25

# Speed targets are measured here, not in timed tests: issues 6 and 20's figures, one table per database (SQLite,
# then PostgreSQL in a private schema of BENCH_POSTGRES_URL), each in one server's and production's configuration
# (two app servers, Redis), also written into docs/PERFORMANCE.md. DATABASE_URL=… measures that database alone.
bench: $(VENV)/.installed-dev
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || \
		{ echo "wrk is missing: run 'sudo apt-get install wrk'"; exit 1; }
	$(BIN)/python bench/run.py

# Issue 3's figure: a 10,000-row completion roster imported from CSV and XLSX.
bench-import: $(VENV)/.installed-dev
	$(BIN)/python bench/roster_import.py

# Issue 8's figure: one API call pushing 10,000 completions, and the same batch again.
bench-api: $(VENV)/.installed-dev
	$(BIN)/python bench/api_batch.py

# Issue 18's figure: 100,000 December reminders made, queued and mailed to a local SMTP server by a real Huey
# consumer, on Redis and on the SQLite store, against SQLite and PostgreSQL (BENCH_POSTGRES_URL; empty: SQLite
# only). Needs Redis on 127.0.0.1:6379. About half an hour on two cores: not part of `make bench`.
bench-reminders: $(VENV)/.installed-dev
	$(BIN)/python bench/reminders.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache artifacts
