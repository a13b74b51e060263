# xietong — two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv with a Python 3.11 or 3.12 (durable_rules does not import on 3.13) and
# install the project into it; nothing needs to be installed by hand.

PYTHON ?= $(shell for p in python3.12 python3.11 python3; do \
            if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(not ((3,11) <= sys.version_info[:2] < (3,13)))' 2>/dev/null; then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "xietong needs Python 3.11 or 3.12 (python3.11/python3.12 not found)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,pg]"
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/xietong demo --out demo-out

# the desk on the demo's database (make demo first: it prints the accounts and their passwords)
serve: $(STAMP)
	$(BIN)/xietong serve --db sqlite:///demo-out/xietong.db --data demo-out/desk

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache .hypothesis *.egg-info
