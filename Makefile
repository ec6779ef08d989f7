# Every target installs what it needs first; `make run` and `make test` work on a fresh machine
# with Python 3.11+ and nothing else.
PYTHON ?= python3
# Two environments, so that the stack the tests start is the stack a newcomer runs:
# .venv is exactly what `make run` installs (local/requirements.txt, locked with hashes, and
# nothing else); .venv-dev holds the tests, linters and type checkers, with every package the
# two share held to the same locked version.
VENV := .venv
DEV := .venv-dev
TOOLS := .venv-tools
CHECKOV := .venv-checkov
VENV313 := .venv-313
BIN := $(DEV)/bin
# Lambda's runtime is Python 3.13: the layer is compiled by it and the suite runs on it too,
# where this machine has one (shared/Makefile says how it is found; empty when there is none).
ifndef PYTHON313
PYTHON313 := $(shell MAKEFLAGS= $(MAKE) -s --no-print-directory -C shared python313 2>/dev/null)
endif
export PYTHON313
# SAM validates and builds without an AWS account, and must not phone home.
# The policy layer is importable as it is in Lambda (from shared/), and so is local/.
export PYTHONPATH := $(CURDIR)/shared:$(CURDIR)
# Zone rules from the tzdata package the locks pin, never this machine's own database: what
# template.yaml sets for every function (an empty search path makes zoneinfo read tzdata).
export PYTHONTZPATH :=
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
PIP := pip install --quiet --disable-pip-version-check

.PHONY: install install-local tools browser lint typecheck template build lock test test-313 unit \
	integration e2e run bench soak openapi clean

define new_venv
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(1)
endef

$(VENV)/bin/python:
	$(call new_venv,$(VENV))

$(DEV)/bin/python:
	$(call new_venv,$(DEV))

# Only what the local stack needs to run (`make run`, `local/token`, and the stacks the
# end-to-end tests start): a newcomer's first minutes are not spent installing linters and type
# stubs. Exact versions with hashes (`make lock` writes them), so a new release of moto or Flask
# cannot change what a fresh clone runs. --no-compile: byte-compiling every module of botocore
# and moto at install took half the time; Python compiles the few hundred the stack imports on
# first start instead.
install-local: $(VENV)/.installed-local
$(VENV)/.installed-local: local/requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/$(PIP) --no-compile --require-hashes --no-deps -r local/requirements.txt
	@touch $@

# Tests, linters and type checking (`make test` and the rest), in their own environment. The
# runtime and local-stack packages are held to the versions the lock gives `make run`.
install: $(DEV)/.installed
$(DEV)/.installed: pyproject.toml local/requirements.txt | $(DEV)/bin/python
	sed -e '/--hash=/d' -e 's/ \\$$//' local/requirements.txt > $(DEV)/constraints.txt
	$(BIN)/$(PIP) -c $(DEV)/constraints.txt '.[dev]'
	@touch $@

# SAM CLI and cfn-lint pin their own versions of boto3 and friends: they get a venv of their own.
tools: $(TOOLS)/.installed
$(TOOLS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/$(PIP) '.[tools]'
	@touch $@

$(VENV313)/.installed: pyproject.toml local/requirements.txt | $(DEV)/.installed
	@test -n "$(PYTHON313)" || { echo "No Python 3.13 found (PYTHON313=/path/to/python3.13)"; exit 1; }
	$(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/$(PIP) -c $(DEV)/constraints.txt '.[dev]'
	@touch $@

# The browser tests (tests/e2e/browser) drive Debian's Chromium through Playwright (the dev
# extra), never a browser Playwright downloads, and check each screen with axe-core from npm,
# locked in tests/e2e/browser/package-lock.json. Chromium (and its driver, for Selenium users)
# is installed only where the machine has none: apt-get, as root or through sudo.
BROWSER_TESTS := tests/e2e/browser
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q

browser: $(CHROMIUM) $(BROWSER_TESTS)/node_modules/.installed

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(APT_INSTALL) chromium chromium-driver

$(BROWSER_TESTS)/node_modules/.installed: $(BROWSER_TESTS)/package-lock.json
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && $(APT_INSTALL) npm; }
	npm ci --prefix $(BROWSER_TESTS) --no-audit --no-fund --loglevel=error
	@touch $@

$(CHECKOV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/$(PIP) '.[checkov]'
	@touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy shared/coaching functions local bench

template: tools $(CHECKOV)/.installed
	$(TOOLS)/bin/cfn-lint template.yaml
	$(SAM_ENV) $(TOOLS)/bin/sam validate --lint --template template.yaml
	$(CHECKOV)/bin/checkov -f template.yaml --framework cloudformation --skip-download \
		--quiet --compact

# The layer's recipe is shared/Makefile (build-PolicyLayer): locked wheels for python3.13 on
# arm64, botocore trimmed to the services the functions call, bytecode compiled by Python 3.13.
build: tools
	$(SAM_ENV) PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam build --template template.yaml

# Two locks, exact versions with the hash of every file. shared/requirements.txt: pyproject's
# runtime ranges for the layer's platform (python3.13 on arm64). local/requirements.txt: the
# runtime and the `local` extra for any platform and Python 3.11+, what `make run` installs,
# its runtime packages held to the layer's versions. Pins already in a lock stay while pyproject
# allows them; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest allowed.
lock: install
	$(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --only-binary :all: --generate-hashes \
		--custom-compile-command "make lock" $(LOCK_FLAGS) -o shared/requirements.txt
	$(BIN)/uv pip compile pyproject.toml --quiet --extra local --universal \
		--python-version 3.11 --generate-hashes -c shared/requirements.txt \
		--custom-compile-command "make lock" $(LOCK_FLAGS) -o local/requirements.txt

# Tests run in a new random order each time (pytest-randomly), so none can lean on what another
# left behind. The run's first lines say "Using --randomly-seed=N": `make test
# PYTEST_ARGS=--randomly-seed=N` repeats that order, `-p no:randomly` turns the shuffle off.
PYTEST_ARGS ?=

unit: install
	$(BIN)/pytest $(PYTEST_ARGS) tests/unit

integration: install
	$(BIN)/pytest $(PYTEST_ARGS) tests/integration

# The end-to-end tests start the local stack from .venv, as `make run` would; the browser ones
# among them need Chromium and axe-core (`make browser`).
e2e: install install-local browser
	$(BIN)/pytest $(PYTEST_ARGS) tests/e2e

# Tests pass on any date: after the first pass, the unit and integration suites run again with
# the wall clock a year ahead (`--days-ahead`, tests/conftest.py, time-machine). What a test
# dates goes through the layer's clock, which the suite sets itself, so anything that still
# reads the real date shows here. The end-to-end stacks run in processes of their own, on the
# real date.
DAYS_AHEAD := 365

# With a Python 3.13, three pytest processes share the machine's (and CI's) two cores: this venv's
# Python runs the suite in two halves side by side, and 3.13 runs the year-ahead pass beside
# them. One pass after the other took a clean clone's `make test` to 22 minutes, and one pass
# beside the 3.13 pass left a core idle for its last 7 minutes. The end-to-end and storage-level
# folders print as they run; the other two print when all are done. The target fails if any of
# them does.
test: lint typecheck template build install-local browser
ifneq ($(PYTHON313),)
	$(MAKE) $(VENV313)/.installed
	@short=$$(mktemp); again=$$(mktemp); \
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS) $(TESTS_SHORT) > "$$short" 2>&1 & \
	short_pid=$$!; \
	$(VENV313)/bin/pytest -p no:cacheprovider --days-ahead $(DAYS_AHEAD) $(PYTEST_ARGS) \
		$(TESTS_AHEAD) > "$$again" 2>&1 & \
	again_pid=$$!; \
	$(BIN)/pytest $(PYTEST_ARGS) $(TESTS_LONG); long=$$?; \
	wait $$short_pid; short_status=$$?; wait $$again_pid; again_status=$$?; \
	echo "--- $(TESTS_SHORT) ---"; cat "$$short"; \
	echo "--- the 3.13 pass, $(DAYS_AHEAD) days ahead ($(TESTS_AHEAD)) ---"; cat "$$again"; \
	rm -f "$$short" "$$again"; \
	test $$long -eq 0 && test $$short_status -eq 0 && test $$again_status -eq 0
else
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest -p no:cacheprovider --days-ahead $(DAYS_AHEAD) $(PYTEST_ARGS) $(TESTS_AHEAD)
	@echo "No Python 3.13 on this machine: the suite ran on $$($(BIN)/python -V) only."
endif

# The two halves of the first pass: together, every folder under tests/ (a test holds them to it).
TESTS_LONG := tests/e2e tests/integration --ignore=tests/integration/api
TESTS_SHORT := tests/unit tests/layer tests/integration/api

# On 3.13 (what Lambda runs) and a year ahead: the rules, the layer as built, storage, the sweep,
# the notifier and every function through its real handler against moto. The end-to-end folder
# runs once, on the first pass: its stacks run on the real date whatever this pass does.
TESTS_AHEAD := tests/unit tests/layer tests/integration
test-313: build $(VENV313)/.installed
	$(VENV313)/bin/pytest -p no:cacheprovider --days-ahead $(DAYS_AHEAD) $(PYTEST_ARGS) \
		$(TESTS_AHEAD)

run: install-local
	$(VENV)/bin/python -m local.stack

bench: install install-local
	$(BIN)/python -m bench

# Ten minutes of eight clients against a local stack of its own while faults strike, the clock
# moves and the sweep runs; then every invariant is checked (local/soak.py). SOAK_SECONDS=60
# for a shorter one; `make test` runs 30 seconds of it (tests/e2e/test_soak.py).
SOAK_SECONDS ?= 600
soak: install install-local
	$(BIN)/python -m local.soak --seconds $(SOAK_SECONDS)

# The OpenAPI document, generated from the functions' resolvers, into functions/docs/openapi.json
# (what GET /openapi.json serves) and docs/openapi.json; a test fails while either is stale.
openapi: install
	$(BIN)/python -m local.openapi

clean:
	rm -rf $(VENV) $(DEV) $(TOOLS) $(CHECKOV) $(VENV313) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis \
		$(BROWSER_TESTS)/node_modules artifacts
