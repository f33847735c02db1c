# UrbanOps: two commands on a fresh machine (see README).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export URBANOPS_DATA_DIR ?= $(CURDIR)/var

.PHONY: run test services lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

## make run: install, migrate the SQLite database under var/, load the demo city if empty, serve on :8000
run: $(VENV)/.installed
	mkdir -p $(URBANOPS_DATA_DIR)
	$(BIN)/urbanops db upgrade
	$(BIN)/urbanops demo load --if-empty
	exec $(BIN)/urbanops serve --host $(HOST) --port $(PORT)

## services: install what the tests start (PostgreSQL + PostGIS, Mosquitto, Chromium and a
## Korean font for its screenshots), as root
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 \
	    || ! test -x /usr/sbin/mosquitto || ! test -x /usr/bin/chromium \
	    || ! test -d /usr/share/fonts/truetype/nanum; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      postgresql postgresql-postgis mosquitto chromium fonts-nanum >/dev/null; \
	  else echo "PostgreSQL/PostGIS/Mosquitto/Chromium/fonts missing and not root: their tests will skip"; fi; \
	fi

## make test: dev dependencies, services, then lint and the whole suite
test: $(VENV)/.installed-dev services
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(VENV)/.installed-dev services
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_queries.py
	$(BIN)/python benchmarks/bench_queries.py --backend postgresql
	$(BIN)/python benchmarks/bench_mqtt.py
	$(BIN)/python benchmarks/bench_alerts.py
	$(BIN)/python benchmarks/bench_thermal.py
	$(BIN)/python benchmarks/bench_frames.py
	$(BIN)/python benchmarks/bench_drone.py
	$(BIN)/python benchmarks/bench_heat.py
	$(BIN)/python benchmarks/bench_parking.py
	$(BIN)/python benchmarks/bench_taxi.py
	$(BIN)/python benchmarks/bench_civic.py
	$(BIN)/python benchmarks/bench_dashboard.py

clean:
	rm -rf $(VENV) var .pytest_cache
