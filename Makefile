# Two commands for a new user: `make bench` and `make test` (each creates .venv and installs on first use).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SUITE ?= suites/quick.yaml

.PHONY: bench test lint data install clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

data: install
	@scripts/get_data.sh $(PY)

bench: data
	$(PY) -m ssl_bench suite run $(SUITE)

test: install
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check ssl_bench tests scripts
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
