# The two commands a new user needs: `make demo` and `make test`. Both build .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints-dev.txt
EXTRAS := sim,onnx,gamepad,dev

.PHONY: install demo test lint bench clean

$(VENV)/.installed: setup.py pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m jetracer.demo

test: lint
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check jetracer tests
	$(VENV)/bin/vermin --target=3.8- --violations --no-tips --eval-annotations -q jetracer
	$(PY) -m jetracer.util.nbcheck notebooks

bench: install
	$(PY) -m jetracer bench --json bench.json

clean:
	rm -rf $(VENV) build *.egg-info
