# openami: `make demo` sets up and runs the demo; `make test` sets up and runs every check.
# The first Python >= 3.11 found: python3.11, python3.12, python3.13, then python3.
PYTHON ?= $(shell for p in python3.11 python3.12 python3.13 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench setup clean browser java fuzz sbom cluster cluster-test

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || test -n "$(PYTHON)" || { \
	  echo "openami needs Python 3.11 or newer: none of python3.11, python3.12, python3.13," \
	       "python3 on PATH is. Install one, or run: make PYTHON=/path/to/python3.x"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' 2> $(VENV)/pip.log || { cat $(VENV)/pip.log; exit 1; }
	touch $(STAMP)

# Browser tests drive Debian's chromium; install it when we can (root with apt), else they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-ipafont-gothic >/dev/null) \
	      || echo "chromium could not be installed: browser tests will skip"; \
	  else echo "chromium not found: browser tests will skip"; fi; }

# The Spark engine's tests (pyspark, from the dev extra) need a Java 17+ runtime: Debian's
# openjdk-17-jre-headless (default-jre-headless where 17 is gone) when we can install it
# (root with apt), else they skip.
java:
	@command -v java >/dev/null 2>&1 || test -n "$$JAVA_HOME" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing a Java runtime for the Spark tests"; \
	    (apt-get update -qq && { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
	      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }) \
	      || echo "Java could not be installed: Spark tests will skip"; \
	  else echo "java not found: Spark tests will skip"; fi; }

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/openami demo --meters 2000 --days 1

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks fuzz
	$(BIN)/ruff format --check src tests benchmarks fuzz
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Two passes (tests/conftest.py): most tests on PYTEST_WORKERS pytest-xdist workers (one
# test file per worker at a time), then the `serial` tests, which time processes, alone.
PYTEST_WORKERS ?= 3
pytest: $(STAMP) browser java
	$(BIN)/pytest -m "not serial" -n $(PYTEST_WORKERS) --dist loadfile
	$(BIN)/pytest -m serial

test: lint typecheck pytest

# The multi-process deployment on this machine (docs/deployment.md, "Run it"): a DLMS field,
# the HES service, MDMS workers and the dashboard under honcho, against NATS (and PostgreSQL
# with CLUSTER_DB=postgresql+psycopg://…). `make cluster-test` runs its end-to-end tests
# (also part of `make test`).
CLUSTER_DIR ?= cluster-data
CLUSTER_METERS ?= 2000
CLUSTER_BUS ?= nats://127.0.0.1:4222
CLUSTER_DB ?=
CLUSTER_WEB_PORT ?= 8000
cluster: $(STAMP)
	$(BIN)/python deploy/cluster.py --data-dir $(CLUSTER_DIR) --meters $(CLUSTER_METERS) \
	  --bus $(CLUSTER_BUS) --web-port $(CLUSTER_WEB_PORT) $(if $(CLUSTER_DB),--db $(CLUSTER_DB))

cluster-test: $(STAMP)
	$(BIN)/pytest -m cluster tests/cluster

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --small || exit 1; done

# Fuzzing (fuzz/README.md): every harness FUZZ_SECONDS each, atheris from the `fuzz` extra
# (FUZZ_ENGINE=loop: the seeded mutation loop, faster but without coverage feedback).
FUZZ_SECONDS ?= 60
FUZZ_ENGINE ?= auto
FUZZ_STAMP := $(VENV)/.fuzz-installed

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,fuzz]' 2> $(VENV)/pip.log || { cat $(VENV)/pip.log; exit 1; }
	touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m fuzz.run --engine $(FUZZ_ENGINE)

# A CycloneDX SBOM (JSON, spec 1.6) of the installed environment, written to sbom.cdx.json.
sbom: $(FUZZ_STAMP)
	$(BIN)/cyclonedx-py environment --of JSON --output-reproducible -o sbom.cdx.json $(BIN)/python
	@echo "wrote sbom.cdx.json"

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
