# Two commands on a fresh machine:  make run  (default config → Parquet)   make test  (whole suite)
# Dependencies are installed at the versions of requirements.lock (pip constraints: the tested
# versions, also in the Docker image); ruff and pip themselves are not pinned.
VENV   ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
PY     := $(VENV)/bin/python
CONFIG ?= configs/laptop.yaml
# `make run` replaces the previous outputs of the same config (a run folder holds one run only)
RUN_ARGS ?= --overwrite

.PHONY: install run test test-fast bench clean

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS=ignore $(PY) -m pip install --quiet --constraint requirements.lock -e ".[test]"  # no build-backend banners
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m pipeline run $(CONFIG) $(RUN_ARGS)

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
