# The two commands a new user needs: `make demo` and `make test`. Both build .venv first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS := requirements/constraints-dev.txt
EXTRAS := sim,onnx,gamepad,dev

# Python 3.6 (JetPack 4.6 on the Nano): the torch-free suites run under it too. pyenv's 3.6 when
# present, else python3.6 on the PATH. CI machines have it; elsewhere `make test SKIP_PY36=1` says so
# and skips it (it is never skipped silently: a 3.6 break would only show on a car).
PY36 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.6.*/bin/python) $(shell command -v python3.6 2>/dev/null))
VENV36 ?= .venv36
CONSTRAINTS36 := requirements/constraints-py36.txt
TESTS36 := tests/test_racecar.py tests/test_jetracer_imports.py tests/test_i2c.py tests/test_profile.py \
	tests/test_pilot.py tests/test_battery.py tests/test_display.py tests/test_display_ssd1306.py \
	tests/test_camera_base.py tests/test_camera_backends.py tests/test_camera_video.py tests/test_sim_track.py \
	tests/test_sim_physics.py tests/test_sim_metrics.py tests/test_sim_grip.py tests/test_sim_expert.py \
	tests/test_sim_render.py tests/test_sim_camera.py tests/test_teleop_events.py tests/test_teleop_controller.py \
	tests/test_teleop_session.py tests/test_teleop_cli.py tests/test_services_calibrate.py tests/test_package.py \
	tests/test_camera_jetson.py tests/test_teleop_layouts.py tests/test_faults_lies.py tests/test_faults_envelope.py \
	tests/test_faults_hangs.py tests/test_doctor.py tests/test_donkey_tub.py tests/test_protocols.py \
	tests/test_typed_api.py tests/test_shapes.py
NEEDS_TORCH36 := --deselect tests/test_teleop_cli.py::test_a_failed_build_closes_the_car_it_built \
	--deselect tests/test_doctor.py::test_cli_doctor_sim_json_reads_the_twins_and_leaves_the_pulses

.PHONY: install demo test test36 deps-jetson lint bench clean browser

$(VENV)/.installed: setup.py pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) -m jetracer.demo

test: lint browser test36 deps-jetson
	$(PY) -m pytest -q

# The 3.6 venv is built once (setup.py's requirements for 3.6, no torch, the oldest numpy/traitlets/Pillow).
$(VENV36)/.installed: setup.py pyproject.toml $(CONSTRAINTS36) .ci/install_requires.py | $(VENV)/.installed
	@test -n "$(PY36)" || { echo "make test: no Python 3.6 found (pyenv install 3.6.15, or PY36=/path/to/python3.6;" \
		"SKIP_PY36=1 skips the Python 3.6 suites)"; exit 1; }
	rm -rf $(VENV36)
	$(PY36) -m venv $(VENV36)
	$(VENV36)/bin/python -m pip install -q --upgrade "pip<22" "setuptools<60" "wheel<0.38"
	$(PY) .ci/install_requires.py --python 3.6 --print > $(VENV36)/requirements.txt
	$(VENV36)/bin/python -m pip install -q -c $(CONSTRAINTS36) -r $(VENV36)/requirements.txt \
		opencv-python-headless evdev pytest pytest-timeout
	$(VENV36)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

ifeq ($(SKIP_PY36),1)
test36:
	@echo "test36: skipped (SKIP_PY36=1): the torch-free suites did not run under Python 3.6"
else
test36: $(VENV36)/.installed
	$(VENV36)/bin/python -m pytest -q -o addopts="-ra -p no:cacheprovider" $(TESTS36) $(NEEDS_TORCH36)
endif

# install_requires resolve on a Jetson (aarch64; Python 3.6, 3.8, 3.10 = JetPack 4.6, 5, 6): reaches
# PyPI, so it runs again only when setup.py changes.
deps-jetson: $(VENV)/.deps-jetson
$(VENV)/.deps-jetson: setup.py .ci/install_requires.py | $(VENV)/.installed
	$(PY) .ci/install_requires.py --check 3.6 3.8 3.10
	touch $@

# The web app's browser tests drive Debian's headless Chromium (Playwright never downloads one).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the web app's browser tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver; }
	@test -x $(CHROMIUM) || { echo "$(CHROMIUM) is missing: the browser tests cannot run" >&2; exit 1; }

lint: install
	$(VENV)/bin/ruff check jetracer tests
	$(VENV)/bin/vermin --target=3.6- --violations --no-tips --eval-annotations -q jetracer
	@test -x $(VENV)/bin/mypy || { echo "make lint: mypy is missing from $(VENV) (the dev extra installs it on Python 3.10+)"; exit 1; }
	$(VENV)/bin/mypy  # the typed modules (pyproject.toml [tool.mypy] files): what py.typed promises
	$(PY) -m tools.nbcheck notebooks

bench: install
	$(PY) -m jetracer bench --json bench.json

clean:
	rm -rf $(VENV) $(VENV36) build *.egg-info
