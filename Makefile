# Two commands: `make demo` (set up on first use, then run the flagship demo) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FORGE := $(CURDIR)/node_modules/.bin/forge

.PHONY: setup demo test test-python test-contracts clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

# `npm install --no-save` rather than `npm ci`: the lockfile pins versions, and ci would refuse
# because the foundry packages' optional binaries for other platforms are absent from the registry here.
node_modules/.installed: package.json package-lock.json
	npm install --no-save --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup
	$(BIN)/watchdog demo

test: setup test-contracts test-python

test-contracts: setup
	cd contracts && $(FORGE) test

# The page's tests drive Debian's chromium (headless); root installs it on first use.
test-python: setup
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }
	$(BIN)/python -m pytest -n 2 --dist worksteal  # two workers, each its own anvils, store files and ports; an idle one takes queued tests

clean:
	rm -rf $(VENV) node_modules contracts/out contracts/cache .watchdog .pytest_cache
