# One command each for test, lint and bench; the README names them.
VENV ?= .venv
PY := $(VENV)/bin/python

$(PY):
	python3 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[test]'

.PHONY: test lint bench
test: $(PY)
	$(PY) -m pytest

lint: $(PY)
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

bench: $(PY)
	$(PY) bench/bench_run.py
