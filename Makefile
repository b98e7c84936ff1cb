# ICP Lens: `make demo` sets everything up and runs the main job; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export SPARK_LOCAL_IP ?= 127.0.0.1
export MPLBACKEND := Agg

.PHONY: demo test lint bench sample clean setup

setup: $(STAMP)

# uv installs the stack in seconds; plain pip is the fallback when uv cannot be had.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if $(BIN)/python -m pip install -q --disable-pip-version-check uv >/dev/null 2>&1; then \
	  echo "Installing ICP Lens and its dependencies with uv ..."; \
	  $(BIN)/python -m uv pip install -q --python $(BIN)/python --compile-bytecode -e '.[spark,dev]'; \
	else \
	  echo "uv is not available; installing with pip (slower) ..."; \
	  $(BIN)/python -m pip install -q --disable-pip-version-check --compile -e '.[spark,dev]'; \
	fi
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/icp report data/sample --quarter 2025Q4 --out reports/

test: $(STAMP)
	$(BIN)/ruff check icp tests benchmarks
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check icp tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

sample: $(STAMP)
	$(BIN)/icp sample --out data/sample --accounts 3000 --years 4 --seed 42 --format csv

clean:
	rm -rf $(VENV) icp-output .pytest_cache .ruff_cache
