"""Which world a notebook drives: the simulator or the car, and whether it runs headless in CI."""

import os
from pathlib import Path

from ..errors import JetracerError

__all__ = ["default_sim", "in_ci", "car_present"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(name, environ):
    value = environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise JetracerError("%s=%r is not understood: set it to 1 or 0" % (name, environ.get(name)))


def in_ci(environ=None):
    """True when a test runs the notebook headless (``JETRACER_NOTEBOOK_CI=1``): no browser, so
    cells play the user's part (clicks, a few training steps, a few simulated seconds of driving)."""
    return bool(_flag("JETRACER_NOTEBOOK_CI", os.environ if environ is None else environ))


def car_present(profile=None):
    """True when an I2C bus exists and the profile's PCA9685 answers on it (a car is wired up)."""
    if not any(Path("/dev").glob("i2c-*")):
        return False
    bus = None
    try:
        from ..i2c import open_bus, probe
        from ..profile import load_profile

        profile = load_profile(profile, sim=False)
        if profile.camera["type"] == "sim":
            return False
        bus = open_bus(profile.car["i2c_bus"])
        probe(bus, profile.car["i2c_address"], "PCA9685", str(profile.car["i2c_bus"]))
        return True
    except Exception:  # noqa: BLE001 - any failure to reach the board means "no car here"
        return False
    finally:
        if bus is not None and hasattr(bus, "deinit"):
            try:
                bus.deinit()  # the session opens its own: do not keep this file descriptor
            except Exception:  # noqa: BLE001 - closing a probe's bus never matters more than the answer
                pass


def default_sim(environ=None, profile=None):
    """The notebooks' ``SIM`` switch: ``$JETRACER_SIM`` (1/0) when set, else True when no car answers."""
    forced = _flag("JETRACER_SIM", os.environ if environ is None else environ)
    if forced is not None:
        return forced
    return not car_present(profile)


def require(module):
    """Import ``module`` (ipywidgets, ipyevents), or say in one line how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise JetracerError("the notebooks need %s: pip install 'jetracer[notebooks]' (JupyterLab, ipywidgets, "
                            "ipyevents)" % module) from None
