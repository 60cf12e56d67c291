# The two commands of the README: `make demo` and `make test`. Both set up .venv if needed.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test lint clean-demo

setup:
	@bash scripts/setup_env.sh

demo: setup
	@bash scripts/demo.sh

test: setup lint
	@$(PYTHON) -m pytest tests $(PYTEST_ARGS)

# ruff.toml: pyflakes, pycodestyle and import order, line length 120.
lint: setup
	@$(PYTHON) -m ruff check .

clean-demo:
	rm -rf work_dirs/demo
