# `make run`: a working app on http://127.0.0.1:5000 (SQLite, demo data, scheduler in-process).
# `make test`: lint, format check and the whole test suite, browser tests included
# (TEST_DATABASE_URL picks PostgreSQL).
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
FLASK := FLASK_CONFIG=development $(BIN)/flask --app wsgi

.PHONY: run test lint chromium bench install install-dev clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(FLASK) db upgrade
	$(FLASK) seed --demo
	@echo "Serving on http://127.0.0.1:5000 (sign in with a demo login above; Ctrl-C stops)"
	$(FLASK) run --host 127.0.0.1 --port 5000

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: lint chromium
	$(BIN)/pytest

# `make bench`: every benchmark of bench/ on SQLite, and on PostgreSQL when BENCH_DATABASE_URL
# names a database it may drop and make again; writes bench/RESULTS.md. It takes a while.
# The API benchmark's load generator is ApacheBench (`ab`, Debian's apache2-utils).
bench: install-dev
	command -v ab >/dev/null || (apt-get update && apt-get install -y apache2-utils)
	$(BIN)/python bench/run_all.py

# The patients' texts: after changing one in clinic/advice.py or clinic/reminders.py, extract
# them, update each language's .po, translate, and compile; the .po and the .mo are committed
# (tests/test_reminders.py checks that each .mo says what its .po says).
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l --no-location --omit-header -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching -w 96
	$(BIN)/pybabel compile -d translations

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
