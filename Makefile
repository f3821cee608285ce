# Customer Warehouse: `make run` for a first look, `make test` for everything CI checks.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
DASHBOARD_PORT ?= 8501
DAGSTER_PORT ?= 3000
export DO_NOT_TRACK := 1
export DAGSTER_HOME ?= $(CURDIR)/.dagster

.PHONY: install run demo-data refresh dashboard dev test lint format bench clean

install: $(INSTALLED)

# The lock file pins every package; uv installs it in seconds and reproduces CI exactly.
# Bytecode is compiled at install: where PYTHONDONTWRITEBYTECODE is set (containers, CI) every
# process would otherwise compile Dagster, dbt and GX from source (~3 s of each refresh's start).
# dbt parses the project for the default settings at install, so the first refresh does not.
$(INSTALLED): requirements.lock pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$$(sed -n 's/^uv==//p' requirements.lock)"
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -c 'from pipelines.transform import ensure_manifest; ensure_manifest()'
	@touch $@

demo-data: install
	@if [ -z "$$(find data/raw -type f ! -name '.gitkeep' -print -quit 2>/dev/null)" ]; then \
		$(BIN)/customer-warehouse generate; \
	else echo "data/raw already holds extracts: not generating demo data"; fi

refresh: install
	$(BIN)/customer-warehouse refresh

run: demo-data refresh
	@if [ -f dashboards/app.py ]; then \
		echo "Dashboard: http://$(HOST):$(DASHBOARD_PORT)  (Ctrl+C to stop)"; \
		$(BIN)/streamlit run dashboards/app.py --server.address $(HOST) --server.port $(DASHBOARD_PORT); \
	fi

dashboard: install
	@echo "Dashboard: http://$(HOST):$(DASHBOARD_PORT)"
	$(BIN)/streamlit run dashboards/app.py --server.address $(HOST) --server.port $(DASHBOARD_PORT)

# Dagster UI plus the daemon, so the nightly schedule and the new-files sensor fire.
dev: install
	@mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml || true
	$(BIN)/dagster dev -w workspace.yaml -h $(HOST) -p $(DAGSTER_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && CW_WORK_DATABASE=:memory: ../$(BIN)/sqlfluff lint models tests

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	cd dbt_project && CW_WORK_DATABASE=:memory: ../$(BIN)/sqlfluff fix models tests

test: lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/customer-warehouse bench --customers $${CUSTOMERS:-100000}

clean:
	rm -rf data/warehouse dbt_project/target dbt_project/logs .pytest_cache
