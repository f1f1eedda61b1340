"""A virtual I2C bus with the ``busio.I2C`` API, for register-level twins of real chips.

The real Adafruit drivers take any object with ``try_lock``/``unlock``/``scan``/``writeto``/
``readfrom_into``/``writeto_then_readfrom``; this is one. Each transaction is handed to the twin
at the addressed slot, so a driver bug or a mapping bug shows up here exactly as it would on the
wire. An address with nobody there raises ``OSError(121, 'Remote I/O error')`` like Linux does.
"""

import errno
import threading

__all__ = ["VirtualI2C", "RegisterDevice", "DRIVER_LOCK"]

#: Held by jetracer's device wrappers around every call into an Adafruit driver. Some
#: ``adafruit_register`` releases share one module-wide scratch buffer between all devices, so two
#: threads driving two chips (car and OLED, say) could corrupt each other's transfers without it.
DRIVER_LOCK = threading.RLock()


def _view(buf, start, end):
    end = len(buf) if end is None else end
    return memoryview(buf)[start:end]


class VirtualI2C:
    """A bus that routes transactions to attached device twins by 7-bit address."""

    def __init__(self, frequency=400000):
        self.frequency = frequency
        self._devices = {}
        # re-entrant: a signal handler writing neutral runs on the thread that may hold the bus
        self._lock = threading.RLock()
        self.fail_writes = 0  #: fault injection: the next N writes raise EIO, as a loose wire does

    # -- wiring ---------------------------------------------------------------------------------
    def attach(self, device):
        """Put ``device`` (a twin with ``address``, ``write`` and ``read``) on the bus."""
        if device.address in self._devices:
            raise ValueError("address 0x%02x is already taken on this bus" % device.address)
        self._devices[device.address] = device
        return device

    def detach(self, address):
        """Pull a device off the bus (unplugged cable, dead chip)."""
        return self._devices.pop(address, None)

    def device(self, address):
        return self._devices[address]

    # -- busio.I2C API --------------------------------------------------------------------------
    def try_lock(self):
        return self._lock.acquire(blocking=False)

    def unlock(self):
        try:
            self._lock.release()
        except RuntimeError:  # not held by this thread: nothing to release
            pass

    def scan(self):
        return sorted(self._devices)

    def _target(self, address):
        dev = self._devices.get(address)
        if dev is None:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        return dev

    def writeto(self, address, buffer, *, start=0, end=None, stop=True):
        dev = self._target(address)
        if self.fail_writes > 0:
            self.fail_writes -= 1
            raise OSError(errno.EIO, "Input/output error")
        dev.write(bytes(_view(buffer, start, end)))

    def readfrom_into(self, address, buffer, *, start=0, end=None, stop=True):
        dev = self._target(address)
        out = _view(buffer, start, end)
        out[:] = dev.read(len(out))

    def writeto_then_readfrom(self, address, buffer_out, buffer_in, *, out_start=0, out_end=None,
                              in_start=0, in_end=None, stop=False):
        self.writeto(address, buffer_out, start=out_start, end=out_end)
        self.readfrom_into(address, buffer_in, start=in_start, end=in_end)

    def deinit(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.deinit()


class RegisterDevice:
    """Base for twins of chips with 8-bit register pointers (PCA9685, SSD1306, INA219 differ in
    width and auto-increment, so each overrides ``write``/``read`` as its datasheet says)."""

    def __init__(self, address):
        self.address = address
        self.pointer = 0

    def write(self, data):  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, count):  # pragma: no cover - abstract
        raise NotImplementedError
