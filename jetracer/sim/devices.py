"""The simulated car's electronics: a virtual I2C bus with the chips a profile says are fitted.

The PCA9685 registers live in a small file under the runtime folder, so they outlive a process
that was killed, exactly like a real board keeps its last pulse; ``jetracer stop --sim`` opens the
same file and writes neutral.
"""

import os
import tempfile
from pathlib import Path

from ..i2c import PCA9685Twin, VirtualI2C

__all__ = ["sim_state_dir", "make_sim_bus"]


def sim_state_dir():
    """Folder for the simulated chips' persistent registers (``$JETRACER_SIM_STATE`` overrides)."""
    if os.environ.get("JETRACER_SIM_STATE"):
        return Path(os.environ["JETRACER_SIM_STATE"])
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / ("jetracer-sim-%d" % os.getuid())


def make_sim_bus(profile, persistent=True):
    """A VirtualI2C carrying twins of the chips ``profile`` describes (PCA9685s; INA219 and
    SSD1306 when the battery/display sections are enabled and their twins exist)."""
    bus = VirtualI2C()
    state = sim_state_dir() if persistent else None
    car = profile.car
    addresses = [car["i2c_address"]]
    if car["type"] == "waveshare":
        addresses.append(car["motor_i2c_address"])
    for address in addresses:
        backing = state / ("pca9685-0x%02x.regs" % address) if state else None
        bus.attach(PCA9685Twin(address, backing_file=backing))
    _attach_optional(bus, profile)
    return bus


def _attach_optional(bus, profile):
    """Battery and display twins, when the modules providing them are present."""
    try:
        from ..i2c.ina219 import INA219Twin
    except ImportError:
        INA219Twin = None
    try:
        from ..i2c.ssd1306 import SSD1306Twin
    except ImportError:
        SSD1306Twin = None
    if INA219Twin is not None and profile.battery["enabled"]:
        bus.attach(INA219Twin(profile.battery["i2c_address"], shunt_ohms=profile.battery["shunt_ohms"],
                              cells=profile.battery["cells"]))
    if SSD1306Twin is not None and profile.display["enabled"]:
        bus.attach(SSD1306Twin(profile.display["i2c_address"], width=profile.display["width"],
                               height=profile.display["height"]))
