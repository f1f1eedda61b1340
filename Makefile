# The two commands a new user needs: `make demo` and `make test`. Both build .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints-dev.txt
EXTRAS := sim,onnx,gamepad,dev

.PHONY: install demo test lint bench clean browser

$(VENV)/.installed: setup.py pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m jetracer.demo

test: lint browser
	$(PY) -m pytest -q

# The web app's browser tests drive Debian's headless Chromium (Playwright never downloads one).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the web app's browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: the browser tests cannot run" >&2; exit 1; }

lint: install
	$(VENV)/bin/ruff check jetracer tests
	$(VENV)/bin/vermin --target=3.8- --violations --no-tips --eval-annotations -q jetracer
	$(PY) -m jetracer.util.nbcheck notebooks

bench: install
	$(PY) -m jetracer bench --json bench.json

clean:
	rm -rf $(VENV) build *.egg-info
