# The two commands of the README: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench soak venv openapi clean lint

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## Start the service on 127.0.0.1:8000 with embedded SQLite in ./var
run: $(STAMP)
	$(BIN)/modlabel serve

## Build the environment and run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## Benchmarks: one table with targets, 6-9 minutes (bench/RESULTS.md); BENCH_ARGS=--quick for a smoke run
bench: $(STAMP)
	$(BIN)/python -m bench.run_all $(BENCH_ARGS)

## Soak: 5 minutes of mixed traffic at 200 req/s on 2 workers and PostgreSQL (bench/soak.py); SOAK_ARGS="--seconds 60" to shorten
soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

openapi: $(STAMP)
	$(BIN)/modlabel openapi --write

clean:
	rm -rf $(VENV) var .pytest_cache
