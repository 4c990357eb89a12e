# Every target creates its own virtual environment and installs what it needs (a fresh machine has none).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pytest-xdist workers for make test: two per core and one more (at most 8), as many tests wait on sockets and
# subprocesses; any number, or 0 to run the suite in this process. Work-stealing: a worker that runs out takes tests
# queued for another. Each worker collects the whole suite (~5 s of CPU), so more workers stop helping once the CPU
# is busy: measured on 2 cores, fresh clones (benchmarks/RESULTS.md section 16).
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(8, 2 * (os.cpu_count() or 1) + 1))")

.PHONY: install demo test lint typecheck unit fmt bench soak clean

# uv installs the project (several times faster than pip, which stays the fallback); the installed-wheel tests use
# it too, from the cache this step fills. The venv starts without pip (ensurepip took 4 s of CPU): the machine's pip
# puts uv in it (or, without one, ensurepip then pip do), and uv adds pip with the project.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(BIN)/python install --quiet 'uv>=0.5,<1' \
	  || { echo "no usable pip beside $(PYTHON): the venv gets its own" >&2; \
	       $(BIN)/python -m ensurepip --default-pip >/dev/null && $(BIN)/python -m pip install --quiet 'uv>=0.5,<1'; }
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]' pip \
	  || { echo "uv could not install the project: falling back to pip" >&2; \
	       $(BIN)/python -m ensurepip --default-pip >/dev/null; $(BIN)/python -m pip install --quiet -e '.[dev]'; }
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/streamclient demo --emulator  # never the real service, even with AKOOL_API_KEY set

# The type check runs beside the tests (its CPU fills the moments the tests wait on sockets and processes); its
# report follows theirs, and either failing fails the target.
test: lint
	@$(MAKE) --no-print-directory typecheck > $(VENV)/typecheck.log 2>&1 & typecheck=$$!; \
	$(MAKE) --no-print-directory unit; unit=$$?; \
	wait $$typecheck; typed=$$?; cat $(VENV)/typecheck.log; \
	[ $$unit -eq 0 ] && [ $$typed -eq 0 ]

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Bytecode is written as modules are first imported (uv compiles nothing at install, which saves compiling every
# installed package), so PYTHONDONTWRITEBYTECODE is emptied for the tests: where a machine sets it, each of the
# suite's hundreds of Python subprocesses (CLI runs, workers, examples) would compile everything again from source.
# In a new venv, one collection first compiles what the tests import (and pytest's rewritten test modules) once:
# otherwise the workers all compile the same modules at the same moment (four cold collections took 58 s of CPU,
# four warm ones 25 s: benchmarks/RESULTS.md section 15).
unit: $(STAMP)
	@[ -f $(VENV)/.tests-compiled ] || { PYTHONDONTWRITEBYTECODE= $(BIN)/pytest --collect-only -q > /dev/null 2>&1; \
	  touch $(VENV)/.tests-compiled; }  # a collection error is reported by the run below, not here
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal --cov --cov-report=  # in parallel (pytest-xdist)
	$(BIN)/coverage report --include='streamclient/codec/*' --fail-under=100
	$(BIN)/coverage report --fail-under=85

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

soak: $(STAMP)
	$(BIN)/pytest -m soak --timeout=1800 -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .hypothesis
