# Two commands a newcomer needs: `make run` and `make test`.
# With no environment: SQLite + a file-system job queue (no server to install).
# With DATABASE_URL / CELERY_BROKER_URL: PostgreSQL + Redis and a real Celery worker.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test install install-test lock migrate demo worker web bench clean axe-core

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The exact versions of requirements.lock (runtime) and requirements-test.lock (runtime + the
# test extra), so that a fresh clone runs what CI ran; then the project itself, without resolving.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(TEST_STAMP): $(STAMP) requirements-test.lock
	$(BIN)/pip install -q -r requirements-test.lock
	touch $@

# Regenerate both lock files from pyproject.toml (after changing a dependency): uv, from PyPI,
# in a virtual environment of its own; one resolution for every platform and Python >= 3.11, the
# test lock (the test and embeddings extras: the suite tests both similarity methods) constrained
# to the runtime lock's versions.
UV_VENV := .venv-uv
lock:
	test -x $(UV_VENV)/bin/uv || ($(PYTHON) -m venv $(UV_VENV) && $(UV_VENV)/bin/pip install -q uv)
	$(UV_VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --no-header -q \
	  -o requirements.lock
	$(UV_VENV)/bin/uv pip compile pyproject.toml --extra test --extra embeddings --universal --python-version 3.11 --no-header -q \
	  -c requirements.lock -o requirements-test.lock

install: $(STAMP)
install-test: $(TEST_STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

run: demo
	$(BIN)/python manage.py serve --port $(PORT)

# pytest's "no tests collected" (exit 5) counts as a failure.
test: install-test
	rm -rf var/test/celery-broker
	TAXONOMIST_DATA_DIR=$${TAXONOMIST_DATA_DIR:-$(CURDIR)/var/test} $(BIN)/python -m pytest $(PYTEST_ARGS); \
	  status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran" >&2; exit 1; fi; exit $$status

bench: install-test
	$(BIN)/python benchmarks/import_bench.py

# The axe-core the browser tests inject: its committed copy refreshed from npm as package-lock.json
# pins it (npm needed here only; `make test` uses the copy). tests/browser/vendor/README.md.
axe-core:
	npm ci --no-audit --no-fund
	version=$$(node -p "require('./node_modules/axe-core/package.json').version"); \
	  dir=tests/browser/vendor/axe-core-$$version; mkdir -p $$dir; \
	  cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE node_modules/axe-core/LICENSE-3RD-PARTY.txt $$dir/; \
	  node -p "'axe.min.js ' + require('./node_modules/axe-core/sri-history.json')['$$version']['axe.min.js']" > $$dir/axe.min.js.sri

clean:
	rm -rf $(VENV) $(UV_VENV) var
