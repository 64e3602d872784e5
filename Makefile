# Every target creates or reuses .venv by itself: a fresh machine needs only Python 3.11+ and make.
SHELL        := bash
.SHELLFLAGS  := -eu -o pipefail -c
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
LOG    := $(VENV)/install.log
# One line per package pip collects or installs; the whole output is kept in $(LOG).
PIP_LINES := awk '/^(Collecting|Installing collected|Successfully installed|ERROR)/ { print "    " $$0; fflush() }'

.PHONY: demo test bench lint format clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "opskit needs Python 3.11+; set PYTHON=python3.11 (or newer)")'
	@echo "==> First run: installing opskit and its dependencies into $(VENV) (under a minute with a fast link to PyPI, minutes on a slow one; once only)"
	@test -x $(PY) || { echo "==> [1/3] creating $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> [2/3] upgrading pip"
	@$(PY) -m pip install --disable-pip-version-check --progress-bar off --upgrade pip > $(LOG) 2>&1 || { tail -n 30 $(LOG); exit 1; }
	@echo "==> [3/3] installing opskit[dev] (full log: $(LOG))"
	@$(PY) -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' 2>&1 | tee -a $(LOG) | $(PIP_LINES) || { echo "pip failed; the end of $(LOG):"; tail -n 30 $(LOG); exit 1; }
	@touch $(STAMP)
	@echo "==> $(VENV) is ready"

demo: $(STAMP)
	@$(PY) -m opskit.demo

test: $(STAMP)
	@$(VENV)/bin/pytest -q

bench: $(STAMP)
	@$(PY) -m bench

lint: $(STAMP)
	@echo "==> ruff check"
	@$(VENV)/bin/ruff check .
	@echo "==> ruff format --check"
	@$(VENV)/bin/ruff format --check .
	@echo "==> mypy gateway opskit"
	@$(VENV)/bin/mypy gateway opskit

format: $(STAMP)
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .opskit build *.egg-info .pytest_cache .mypy_cache
