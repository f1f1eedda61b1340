"""I2C: the real bus on a Jetson, and a virtual bus with register-level twins of our chips."""

from .bus import DRIVER_LOCK, RegisterDevice, VirtualI2C
from .linux import DEFAULT_BUS, open_bus, probe, resolve_bus
from .pca9685 import PCA9685Twin

__all__ = ["DRIVER_LOCK", "RegisterDevice", "VirtualI2C", "DEFAULT_BUS", "open_bus", "resolve_bus", "probe",
           "PCA9685Twin"]
