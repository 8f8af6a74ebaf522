# The two commands the README gives: `make run` and `make test`. Both set everything up
# from a fresh clone (a virtualenv in .venv with the project and its dev extras).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
DEMO_DB := var/demo.db

.PHONY: setup run test bench clean

setup: $(STAMP) $(NODE_STAMP)

# Installing the project also compiles hall/_chain.c (setup.py): it needs gcc, the Python headers
# and OpenSSL's (Debian's libssl-dev).
$(STAMP): pyproject.toml setup.py hall/_chain.c
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "hall needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# htmx and its WebSocket extension, exactly as package-lock.json pins them (served by
# hall/web/assets.py; never copied into the repository).
$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

# A fresh demo every time: the previous demo database is replaced.
run: setup
	mkdir -p var
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/hall seed-demo --db $(DEMO_DB) --live --lots 12 --duration 7200 > var/demo.json
	@echo "demo: $$(cat var/demo.json)"
	$(BIN)/hall serve --db $(DEMO_DB) --host $${HALL_HOST:-127.0.0.1} --port $${HALL_PORT:-8000}

test: setup
	@test -x /usr/bin/chromium || echo "note: /usr/bin/chromium is missing, so the browser tests will skip;" \
		"to run them: sudo apt-get install chromium fonts-noto-cjk"
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The speed figures of the README (several minutes): the engine, the journal, the hall against
# its stack's ceiling (bench/run.py) and recovery of a million events (bench/recovery.py).
bench: setup
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/journal.py
	$(BIN)/python bench/run.py
	$(BIN)/python bench/recovery.py

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .hypothesis
