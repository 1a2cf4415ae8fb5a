# Thin wrappers. Every target creates (or reuses) .venv and installs the project into it,
# so a fresh machine needs only Python (3.11 or newer; 3.11 is the tested one) and make.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= auto
STAMP  := $(VENV)/.installed

.PHONY: demo test check lint format lab site release bench env clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is required, found " + sys.version.split()[0]'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

env: $(STAMP)

demo: $(STAMP)
	$(PY) -m autograder demo

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --dist loadgroup

# The inner loop, before every commit: lint, and every test that starts no kernel, sandbox, clean
# room or browser and executes no notebook (the assignments' harness checks run in-process).
check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(JOBS) --dist loadgroup -q -m "not notebook and not pipeline and not slow" -p no:cacheprovider

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# JupyterLab refuses to run as root unless told; CI machines and containers often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=. $(ROOT_FLAG)

site: $(STAMP)
	$(PY) -m tools.build_site

release: $(STAMP)
	$(PY) -m autograder release

bench: $(STAMP)
	$(PY) -m tools.bench

clean:
	rm -rf release graded site .pytest_cache
