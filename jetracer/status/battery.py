"""Battery monitor: pack voltage and current from an INA219, state of charge, low/critical state.

A LiPo run flat is ruined, and a sagging pack browns out the Jetson mid-drive; neither JetRacer
nor JetBot watches the battery. Here the real ``adafruit_ina219`` driver reads the chip (on the
car, or its twin in the simulator) and :class:`BatteryMonitor` turns readings into a ``percent``
and a ``state`` ("ok", "low", "critical") that the pilot and the OLED watch.

Why the numbers are what they are:

* percent comes from a rested open-circuit-voltage curve per cell (:data:`CURVES`), not a straight
  line: a LiPo spends most of its charge between 3.75 and 3.95 V/cell;
* under load the terminal voltage sags by I x R; adding back ``current x internal_resistance``
  estimates the rested voltage, so throttle doesn't read as an empty pack;
* a first-order filter (time constant ``smoothing_s``) over voltage and current keeps motor spikes
  from flapping the state, and leaving ``low``/``critical`` needs ``hysteresis_percent`` more than
  entering it, so the rebound after the car stops doesn't clear a critical pack.
"""

import bisect
import logging
import math
import time

import traitlets

from ..errors import HardwareError
from ..i2c import DRIVER_LOCK, probe, resolve_bus
from ..profile import BATTERY_MAX_CELLS, defaults

__all__ = ["CURVES", "cell_percent", "cell_voltage", "configure_ina219", "BatteryMonitor"]

log = logging.getLogger(__name__)

#: Rested open-circuit voltage per cell -> state of charge (%), rising. LiPo: the usual RC-pack
#: chart (3.84 V is half full, 3.7 V about 12 %). Li-ion: NMC 18650 cells (Waveshare's kit uses
#: three), flatter at the top and with more charge left below 3.7 V.
CURVES = {
    "lipo": ((3.27, 0.0), (3.61, 5.0), (3.69, 10.0), (3.71, 15.0), (3.73, 20.0), (3.75, 25.0),
             (3.77, 30.0), (3.79, 35.0), (3.80, 40.0), (3.82, 45.0), (3.84, 50.0), (3.85, 55.0),
             (3.87, 60.0), (3.91, 65.0), (3.95, 70.0), (3.98, 75.0), (4.02, 80.0), (4.08, 85.0),
             (4.11, 90.0), (4.15, 95.0), (4.20, 100.0)),
    "liion": ((3.00, 0.0), (3.20, 2.0), (3.30, 4.0), (3.40, 7.0), (3.50, 14.0), (3.60, 26.0),
              (3.70, 40.0), (3.80, 54.0), (3.90, 67.0), (4.00, 79.0), (4.10, 90.0), (4.20, 100.0)),
}

STATES = ("ok", "low", "critical")


def _curve(chemistry):
    try:
        return CURVES[chemistry]
    except KeyError:
        raise ValueError("unknown battery chemistry %r (known: %s)" % (chemistry, ", ".join(CURVES))) from None


def _interp(x, xs, ys):
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    i = bisect.bisect_right(xs, x)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def cell_percent(volts_per_cell, chemistry="lipo"):
    """State of charge (0-100) of a rested cell at ``volts_per_cell``."""
    curve = _curve(chemistry)
    return _interp(volts_per_cell, [v for v, _ in curve], [p for _, p in curve])


def cell_voltage(percent, chemistry="lipo"):
    """Rested cell voltage at ``percent`` state of charge (the inverse of :func:`cell_percent`)."""
    curve = _curve(chemistry)
    return _interp(percent, [p for _, p in curve], [v for v, _ in curve])


def configure_ina219(ina, shunt_ohms=0.1):
    """Program ``ina`` (an ``adafruit_ina219.INA219``) for a car's battery.

    32 V bus range (a 3S pack is 12.6 V full, 4S 16.8 V), PGA /8 (+-320 mV across the shunt), and
    calibration 4096 so one current count equals one shunt count: with the usual 0.1 ohm shunt
    that is 0.1 mA per bit, +-3.2 A full scale, 2 mW per power bit (the driver's 32V_2A preset
    has the same numbers but assumes 0.1 ohm; this scales with ``shunt_ohms``). Both ADCs average
    32 samples (17 ms), which smooths the motor's PWM ripple in the chip itself.
    """
    from adafruit_ina219 import ADCResolution, BusVoltageRange, Gain, Mode

    current_lsb_a = 0.04096 / (4096 * float(shunt_ohms))
    ina.bus_voltage_range = BusVoltageRange.RANGE_32V
    ina.gain = Gain.DIV_8_320MV
    ina.bus_adc_resolution = ADCResolution.ADCRES_12BIT_32S
    ina.shunt_adc_resolution = ADCResolution.ADCRES_12BIT_32S
    ina.calibration = 4096
    # the driver keeps its scale factors in these two attributes (mA and W per bit), which its
    # own presets set the same way; ``current`` and ``power`` multiply by them
    ina._current_lsb = current_lsb_a * 1000.0
    ina._power_lsb = current_lsb_a * 20.0
    ina.mode = Mode.SANDBVOLT_CONTINUOUS
    return ina


#: the profile schema's [battery] defaults: a monitor built without a profile is the default profile's
_BATTERY = defaults("battery")


class BatteryMonitor(traitlets.HasTraits):
    """Reads an INA219 and keeps ``voltage``, ``current``, ``power``, ``percent`` and ``state``.

    ``update()`` takes one reading (tests drive it with an injected ``clock``); ``start()`` runs
    it every ``period_s`` in a thread. ``state`` goes "ok" -> "low" (warning) -> "critical" (the
    pilot stops the car). A missing chip is a one-line :class:`HardwareError` at construction;
    a read that fails later sets ``error`` and keeps the last values.
    """

    voltage = traitlets.Float(0.0, help="pack voltage (V), smoothed")
    current = traitlets.Float(0.0, help="discharge current (A), smoothed; negative while charging")
    power = traitlets.Float(0.0, help="power drawn from the pack (W), smoothed")
    percent = traitlets.Float(0.0, help="estimated state of charge (0-100)")
    state = traitlets.Enum(STATES, default_value="ok")
    error = traitlets.Unicode("", help="last read error, empty when the last read worked")

    def __init__(self, i2c=None, address=_BATTERY["i2c_address"], cells=_BATTERY["cells"],
                 chemistry=_BATTERY["chemistry"], shunt_ohms=_BATTERY["shunt_ohms"],
                 low_percent=_BATTERY["low_percent"], critical_percent=_BATTERY["critical_percent"],
                 smoothing_s=_BATTERY["smoothing_s"], hysteresis_percent=_BATTERY["hysteresis_percent"],
                 internal_resistance_ohms=_BATTERY["internal_resistance_ohms"], period_s=_BATTERY["period_s"],
                 clock=time.monotonic, i2c_bus=None):
        super().__init__()
        _curve(chemistry)
        if not 1 <= int(cells) <= BATTERY_MAX_CELLS:
            raise ValueError("cells must be 1-%d (the INA219 reads at most 26 V), got %r" % (BATTERY_MAX_CELLS, cells))
        if not 0 <= critical_percent <= low_percent <= 100:
            raise ValueError("need 0 <= critical_percent <= low_percent <= 100")
        self.address = address
        self.cells = int(cells)
        self.chemistry = chemistry
        self.shunt_ohms = float(shunt_ohms)
        self.low_percent = float(low_percent)
        self.critical_percent = float(critical_percent)
        self.smoothing_s = float(smoothing_s)
        self.hysteresis_percent = float(hysteresis_percent)
        self.internal_resistance_ohms = float(internal_resistance_ohms)
        self.period_s = float(period_s)
        self.clock = clock
        self.last_reading = None  #: the newest raw reading: dict(voltage, current, power, overflow, time)
        self._last_time = None
        self._warned = set()
        self.closed = False
        self._worker = None  # the reading thread's Periodic, made on the first start()
        self._i2c, self.bus_name = resolve_bus(i2c, i2c_bus)
        probe(self._i2c, address, "INA219 battery monitor", self.bus_name)
        self._ina = self._make_driver()
        self.update()

    @classmethod
    def from_profile(cls, profile, i2c=None, **overrides):
        """The monitor a profile's ``[battery]`` section describes, on ``i2c`` or the car's bus."""
        b = profile.battery
        kwargs = dict(address=b["i2c_address"], cells=b["cells"], chemistry=b["chemistry"],
                      shunt_ohms=b["shunt_ohms"], low_percent=b["low_percent"],
                      critical_percent=b["critical_percent"], smoothing_s=b["smoothing_s"],
                      hysteresis_percent=b["hysteresis_percent"],
                      internal_resistance_ohms=b["internal_resistance_ohms"], period_s=b["period_s"],
                      i2c_bus=profile.car["i2c_bus"])
        kwargs.update(overrides)
        return cls(i2c=i2c if i2c is not None else profile.car["i2c_bus"], **kwargs)

    def _make_driver(self):
        from adafruit_ina219 import INA219

        try:
            with DRIVER_LOCK:
                return configure_ina219(INA219(self._i2c, self.address), self.shunt_ohms)
        except (OSError, ValueError) as exc:
            raise HardwareError("INA219 battery monitor at 0x%02x on I2C bus %s failed to set up (%s): check the "
                                "wiring and the [battery] i2c_address in the profile" % (
                                    self.address, self.bus_name, exc)) from None

    # -- one reading -----------------------------------------------------------------------------
    def read_raw(self):
        """One reading from the chip: pack voltage (bus + shunt: the shunt sits between the pack
        and the load), current in A, power in W and the overflow flag."""
        with DRIVER_LOCK:
            bus_v = self._ina.bus_voltage
            shunt_v = self._ina.shunt_voltage
            current_a = self._ina.current / 1000.0
            power_w = self._ina.power
            overflow = bool(self._ina.overflow)
        return {"voltage": bus_v + shunt_v, "current": current_a, "power": power_w, "overflow": overflow}

    def update(self, now=None):
        """Take one reading and update the traits; returns ``state``. A failed read raises a
        one-line :class:`HardwareError` and leaves the last values in place."""
        now = self.clock() if now is None else now
        try:
            raw = self.read_raw()
        except Exception as exc:  # noqa: BLE001 - OSError usually; a bus library may raise its own types
            self.error = "battery read failed at 0x%02x on I2C bus %s: %s" % (self.address, self.bus_name, exc)
            raise HardwareError(self.error + ": check the wiring") from None
        raw["time"] = now
        self.last_reading = raw
        self._check_plausible(raw)
        if self._last_time is None or self.smoothing_s <= 0:
            alpha = 1.0
        else:
            alpha = 1.0 - math.exp(-max(0.0, now - self._last_time) / self.smoothing_s)
        self._last_time = now
        first = alpha >= 1.0
        voltage = raw["voltage"] if first else self.voltage + alpha * (raw["voltage"] - self.voltage)
        current = raw["current"] if first else self.current + alpha * (raw["current"] - self.current)
        rested = voltage + current * self.internal_resistance_ohms
        percent = cell_percent(rested / self.cells, self.chemistry)
        with self.hold_trait_notifications():
            self.voltage = voltage
            self.current = current
            self.power = voltage * current
            self.percent = percent
            self.error = ""
        self._set_state(self._next_state(percent))
        return self.state

    def _next_state(self, percent):
        """Down at once, back up only past the threshold plus the hysteresis."""
        level = "critical" if percent < self.critical_percent else "low" if percent < self.low_percent else "ok"
        current = self.state
        if STATES.index(level) >= STATES.index(current):
            return level
        h = self.hysteresis_percent
        if current == "critical" and percent < self.critical_percent + h:
            return "critical"
        if percent < self.low_percent + h:
            return "low"
        return "ok"

    def _set_state(self, state):
        if state == self.state:
            return
        if state == "critical":
            log.error("battery critical: %s; stop driving and charge it", self.describe())
        elif state == "low":
            log.warning("battery low: %s", self.describe())
        else:
            log.info("battery ok again: %s", self.describe())
        self.state = state

    def _check_plausible(self, raw):
        per_cell = raw["voltage"] / self.cells
        if per_cell > 4.35 and "high" not in self._warned:
            self._warned.add("high")
            log.warning("battery reads %.2f V = %.2f V per cell: is [battery] cells = %d right?",
                        raw["voltage"], per_cell, self.cells)
        if raw["overflow"] and "overflow" not in self._warned:
            self._warned.add("overflow")
            log.warning("INA219 at 0x%02x overflowed (current beyond %.1f A): current and power read low",
                        self.address, 0.32 / self.shunt_ohms)

    def describe(self):
        """One line for logs and ``jetracer battery``."""
        return "%.2f V  %+.2f A  %.1f W  %3.0f %%  %s (%dS %s)" % (
            self.voltage, self.current, self.power, self.percent, self.state, self.cells,
            "LiPo" if self.chemistry == "lipo" else "Li-ion")

    # -- background thread -----------------------------------------------------------------------
    def start(self):
        """Read every ``period_s`` in a daemon thread until :meth:`stop` (a no-op while it runs)."""
        if self.closed:
            raise RuntimeError("the battery monitor at 0x%02x is closed" % self.address)
        if self._worker is None:
            from ..util.periodic import Periodic

            self._worker = Periodic("battery-monitor", self.update, lambda: self.period_s,
                                    what="battery monitor at 0x%02x" % self.address, expected=(HardwareError,),
                                    join_timeout_s=max(2.0, 2 * self.period_s), logger=log)
        self._worker.start()
        return self

    def stop(self):
        """Stop the reading thread (it can be started again)."""
        if self._worker is not None:
            self._worker.stop()

    def close(self):
        """Stop reading for good (safe to call twice); the last values stay readable."""
        self.stop()
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
