# Developer shortcuts; the README's two commands are `make run` and `make test`.
PY ?= python3
VENV ?= .venv
EXTRAS ?= test
BIN := $(VENV)/bin
# Tools the venv installs (shfmt for snakefmt) are found without activating it.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: setup run report test lint bench check clean

# pip -qq: errors only (warnings such as a pip.conf's unreachable extra index would print one line per package).
$(BIN)/fusionsim: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -qq --upgrade pip
	$(BIN)/pip install -qq -e '.[$(EXTRAS)]'
	touch $@

setup: $(BIN)/fusionsim

# What the default run needs beyond the test set-up: Snakemake and TensorFlow (the sparse baseline prunes the
# compact networks with it), installed once, here, not discovered at run time.
$(VENV)/.run-deps: $(BIN)/fusionsim
	$(BIN)/pip install -qq -e '.[pipeline,sparsity]'
	touch $@

run: $(VENV)/.run-deps  ## the default config (the headline comparison and fusion plan) + results/report.html
	$(BIN)/snakemake --profile profiles/local --report results/report.html --report-after-run

report: $(VENV)/.run-deps  ## results/report.html of the last run of the default config
	$(BIN)/snakemake --profile profiles/local --report results/report.html

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
