# Two commands on a fresh machine: `make run` and `make test`.
# Installs are keyed on stamp files, so re-running is quick when nothing changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test soak lint clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(RUN_STAMP)
	$(VENV)/bin/streamlit run app.py

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .

test: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -m "not soak" --durations=15 --doctest-modules flowcore tests

soak: $(DEV_STAMP)
	$(VENV)/bin/pytest -m soak

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache

# Benchmarks (issue 5): `make bench` writes bench/results/full/*.json and docs/benchmarks.md
# (under 20 minutes on a 2-core machine); `make bench-quick` is the same suite on short budgets
# (under 3 minutes) and writes bench/results/quick/, leaving docs/ alone.
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: bench bench-quick

$(BENCH_STAMP): $(DEV_STAMP) requirements-bench.txt
	$(PY) -m pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(BENCH_STAMP)
	$(PY) -m bench.run --profile full --report docs/benchmarks.md

bench-quick: $(BENCH_STAMP)
	$(PY) -m bench.run --profile quick
