# Two commands do everything on a fresh machine with Python 3.11, 3.12 or 3.13 and make:
#   make run    install (runtime only), prepare the dbt manifest, run the whole pipeline on the bundled sample, publish
#   make test   install (with dev tools) and run the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export DAGSTER_HOME ?= $(CURDIR)/.dagster
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
# Compile every installed module to bytecode at install time: Python reads .pyc files even when
# PYTHONDONTWRITEBYTECODE is set (as on our CI machines) and then never has to compile dagster, dbt and GX
# again - that was ~10 s of every process start (make run: 103 s -> 82 s at commune scale).
export UV_COMPILE_BYTECODE := 1
# The newest python3.x in requires-python (>=3.11,<3.14) that actually runs: a pyenv shim of a version that
# is not active exists on PATH but fails, so each candidate is run, not just looked up. PYTHON=... overrides.
PYTHON_CANDIDATES := python3.13 python3.12 python3.11 python3
PYTHON_FITS := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] < (3, 14))
ifndef PYTHON
PYTHON := $(firstword $(foreach p,$(PYTHON_CANDIDATES),$(shell $(p) -c '$(PYTHON_FITS)' >/dev/null 2>&1 && echo $(p))))
endif
# A clear stop (Vietnamese first) instead of uv's or the shell's error when no such Python exists.
PYTHON_CHECK = $(or $(PYTHON),false) -c '$(PYTHON_FITS)' >/dev/null 2>&1 || { \
	echo "Không tìm thấy Python 3.11, 3.12 hoặc 3.13 chạy được (đã thử: $(or $(PYTHON),$(PYTHON_CANDIDATES))). Cài một bản (Debian/Ubuntu: sudo apt-get install python3 python3-venv) hoặc chỉ rõ: make run PYTHON=/đường/dẫn/python3.12" >&2; \
	echo "No working Python 3.11, 3.12 or 3.13 found (tried: $(or $(PYTHON),$(PYTHON_CANDIDATES))). Install one (Debian/Ubuntu: sudo apt-get install python3 python3-venv) or name it: make run PYTHON=/path/to/python3.12" >&2; \
	exit 2; }
VENV := .venv
PY := $(VENV)/bin/python
DBT := $(VENV)/bin/dbt
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print 2>/dev/null)
SCALE ?= commune
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
SITE_HOST ?= 127.0.0.1
SITE_PORT ?= 8765

.PHONY: help install install-dev manifest run ui serve browser test test-fast test-ops lint docs backfill period synth bench clean screenshots

# The help text names variables as $(NAME); awk replaces each of these by its value.
HELP_VARS := UI_HOST UI_PORT SITE_HOST SITE_PORT SCALE PYTHON

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | $(foreach v,$(HELP_VARS),$(v)='$($(v))') awk -F':.*## ' \
	  '{ n = split("$(HELP_VARS)", names, " "); for (i = 1; i <= n; i++) gsub("[$$][(]" names[i] "[)]", ENVIRON[names[i]], $$2); \
	     printf "  make %-11s %s\n", $$1, $$2 }'
	@echo "  Python: $(or $(PYTHON),không tìm thấy / none found) $(if $(PYTHON),($(shell $(PYTHON) -c "import platform; print(platform.python_version())" 2>/dev/null)))  ·  make run ARGS=... (e.g. ARGS=--force)  ·  make run FORCE=1"

$(CURDIR)/.tools/bin/uv:
	@$(PYTHON_CHECK)
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# Two installs, two stamps. The runtime one (make run, ui, serve, ...) leaves out the dev group (pytest, ruff,
# sqlfluff, polars, playwright, hypothesis, import-linter) and is --inexact, so `make run` after `make test`
# keeps the dev tools instead of uninstalling them (uv sync is exact by default). The dev one installs both
# groups; `test` lists it before the manifest, so a fresh `make test` syncs once.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@$(PYTHON_CHECK)
	$(UV) sync --frozen --no-dev --inexact --python $(PYTHON)
	@touch $@

$(VENV)/.installed-dev: pyproject.toml uv.lock | $(UV)
	@$(PYTHON_CHECK)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@
	@# the runtime set is in too; a stamp that already exists keeps its time (no dbt parse again for that)
	@test -e $(VENV)/.installed || touch $(VENV)/.installed

install: $(VENV)/.installed ## create .venv from uv.lock, runtime only (bootstraps uv with pip when it is missing)

install-dev: $(VENV)/.installed-dev ## create .venv from uv.lock with the dev tools (pytest, ruff, sqlfluff, ...)

# Parse from inside dbt_project with the same warehouse path the pipeline will use (dagster-dbt runs dbt
# there): dbt then reuses this parse (partial parsing) instead of parsing the whole project at every run.
WAREHOUSE_PATH := $(abspath $(or $(NTM_WAREHOUSE),warehouse/ntm.duckdb))

$(MANIFEST): $(VENV)/.installed $(DBT_SOURCES)
	rm -f dbt_project/target/partial_parse.msgpack
	cd dbt_project && NTM_WAREHOUSE_PATH=$(WAREHOUSE_PATH) $(CURDIR)/$(DBT) parse --quiet --project-dir . --profiles-dir .
	@touch $@

manifest: $(MANIFEST) ## prepare the dbt manifest (dbt parse)

run: $(MANIFEST) ## install (runtime only) and run the pipeline on the sample, publish open data
	$(PY) -m pipeline run $(if $(filter 1 yes true,$(FORCE)),--force) $(ARGS)

# Always with .dagster/dagster.yaml (one run at a time, run monitoring, telemetry and the community prompt off):
# a DAGSTER_HOME of your own must hold a copy of it, or `make ui` stops here and says so.
ui: $(MANIFEST) ## Dagster webserver + daemon on http://$(UI_HOST):$(UI_PORT)
	@cmp -s .dagster/dagster.yaml "$(DAGSTER_HOME)/dagster.yaml" || { \
	  echo "DAGSTER_HOME=$(DAGSTER_HOME) không có bản sao của .dagster/dagster.yaml: bỏ biến DAGSTER_HOME hoặc chép tệp đó vào. / DAGSTER_HOME=$(DAGSTER_HOME) has no copy of .dagster/dagster.yaml: unset DAGSTER_HOME or copy that file there." >&2; exit 2; }
	$(VENV)/bin/dagster dev -w workspace.yaml -h $(UI_HOST) -p $(UI_PORT)

serve: $(VENV)/.installed ## the latest release's site on http://$(SITE_HOST):$(SITE_PORT)/latest/site/index.html
	$(PY) -m pipeline.site.serve --host $(SITE_HOST) --port $(SITE_PORT)

DAGSTER := $(VENV)/bin/dagster

backfill: $(MANIFEST) ## every period in ONE run (one dbt invocation, one writer): ingest, dbt, checks, publish
	$(DAGSTER) job execute -m pipeline.definitions -j ntm_full_refresh --tags '{"ntm/trigger": "backfill"}'

period: $(MANIFEST) ## one period only: make period PERIOD=2026-Q2 (that quarter and its year are rebuilt)
	@test -n "$(PERIOD)" || { echo "usage: make period PERIOD=2026-Q2"; exit 2; }
	$(DAGSTER) job execute -m pipeline.definitions -j ntm_full_refresh \
	  --tags '{"ntm/period": "$(PERIOD)", "ntm/trigger": "cli"}'

# The browser tests (tests/site) drive Debian's Chromium with Playwright; Playwright's own browser download
# does not work offline, so `make test` installs the Debian package when it is missing (root or sudo).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests / Cài chromium của Debian cho các kiểm thử trình duyệt"
	$(SUDO) apt-get install -y --no-install-recommends chromium || \
	  { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; }

browser: $(CHROMIUM) ## install Debian's chromium for the browser tests (apt-get)

screenshots: $(VENV)/.installed-dev $(CHROMIUM) ## README screenshots of open_data/latest/site (after make run) -> docs/screenshots/
	$(PY) -m tests.site.screenshots --release open_data/latest --out docs/screenshots

# pytest-xdist workers of `make test` / `make test-fast` (TEST_WORKERS=0: one process). Each worker runs whole
# groups (tests/conftest.py xdist_group), so the session's pipeline build and each module's builds run once.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder)

test: $(VENV)/.installed-dev $(MANIFEST) $(CHROMIUM) ## install with dev tools and run every test
	$(PY) -m pytest $(XDIST)

test-fast: $(VENV)/.installed-dev $(MANIFEST) ## the inner loop: unit, dbt and contract tests (no pipeline build, no browser, no dagster dev)
	$(PY) -m pytest -m "not slow" -q $(XDIST)

test-ops: $(VENV)/.installed-dev $(MANIFEST) ## the operations tests: real dagster dev + GraphQL + sensor, two runs at once, SIGKILL
	$(PY) -m pytest tests/ops -v -p no:cacheprovider

lint: $(VENV)/.installed-dev ## ruff + import layers (import-linter) + sqlfluff
	$(VENV)/bin/ruff check pipeline tests
	$(VENV)/bin/ruff format --check pipeline tests
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/sqlfluff lint dbt_project/models

docs: $(MANIFEST) ## dbt docs, built offline into dbt_project/target/static_index.html
	NTM_WAREHOUSE_PATH=$(CURDIR)/warehouse/ntm.duckdb $(DBT) docs generate --static --project-dir dbt_project --profiles-dir dbt_project
	@echo "open dbt_project/target/static_index.html"

synth: $(VENV)/.installed ## synthetic raw files: make synth SCALE=commune|province|national
	$(PY) -m pipeline.synth scale --scale $(SCALE) --out bench/work/$(SCALE)/raw

bench: $(MANIFEST) ## benchmark full build / no-op / new quarter / floor: make bench SCALE=commune|province|national
	$(PY) -m bench --scale $(SCALE)

clean: ## remove generated outputs (warehouse, open data, run history, dbt target)
	rm -rf warehouse open_data dbt_project/target dbt_project/logs
	find .dagster -mindepth 1 ! -name dagster.yaml -exec rm -rf {} +
