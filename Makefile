# One command for each daily job. Everything runs offline.
PY := .venv/bin/python
PIP := .venv/bin/pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export DO_NOT_TRACK := 1
export UNSTRUCTURED_DISABLE_NOTICE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint bench install install-test install-bench ingest serve clean

.venv/bin/python:
	python3.11 -m venv .venv || python3 -m venv .venv
	$(PIP) install -q --upgrade "pip>=24"

# stamp files re-run the install only when pyproject.toml changes
.venv/.installed: pyproject.toml | .venv/bin/python
	$(PIP) install -q -e .
	touch $@

.venv/.installed-test: pyproject.toml | .venv/bin/python
	$(PIP) install -q -e '.[test]'
	touch $@ .venv/.installed

.venv/.installed-bench: pyproject.toml | .venv/bin/python
	$(PIP) install -q -e '.[test,bench]'
	touch $@ .venv/.installed .venv/.installed-test

install: .venv/.installed
install-test: .venv/.installed-test
install-bench: .venv/.installed-bench

ingest: install
	.venv/bin/whoknows ingest

serve: install
	.venv/bin/whoknows serve

run: install
	.venv/bin/whoknows ingest
	.venv/bin/whoknows serve

test: install-test
	$(PY) -m pytest

lint: install-test
	.venv/bin/ruff check ingest index search web tests benchmarks
	.venv/bin/mypy ingest index search web

# all parts, ~20 min on 2 cores; `make bench ARGS="--quick"` or ARGS="--only encoder,http"
bench: install-bench
	$(PY) benchmarks/run.py $(ARGS)

clean:
	rm -rf var .venv
