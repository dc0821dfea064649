# tokenfutures: two commands set everything up on a fresh machine with Python 3.11+.
#   make run    install into .venv if needed, then run the exchange demo
#   make test   install into .venv if needed, then run the test suite

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
COMPILED := $(VENV)/.compiled
CORE_SOURCES := setup.py $(wildcard src/tokenfutures/domain/*.py src/tokenfutures/domain/book/*.py)

.PHONY: run test test-slow test-pure lint bench install compile clean chromium

$(STAMP): pyproject.toml setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	TOKENFUTURES_COMPILE=0 $(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The matching core compiled with mypyc from the same sources; pure Python if that fails.
$(COMPILED): $(STAMP) $(CORE_SOURCES)
	@if $(BIN)/python setup.py build_ext --inplace > $(VENV)/compile.log 2>&1; then \
		find src -name '*.so' -exec touch {} +; \
		echo "compiled the matching core with mypyc"; \
	else \
		echo "note: could not compile the core (see $(VENV)/compile.log): pure Python it is"; \
	fi
	@touch $(COMPILED)

install: $(COMPILED)

compile: $(COMPILED)

run: $(COMPILED)
	$(BIN)/tokenfutures serve --demo

test: $(COMPILED)
	$(BIN)/python -m pytest

test-slow: $(COMPILED)
	$(BIN)/python -m pytest -m slow

# The suite on the pure-Python core; the service and browser suites (real server processes)
# run once, on the default build, in `make test`.
test-pure: $(STAMP)
	TOKENFUTURES_PURE_PYTHON=1 $(BIN)/python -m pytest --ignore=tests/service --ignore=tests/service_pg \
		--ignore=tests/browser

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

bench: $(COMPILED)
	$(BIN)/tokenfutures bench matching
	$(BIN)/tokenfutures bench index
	$(BIN)/tokenfutures bench clearing
	$(BIN)/tokenfutures bench service

# The browser for the end-to-end tests of the web page: Debian's chromium package (needs root;
# the browser tests are skipped where /usr/bin/chromium is missing).
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium > /dev/null)
	@/usr/bin/chromium --version

clean:
	rm -rf $(VENV) build src/*.egg-info
	find src -name '*.so' -delete
