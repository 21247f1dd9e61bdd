# Two commands do the set-up: `make demo` (train, publish, serve) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
PYTEST_ARGS ?=
COMPILE_ARGS ?=

.PHONY: install tools lint compile serve demo demo-gcs images test test-fast test-slow bench bench-pipeline screenshots clean

install: $(STAMP)

# Reinstall only when a dependency file changes; the project itself is installed editable.
$(STAMP): requirements-components.txt requirements-webapp.txt requirements-build.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Tools the tests run besides Python packages: shellcheck (Debian's package) checks scripts/*.sh.
tools:
	@command -v shellcheck >/dev/null || { apt-get update -qq && apt-get install -y -qq shellcheck; }

compile: install
	$(BIN)/python compile.py $(COMPILE_ARGS)

serve: install
	PORT=$(PORT) $(BIN)/gunicorn --config webapp/gunicorn.conf.py 'webapp:create_app()'

demo: compile serve

# The same, with the model store on a local GCS API server (fake-gcs-server on 127.0.0.1:$(GCS_PORT)).
GCS_PORT ?= 4443
demo-gcs: install
	BIN=$(BIN) GCS_PORT=$(GCS_PORT) PORT=$(PORT) bash scripts/demo_gcs.sh

# Both images, salary-components:dev and salary-webapp:dev (scripts/images.sh): with docker, or podman
# (installed from Debian's packages when neither is there); where python:3.11.14-slim-bookworm cannot be
# pulled, a stand-in base is built from Debian's packages with mmdebstrap. The container tests run it too.
images:
	bash scripts/images.sh

lint: install
	$(BIN)/ruff check .

test: install tools lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install tools lint
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Benchmarks (not tests): about 15 minutes on an idle machine (the pipeline on 100M CSV rows included); writes docs/benchmarks.md. wrk comes from Debian's packages.
BENCH_ROUNDS ?= 5
BENCH_SECONDS ?= 5
bench: install
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench.run --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS)

# The README's pictures (docs/screenshots/*.png), through the browser the tests use (Debian's chromium).
screenshots: install
	$(BIN)/python -m scripts.screenshots

# The pipeline part alone (shipped data, 1M/10M/100M CSV rows, a BigQuery table in the emulator); prints its report.
bench-pipeline: install
	$(BIN)/python -m bench.run --rounds $(BENCH_ROUNDS) --only pipeline,scaling,bigquery --output -

clean:
	rm -rf $(VENV) .dry-run pipeline.yaml model-store .pytest_cache .hypothesis .containers
