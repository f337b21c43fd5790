# Two commands matter: `make demo` (run it) and `make test` (test it).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PROMPT ?= a todo list for my climbing team
# The dependency scan reads an OSV advisory database offline: the PyPA snapshot beside
# the checkout when there is one, else <data dir>/advisories (`mb advisories update`).
SNAPSHOT := $(abspath ../shared/advisories/pypa/vulns)
ifneq ($(wildcard $(SNAPSHOT)),)
export MB_ADVISORY_DB ?= $(SNAPSHOT)
endif

.PHONY: setup system-deps demo up test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# bubblewrap (the sandbox) and setpriv (drops to an unprivileged uid inside it).
system-deps:
	@command -v bwrap >/dev/null && command -v setpriv >/dev/null || { \
	  echo "installing bubblewrap (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux; }

demo: setup system-deps
	$(VENV)/bin/mb up --demo "$(DEMO_PROMPT)"

up: setup system-deps
	$(VENV)/bin/mb up

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

test: setup system-deps lint
	$(VENV)/bin/pytest

bench: setup system-deps
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mb .mypy_cache .ruff_cache
