# The two commands of a fresh machine: `make test` and `make book` (each sets up .venv first).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# CI and tests: notebooks run their smoke defaults; pytest-timeout guards against hangs.
PYTEST_ARGS ?= -q --timeout=1200

.PHONY: setup test book clean-results chromium

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

# One pytest run on two pytest-xdist workers of one thread each (--dist loadscope, scoped in tests/conftest.py):
# the run matrix's cells (every params file x profile through `sercore run`, tests/test_matrix.py) are
# spread one by one; every other test file and notebook stays whole on one worker. The matrix executes
# every notebook that has params/<paper>/ (on its smoke profile among others); nbval executes the rest
# (the data chapter, the scoreboard, the summary), so each notebook runs once.
MATRIX_NOTEBOOKS = $(patsubst params/%/,book/%.ipynb,$(wildcard params/*/))
NBVAL_NOTEBOOKS  = $(filter-out $(MATRIX_NOTEBOOKS),$(wildcard book/*.ipynb))
test: setup chromium
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest $(PYTEST_ARGS) tests $(NBVAL_NOTEBOOKS) \
		--nbval-lax -n 2 --dist loadscope

# A small benchmark (a few seconds) first, so the benchmarks page shows numbers measured on this machine
# (a full `benchmarks/run` already in results/ is kept), then every notebook and the HTML.
book: setup
	PYTHON=$(BIN)/python benchmarks/run --book
	$(BIN)/sercore book --run --profile quick

clean-results:
	rm -rf results _build book/_generated

# Headless Chromium for tests/test_book_browser.py (Debian's package). Installed when missing and we are
# root with apt-get; otherwise a message: the browser test then skips locally and FAILS when CI=true.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing chromium (apt-get) for the browser test"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "apt-get could not install chromium: tests/test_book_browser.py will skip (fail under CI=true)"; \
	else \
		echo "chromium is not installed and cannot be installed here (needs root and apt-get):"; \
		echo "tests/test_book_browser.py will skip (and fail under CI=true)"; \
	fi
