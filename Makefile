# The two commands of a fresh machine: `make test` and `make book` (each sets up .venv first).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# CI and tests: notebooks run their smoke defaults; pytest-timeout guards against hangs.
PYTEST_ARGS ?= -q --timeout=1200

.PHONY: setup test book clean-results

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS) tests book/*.ipynb --nbval-lax

book: setup
	$(BIN)/sercore book --run --profile quick

clean-results:
	rm -rf results _build book/_generated
