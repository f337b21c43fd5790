# Two commands matter: `make demo` (run it) and `make test` (test it).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_PROMPT ?= a todo list for my climbing team
# CI adds --exit-after-demo: stop once the demo app has been fetched over HTTP.
DEMO_FLAGS ?=
# Test modules run on this many pytest-xdist workers (tests/parallel_plugin.py); 0: in-process.
TEST_WORKERS ?= 2
# The dependency scan reads an OSV advisory database offline: the PyPA snapshot beside
# the checkout when there is one, else <data dir>/advisories (`mb advisories update`).
SNAPSHOT := $(abspath ../shared/advisories/pypa/vulns)
ifneq ($(wildcard $(SNAPSHOT)),)
export MB_ADVISORY_DB ?= $(SNAPSHOT)
endif

.PHONY: setup system-deps test-deps docker-daemon demo up test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# bubblewrap (the sandbox), setpriv (drops to an unprivileged uid inside it) and
# Docker (the container runtime: dockerd, runc, docker-init).
system-deps:
	@command -v bwrap >/dev/null && command -v setpriv >/dev/null && command -v dockerd >/dev/null && ldconfig -p | grep -q libseccomp.so.2 || { \
	  echo "installing bubblewrap and docker.io (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux libseccomp2 docker.io; }

# What only the tests need: Debian's Chromium, driven by Playwright (nothing downloaded).
test-deps: system-deps
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (needs root)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# A Docker Engine for the container runtime and its tests. Started here when none
# answers: no bridge, no iptables rules (apps run with no network at all). Its pid
# file marks it as ours (.ci/clean_machine.py stops it before the next CI run).
docker-daemon: system-deps
	@docker info >/dev/null 2>&1 || { \
	  echo "starting dockerd (log: /tmp/mb-dockerd.log)"; \
	  (dockerd --iptables=false --ip-forward=false --ip-masq=false --bridge=none \
	    --pidfile /run/mb-dockerd.pid > /tmp/mb-dockerd.log 2>&1 &); \
	  for i in $$(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done; \
	  docker info >/dev/null 2>&1 || { tail -20 /tmp/mb-dockerd.log; exit 1; }; }

demo: setup system-deps
	$(VENV)/bin/mb up --demo "$(DEMO_PROMPT)" $(DEMO_FLAGS)

up: setup system-deps
	$(VENV)/bin/mb up

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

test: setup test-deps docker-daemon lint
	$(VENV)/bin/pytest -n $(TEST_WORKERS)

bench: setup system-deps
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mb .mypy_cache .ruff_cache
