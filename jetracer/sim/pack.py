"""A simulated battery pack: charge drains with the current drawn, and the INA219 twin sees it.

The pack's rested voltage follows the same per-cell curve the monitor inverts
(:data:`jetracer.status.battery.CURVES`), sags by ``current x internal_resistance`` under load, and the
twin is fed the voltage after the shunt (what its bus pin sees), so the real driver and the
monitor on top of it work exactly as on the car. Time comes from ``advance(dt)`` (the simulator's
step, or a test's fake clock), never from the wall clock.
"""

from ..status.battery import cell_voltage

__all__ = ["SimBattery", "sim_battery_for"]


class SimBattery:
    """A ``cells``-cell pack of ``capacity_mah`` driving ``twin`` (an :class:`INA219Twin`).

    ``idle_current_a`` is what the Jetson and electronics draw with the car still (about 7 W from
    a 2S/3S pack); ``load`` is an optional callable returning the extra amps drawn now (the
    simulator passes one based on throttle).
    """

    def __init__(self, twin, cells=3, chemistry="lipo", capacity_mah=2200.0, percent=100.0,
                 internal_resistance_ohms=0.05, idle_current_a=0.7, load=None):
        self.twin = twin
        self.cells = int(cells)
        self.chemistry = chemistry
        self.capacity_mah = float(capacity_mah)
        self.internal_resistance_ohms = float(internal_resistance_ohms)
        self.idle_current_a = float(idle_current_a)
        self.load = load
        self.current_a = self.idle_current_a
        self.used_mah = 0.0
        self.percent = percent  # property: sets used_mah and writes the twin

    @property
    def percent(self):
        """State of charge, 0-100."""
        return max(0.0, 100.0 * (1.0 - self.used_mah / self.capacity_mah))

    @percent.setter
    def percent(self, value):
        """Jump to a state of charge (a test that wants a nearly flat pack now)."""
        value = min(100.0, max(0.0, float(value)))
        self.used_mah = self.capacity_mah * (1.0 - value / 100.0)
        self._publish()

    @property
    def rested_voltage(self):
        return self.cells * cell_voltage(self.percent, self.chemistry)

    @property
    def terminal_voltage(self):
        """Voltage at the pack's leads now, sagging with the current drawn."""
        return self.rested_voltage - self.current_a * self.internal_resistance_ohms

    def advance(self, dt, load_a=None):
        """Run for ``dt`` seconds drawing the idle current plus ``load_a`` (or ``load()``) amps."""
        extra = load_a if load_a is not None else (self.load() if self.load is not None else 0.0)
        self.current_a = self.idle_current_a + float(extra)
        self.used_mah += self.current_a * float(dt) * 1000.0 / 3600.0
        self.used_mah = min(self.used_mah, self.capacity_mah)
        self._publish()

    def _publish(self):
        shunt_drop = self.current_a * self.twin.shunt_ohms
        self.twin.set_measurement(self.terminal_voltage - shunt_drop, self.current_a)


def sim_battery_for(bus, profile, **overrides):
    """The pack behind the INA219 twin that ``make_sim_bus(profile)`` attached, set up from the
    profile's ``[battery]`` (cells, chemistry, resistance) and ``[sim] battery_mah``."""
    b = profile.battery
    kwargs = dict(cells=b["cells"], chemistry=b["chemistry"], capacity_mah=profile.sim["battery_mah"],
                  internal_resistance_ohms=b["internal_resistance_ohms"])
    kwargs.update(overrides)
    return SimBattery(bus.device(b["i2c_address"]), **kwargs)
