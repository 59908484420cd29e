# Two commands for a newcomer: `make run` and `make test`. Both install from requirements.lock.
# Contributors iterate with `make test-fast`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test test-fast lint lock ui

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## The main job: every asset for 2025-11-21 mid-day on the sample market, then the figures.
run: install
	$(BIN)/hk-pipeline run --date 2025-11-21 --snapshot midday

## The whole test suite (2 workers; idle ones steal queued tests from the one running the
## browser test, hk_pipeline_tests/ui) and the linter.
test: install
	$(BIN)/pytest -q -n 2 --dist worksteal -p no:cacheprovider
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The contributors' inner loop: the tests marked `fast` (pyproject.toml's markers; unit tests
## and one end-to-end snapshot, the README's main job) and the linter.
## CI and `make test` still run everything.
test-fast: install
	$(BIN)/pytest -q -m fast -n 2 -p no:cacheprovider
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

ui: install
	$(BIN)/hk-pipeline ui

## Re-resolve the lock file after changing dependencies in pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock
