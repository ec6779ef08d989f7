# Every target installs what it needs first; `make run` and `make test` work on a fresh machine
# with Python 3.11+ and nothing else.
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
CHECKOV := .venv-checkov
VENV313 := .venv-313
BIN := $(VENV)/bin
# Lambda's runtime is Python 3.13: the layer is compiled by it and the suite runs on it too,
# where this machine has one (shared/Makefile says how it is found; empty when there is none).
ifndef PYTHON313
PYTHON313 := $(shell MAKEFLAGS= $(MAKE) -s --no-print-directory -C shared python313 2>/dev/null)
endif
export PYTHON313
# SAM validates and builds without an AWS account, and must not phone home.
# The policy layer is importable as it is in Lambda (from shared/), and so is local/.
export PYTHONPATH := $(CURDIR)/shared:$(CURDIR)
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

.PHONY: install install-local tools lint typecheck template build lock test test-313 unit \
	integration e2e run bench openapi clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# Everything: the runtime, the local stack, tests and tools (`make test` and the rest).
install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $@ $(VENV)/.installed-local

# Only what the local stack needs to run (`make run`): a newcomer's first minutes are not spent
# installing linters and type stubs. The `dev` extra includes all of it, so either marker will do.
# --no-compile: byte-compiling every module of botocore and moto at install took half the time;
# Python compiles the few hundred the stack imports on first start instead.
install-local: $(VENV)/.installed-local
$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check --no-compile '.[local]'
	@touch $@

# SAM CLI and cfn-lint pin their own versions of boto3 and friends: they get a venv of their own.
tools: $(TOOLS)/.installed
$(TOOLS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check '.[tools]'
	@touch $@

$(VENV313)/.installed: pyproject.toml
	@test -n "$(PYTHON313)" || { echo "No Python 3.13 found (PYTHON313=/path/to/python3.13)"; exit 1; }
	$(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $@

$(CHECKOV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/pip install --quiet --disable-pip-version-check '.[checkov]'
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

# shared/requirements.txt: pyproject.toml's runtime ranges resolved for the layer's platform,
# exact versions with the hash of every file. Pins already in the lock stay while pyproject
# allows them; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest allowed.
lock: install
	$(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.13 \
		--python-platform aarch64-manylinux2014 --only-binary :all: --generate-hashes \
		--custom-compile-command "make lock" $(LOCK_FLAGS) -o shared/requirements.txt

# Tests run in a new random order each time (pytest-randomly), so none can lean on what another
# left behind. The run's first lines say "Using --randomly-seed=N": `make test
# PYTEST_ARGS=--randomly-seed=N` repeats that order, `-p no:randomly` turns the shuffle off.
PYTEST_ARGS ?=

unit: install
	$(BIN)/pytest $(PYTEST_ARGS) tests/unit

integration: install
	$(BIN)/pytest $(PYTEST_ARGS) tests/integration

e2e: install
	$(BIN)/pytest $(PYTEST_ARGS) tests/e2e

# With a Python 3.13, three pytest processes share the machine's (and CI's) two cores: this venv's
# Python runs the suite in two halves side by side, and 3.13 runs its pass beside them. One pass
# after the other took a clean clone's `make test` to 22 minutes, and one pass beside the 3.13
# pass left a core idle for its last 7 minutes. The end-to-end and storage-level folders print as
# they run; the other two print when all are done. The target fails if any of them does.
test: lint typecheck template build
ifneq ($(PYTHON313),)
	$(MAKE) $(VENV313)/.installed
	@short=$$(mktemp); again=$$(mktemp); \
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS) $(TESTS_SHORT) > "$$short" 2>&1 & \
	short_pid=$$!; \
	$(VENV313)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS) $(TESTS_313) > "$$again" 2>&1 & \
	again_pid=$$!; \
	$(BIN)/pytest $(PYTEST_ARGS) $(TESTS_LONG); long=$$?; \
	wait $$short_pid; short_status=$$?; wait $$again_pid; again_status=$$?; \
	echo "--- $(TESTS_SHORT) ---"; cat "$$short"; \
	echo "--- the 3.13 pass ($(TESTS_313)) ---"; cat "$$again"; rm -f "$$short" "$$again"; \
	test $$long -eq 0 && test $$short_status -eq 0 && test $$again_status -eq 0
else
	$(BIN)/pytest $(PYTEST_ARGS)
	@echo "No Python 3.13 on this machine: the suite ran on $$($(BIN)/python -V) only."
endif

# The two halves of the first pass: together, every folder under tests/ (a test holds them to it).
TESTS_LONG := tests/e2e tests/integration --ignore=tests/integration/api
TESTS_SHORT := tests/unit tests/layer tests/integration/api

# On 3.13 (what Lambda runs): the rules, the layer as built, and every function through its real
# handler against moto. The storage-level property, race, sweep and notify suites and the
# end-to-end folder exercise the same code again at length; running them twice would take CI past
# its 20-minute budget, so they run once, on the first pass.
TESTS_313 := $(TESTS_SHORT)
test-313: build $(VENV313)/.installed
	$(VENV313)/bin/pytest -p no:cacheprovider $(PYTEST_ARGS) $(TESTS_313)

run: install-local
	$(BIN)/python -m local.stack

bench: install
	$(BIN)/python -m bench

# docs/openapi.json is the document GET /openapi.json serves; a test fails while they differ.
openapi: install
	$(BIN)/python -m local.openapi

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) $(VENV313) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
