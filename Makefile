# Developer shortcuts; the README's two commands are `make run` and `make test`.
PY ?= python3
VENV ?= .venv
EXTRAS ?= test
BIN := $(VENV)/bin
# Tools the venv installs (shfmt for snakefmt) are found without activating it.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run test lint bench check clean

$(BIN)/fusionsim: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[$(EXTRAS)]'
	touch $@

setup: $(BIN)/fusionsim

run: setup  ## run the default pipeline config on all cores
	$(BIN)/snakemake --cores all --profile profiles/local

test: setup  ## lint + the full test suite (what CI runs)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/snakefmt --check Snakefile rules
	$(BIN)/snakemake --lint

bench: setup  ## speed benchmarks (print figures)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b; done

check: setup  ## the shared acceptance checks (../shared/checks)
	$(BIN)/python ../shared/checks/check_evaluate.py
	$(BIN)/python ../shared/checks/check_map.py
	$(BIN)/python ../shared/checks/check_fusion_search.py

clean:
	rm -rf results .snakemake
