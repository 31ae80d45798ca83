# Two commands on a fresh machine:  make run  (default config → Parquet)   make test  (whole suite)
VENV   ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY     := $(VENV)/bin/python
CONFIG ?= configs/laptop.yaml

.PHONY: install run test test-fast bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m pipeline run $(CONFIG)

test: install
	$(PY) -m ruff check .
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not cluster"

bench: install
	$(PY) benchmarks/bench_entropy_pooling.py --quick
	$(PY) benchmarks/bench_frontier.py --quick

clean:
	rm -rf $(VENV) runs .pytest_cache *.egg-info
