# Two commands do the set-up: `make demo` (train, publish, serve) and `make test`. `make help` lists every target.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8080
PYTEST_ARGS ?=
COMPILE_ARGS ?=
GCS_PORT ?= 4443
BENCH_ROUNDS ?= 5
BENCH_SECONDS ?= 5

.DEFAULT_GOAL := help
.PHONY: help install tools clean demo demo-gcs compile serve images lint test test-fast test-slow bench bench-pipeline screenshots

##@ Set-up

help: ## list every target with what it does
	@awk 'BEGIN { FS = ":.*## " } /^##@ / { printf "\n%s\n", substr($$0, 5) } /^[a-z-]+:.*## / { printf "  %-15s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(STAMP) ## create .venv with the pinned dependencies and the project (quick when nothing changed)

# Reinstall only when a dependency file changes; the project itself is installed editable.
$(STAMP): requirements-components.txt requirements-webapp.txt requirements-build.txt requirements-dev.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# Tools the tests run besides Python packages: shellcheck (Debian's package) checks scripts/*.sh.
tools: ## install shellcheck from Debian's packages when it is missing
	@command -v shellcheck >/dev/null || { apt-get update -qq && apt-get install -y -qq shellcheck; }

# .dry-run is the local run's folder under its old name (issue 26), in checkouts from before.
clean: ## remove .venv, the local run's files, pipeline.yaml, model-store and caches
	rm -rf $(VENV) .local-run .dry-run pipeline.yaml model-store .pytest_cache .hypothesis .containers

##@ Tasks

demo: compile serve ## train through the local run, then serve it on http://127.0.0.1:8080 (PORT)

# The store on a local GCS API server (fake-gcs-server on 127.0.0.1:$(GCS_PORT)).
demo-gcs: install ## the demo with the model store on a local GCS API server (GCS_PORT)
	BIN=$(BIN) GCS_PORT=$(GCS_PORT) PORT=$(PORT) bash scripts/demo_gcs.sh

compile: install ## python compile.py: compile the spec and run it locally (COMPILE_ARGS passes flags)
	$(BIN)/python compile.py $(COMPILE_ARGS)

serve: install ## the production server, gunicorn (honours MODEL_URI and PORT)
	PORT=$(PORT) $(BIN)/gunicorn --config webapp/gunicorn.conf.py 'webapp:create_app()'

# Both images, salary-components:dev and salary-webapp:dev (scripts/images.sh): with docker, or podman
# (installed from Debian's packages when neither is there); where python:3.11.14-slim-bookworm cannot be
# pulled, a stand-in base is built from Debian's packages with mmdebstrap. The container tests run it too.
images: ## build both container images, tagged :dev (docs/containers.md)
	bash scripts/images.sh

lint: install ## ruff check, and ruff format --check (code formatted at 120 columns)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install tools lint ## the whole test suite (PYTEST_ARGS passes pytest flags)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-fast: install tools lint ## every test but the slow end-to-end ones
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: install ## only the slow end-to-end tests
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

# Benchmarks, not tests: about 15 minutes on an idle machine (the pipeline on 100M CSV rows included). wrk comes from Debian's packages.
bench: install ## the benchmarks; writes docs/benchmarks.md (BENCH_ROUNDS, BENCH_SECONDS)
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(BIN)/python -m bench.run --rounds $(BENCH_ROUNDS) --seconds $(BENCH_SECONDS)

# Shipped data, 1M/10M/100M CSV rows, a BigQuery table in the emulator.
bench-pipeline: install ## only the pipeline's benchmarks; prints its report
	$(BIN)/python -m bench.run --rounds $(BENCH_ROUNDS) --only pipeline,scaling,bigquery --output -

# Through the browser the tests use (Debian's chromium).
screenshots: install ## retake the README's pictures (docs/screenshots/*.png)
	$(BIN)/python -m scripts.screenshots
