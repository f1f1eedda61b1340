"""Register-level twin of the TI INA219 current/power monitor.

Modelled on the datasheet (SBOS448G): six 16-bit big-endian registers behind a pointer byte
(a write of 1 byte sets the pointer, 3 bytes set the pointer and write a register; reads return
the register at the pointer, no auto-increment). The simulator programs what the pins see with
:meth:`set_measurement` (bus voltage V- to GND, current through the shunt); the chip turns that
into register values the way the datasheet's equations do:

* shunt voltage: 10 uV LSB, saturating at the PGA range (40/80/160/320 mV);
* bus voltage: bits 15-3 at 4 mV LSB, bit 1 CNVR (conversion ready, cleared by reading POWER or
  writing CONFIG), bit 0 OVF (current or power out of range);
* current = shunt register x calibration / 4096; power = current x bus register / 5000;
  both read 0 while calibration is 0 (after power-on or a reset).
"""

import struct

from .bus import RegisterDevice

__all__ = ["INA219Twin"]

CONFIG, SHUNT_VOLTAGE, BUS_VOLTAGE, POWER, CURRENT, CALIBRATION = range(6)
CONFIG_RESET_VALUE = 0x399F  # 32 V range, /8 gain, 12-bit, continuous shunt and bus
_PGA_LIMIT_V = (0.04, 0.08, 0.16, 0.32)


def _clip(value, low, high):
    return low if value < low else high if value > high else value


class INA219Twin(RegisterDevice):
    """An INA219 at ``address`` measuring across a ``shunt_ohms`` resistor.

    ``cells`` is only a hint for the initial measurement (a rested, full-ish pack of that many
    cells), so a freshly built simulated car reads a sensible voltage before anything drives it.
    """

    def __init__(self, address=0x41, shunt_ohms=0.1, cells=3):
        super().__init__(address)
        self.shunt_ohms = float(shunt_ohms)
        self.cells = int(cells)
        self.bus_voltage_v = 4.0 * self.cells
        self.current_a = 0.0
        self.writes = 0
        self.regs = [0] * 6
        self.power_on_reset()

    def power_on_reset(self):
        self.regs = [CONFIG_RESET_VALUE, 0, 0, 0, 0, 0]
        self.pointer = 0
        self._convert()

    # -- what the simulator sets ----------------------------------------------------------------
    def set_measurement(self, bus_voltage_v, current_a):
        """What the pins see: ``bus_voltage_v`` from V- to ground and ``current_a`` through the
        shunt (positive from V+ to V-, i.e. the pack discharging into the load)."""
        self.bus_voltage_v = float(bus_voltage_v)
        self.current_a = float(current_a)
        if self._continuous:
            self._convert()

    # -- bus side --------------------------------------------------------------------------------
    def write(self, data):
        if not data:
            return  # address probe
        self.writes += 1
        self.pointer = data[0] if data[0] < 6 else self.pointer
        if len(data) >= 3 and data[0] < 6:
            self._store(data[0], (data[1] << 8) | data[2])

    def read(self, count):
        value = self.regs[self.pointer]
        if self.pointer == POWER:
            self.regs[BUS_VOLTAGE] &= ~0x0002  # reading POWER clears CNVR
        out = struct.pack(">H", value & 0xFFFF)
        return (out * ((count + 1) // 2))[:count]

    def _store(self, reg, value):
        if reg == CONFIG:
            if value & 0x8000:  # RST: all registers to their defaults, bit self-clears
                self.power_on_reset()
                return
            self.regs[CONFIG] = value & 0x3FFF
            self.regs[BUS_VOLTAGE] &= ~0x0002
            if self.mode in (1, 2, 3, 5, 6, 7):  # triggered or continuous: a conversion runs
                self._convert()
        elif reg == CALIBRATION:
            self.regs[CALIBRATION] = value & 0xFFFE  # FS0 is void and always reads 0
            if self._continuous:
                self._convert()
        # SHUNT_VOLTAGE, BUS_VOLTAGE, POWER, CURRENT are read-only: writes are ignored

    # -- configuration fields ---------------------------------------------------------------------
    @property
    def mode(self):
        return self.regs[CONFIG] & 0x7

    @property
    def _continuous(self):
        return self.mode in (5, 6, 7)

    @property
    def pga_limit_v(self):
        return _PGA_LIMIT_V[(self.regs[CONFIG] >> 11) & 0x3]

    @property
    def bus_range_v(self):
        return 32.0 if self.regs[CONFIG] & 0x2000 else 16.0

    @property
    def calibration(self):
        return self.regs[CALIBRATION]

    # -- the conversion ---------------------------------------------------------------------------
    def _convert(self):
        mode = self.mode
        overflow = False
        if mode in (1, 3, 5, 7):  # shunt voltage measured
            shunt_v = self.current_a * self.shunt_ohms
            limit = self.pga_limit_v
            if abs(shunt_v) > limit:
                overflow = True
                shunt_v = _clip(shunt_v, -limit, limit)
            self.regs[SHUNT_VOLTAGE] = int(round(shunt_v / 1e-5)) & 0xFFFF
        if mode in (2, 3, 6, 7):  # bus voltage measured
            bus_v = _clip(self.bus_voltage_v, 0.0, self.bus_range_v)
            self.regs[BUS_VOLTAGE] = (min(int(round(bus_v / 0.004)), 0x1FFF) << 3)
        shunt_raw = _signed(self.regs[SHUNT_VOLTAGE])
        bus_raw = self.regs[BUS_VOLTAGE] >> 3
        cal = self.regs[CALIBRATION]
        current_raw = (shunt_raw * cal) // 4096 if shunt_raw >= 0 else -((-shunt_raw * cal) // 4096)
        if not -32768 <= current_raw <= 32767:
            overflow = True
            current_raw = _clip(current_raw, -32768, 32767)
        power_raw = abs(current_raw) * bus_raw // 5000
        if power_raw > 0xFFFF:
            overflow = True
            power_raw = 0xFFFF
        self.regs[CURRENT] = current_raw & 0xFFFF
        self.regs[POWER] = power_raw
        self.regs[BUS_VOLTAGE] = (self.regs[BUS_VOLTAGE] & ~0x0003) | 0x0002 | (1 if overflow else 0)

    # -- readings as a scope would see them -------------------------------------------------------
    @property
    def conversion_ready(self):
        return bool(self.regs[BUS_VOLTAGE] & 0x2)

    @property
    def overflow(self):
        return bool(self.regs[BUS_VOLTAGE] & 0x1)


def _signed(value):
    return value - 0x10000 if value & 0x8000 else value
