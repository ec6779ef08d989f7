# Every target installs what it needs first; `make run` and `make test` work on a fresh machine
# with Python 3.11+ and nothing else.
PYTHON ?= python3
VENV := .venv
TOOLS := .venv-tools
CHECKOV := .venv-checkov
BIN := $(VENV)/bin
# SAM validates and builds without an AWS account, and must not phone home.
# The policy layer is importable as it is in Lambda (from shared/), and so is local/.
export PYTHONPATH := $(CURDIR)/shared:$(CURDIR)
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 \
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing

.PHONY: install install-local tools lint typecheck template build test unit integration e2e run \
	bench openapi clean

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

build: tools
	$(SAM_ENV) PATH="$(CURDIR)/$(TOOLS)/bin:$$PATH" $(TOOLS)/bin/sam build --template template.yaml

unit: install
	$(BIN)/pytest tests/unit

integration: install
	$(BIN)/pytest tests/integration

e2e: install
	$(BIN)/pytest tests/e2e

test: lint typecheck template build
	$(BIN)/pytest

run: install-local
	$(BIN)/python -m local.stack

bench: install
	$(BIN)/python -m bench

# docs/openapi.json is the document GET /openapi.json serves; a test fails while they differ.
openapi: install
	$(BIN)/python -m local.openapi

clean:
	rm -rf $(VENV) $(TOOLS) $(CHECKOV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
