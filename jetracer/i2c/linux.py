"""Opening a real I2C bus (``/dev/i2c-N``) with the busio API, and saying clearly why it failed."""

import os
import threading

from ..errors import HardwareError

__all__ = ["open_bus", "resolve_bus", "probe", "DEFAULT_BUS"]

#: The 40-pin header's I2C (pins 3/5) is bus 1 on the Jetson Nano, and on Xavier NX/Orin Nano too
#: it's the bus JetRacer kits are wired to; bus 7/8 on Orin are the other header pair.
DEFAULT_BUS = 1


def _fix_hint(bus):
    return ("check the wiring (SDA/SCL/3V3/GND), run `i2cdetect -y -r %d`, and make sure your user "
            "is in the i2c group (`sudo usermod -aG i2c $USER`, then log in again)" % bus)


def open_bus(bus=None):
    """Open I2C bus number ``bus`` (default: the header's bus) as a busio-compatible object."""
    bus = DEFAULT_BUS if bus is None else int(bus)
    path = "/dev/i2c-%d" % bus
    if not os.path.exists(path):
        raise HardwareError("no I2C bus %s: %s" % (path, _fix_hint(bus)))
    try:
        from adafruit_blinka.microcontroller.generic_linux.i2c import I2C as _LinuxI2C
    except ImportError:
        raise HardwareError("opening %s needs Adafruit Blinka: pip install adafruit-blinka" % path) from None

    class _BusioI2C(_LinuxI2C):
        """Blinka's Linux I2C plus the busio locking the Adafruit drivers call."""

        def __init__(self, number):
            super().__init__(number, mode=_LinuxI2C.MASTER)
            self.bus_number = number
            # re-entrant: the stop-signal handler writes neutral on the thread that may hold the bus
            self._lock = threading.RLock()

        def try_lock(self):
            return self._lock.acquire(blocking=False)

        def unlock(self):
            try:
                self._lock.release()
            except RuntimeError:  # not held by this thread
                pass

        def deinit(self):
            """Close /dev/i2c-N (the file descriptor would otherwise live as long as the process)."""
            bus = getattr(self, "_i2c_bus", None)
            if bus is not None and hasattr(bus, "close"):
                bus.close()

    try:
        return _BusioI2C(bus)
    except PermissionError:
        raise HardwareError("permission denied opening %s: %s" % (path, _fix_hint(bus))) from None
    except OSError as exc:
        raise HardwareError("cannot open %s (%s): %s" % (path, exc.strerror or exc, _fix_hint(bus))) from None


def resolve_bus(i2c=None, i2c_bus=None):
    """(bus object, name for messages) from a bus object (real or virtual), a bus number, or None
    (the header's bus). Every device wrapper takes its bus this way."""
    if i2c is None or isinstance(i2c, int):
        number = i2c if i2c is not None else i2c_bus
        return open_bus(number), str(DEFAULT_BUS if number is None else number)
    return i2c, str(getattr(i2c, "bus_number", "virtual"))


def probe(i2c, address, what="device", bus_name="1"):
    """Raise a one-line HardwareError when nothing answers at ``address`` on ``i2c``."""
    while not i2c.try_lock():
        pass
    try:
        try:
            i2c.writeto(address, b"")
            return
        except OSError:  # no answer, or a controller that refuses empty writes (i2c-tegra): read instead
            pass
        try:
            i2c.readfrom_into(address, bytearray(1))
        except OSError:
            raise HardwareError("no %s at 0x%02x on I2C bus %s: %s" % (
                what, address, bus_name, _fix_hint(int(bus_name) if str(bus_name).isdigit() else 1))) from None
    finally:
        i2c.unlock()
