# The two commands of the README: `make demo` and `make test`. Both set up .venv if needed.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=
# pytest-xdist workers: one per core, at most 4 (each holds its own torch + OpenMMLab, ~2 GiB).
# TEST_WORKERS=0 runs the suite in this process (for -x, pdb, or reading one failure).
TEST_WORKERS ?= auto

.PHONY: setup demo test lint clean-demo

setup:
	@bash scripts/setup_env.sh

demo: setup
	@bash scripts/demo.sh

test: setup lint
	@$(PYTHON) -m pytest tests -n $(TEST_WORKERS) --maxprocesses 4 $(PYTEST_ARGS)

# ruff.toml: pyflakes, pycodestyle and import order, line length 120.
lint: setup
	@$(PYTHON) -m ruff check .

clean-demo:
	rm -rf work_dirs/demo
