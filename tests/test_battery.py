"""INA219 twin under the real adafruit_ina219 driver, and the battery monitor on top of it."""

import logging

import pytest
from adafruit_ina219 import INA219
from helpers import FakeClock

from jetracer.cli import main
from jetracer.errors import HardwareError
from jetracer.i2c import VirtualI2C
from jetracer.i2c.ina219 import INA219Twin
from jetracer.profile import load_profile
from jetracer.sim.devices import make_sim_bus
from jetracer.sim.pack import SimBattery, sim_battery_for
from jetracer.status.battery import BatteryMonitor, cell_percent, cell_voltage, configure_ina219


def ina_on_bus(shunt_ohms=0.1, cells=3):
    bus = VirtualI2C()
    twin = bus.attach(INA219Twin(0x41, shunt_ohms=shunt_ohms, cells=cells))
    return bus, twin


@pytest.mark.parametrize("shunt_ohms", [0.1, 0.05])
@pytest.mark.parametrize("volts,amps", [(12.3, 0.5), (11.1, 2.5), (7.4, -0.8), (16.8, 0.01)])
def test_driver_reads_what_the_twin_measures(shunt_ohms, volts, amps):
    bus, twin = ina_on_bus(shunt_ohms)
    ina = configure_ina219(INA219(bus, 0x41), shunt_ohms)
    twin.set_measurement(volts, amps)
    lsb_a = 0.04096 / (4096 * shunt_ohms)
    assert ina.bus_voltage == pytest.approx(volts, abs=0.004)
    assert ina.shunt_voltage == pytest.approx(amps * shunt_ohms, abs=1e-5)
    assert ina.current / 1000.0 == pytest.approx(amps, abs=lsb_a)
    assert ina.power == pytest.approx(volts * abs(amps), abs=20 * lsb_a * 2 + 0.002 * abs(amps))
    assert not ina.overflow


def test_driver_presets_scale_readings_through_the_calibration_register():
    bus, twin = ina_on_bus()
    ina = INA219(bus, 0x41)  # the driver's default: set_calibration_32V_2A
    twin.set_measurement(12.0, 1.5)
    assert twin.calibration == 4096 and twin.bus_range_v == 32.0 and twin.pga_limit_v == 0.32
    assert ina.current == pytest.approx(1500.0, abs=0.1)
    ina.set_calibration_16V_400mA()
    assert twin.bus_range_v == 16.0 and twin.pga_limit_v == 0.04
    twin.set_measurement(12.0, 0.3)
    assert ina.current == pytest.approx(300.0, abs=0.1)
    assert ina.power == pytest.approx(3.6, abs=0.01)
    twin.set_measurement(12.0, 0.6)  # beyond the 40 mV range: saturates and flags overflow
    assert ina.overflow and ina.current == pytest.approx(400.0, abs=0.1)


def test_reset_clears_calibration_and_conversion_ready_clears_on_power_read():
    bus, twin = ina_on_bus()
    ina = configure_ina219(INA219(bus, 0x41))
    twin.set_measurement(11.0, 1.0)
    assert ina.conversion_ready
    _ = ina.raw_power
    assert not ina.conversion_ready
    ina.reset = 1
    assert twin.regs[0] == 0x399F and twin.calibration == 0
    assert ina.raw_current == 0  # no calibration, no current (the driver's ``current`` rewrites it)
    assert ina.bus_voltage == pytest.approx(11.0, abs=0.004)


def monitor(bus, **kw):
    options = dict(address=0x41, cells=3, smoothing_s=0.0, internal_resistance_ohms=0.0, clock=FakeClock())
    options.update(kw)
    return BatteryMonitor(bus, **options)


@pytest.mark.parametrize("cells", [2, 3])
@pytest.mark.parametrize("per_cell,low,high", [(4.20, 99.5, 100), (3.84, 48, 52), (3.70, 10, 15),
                                                 (3.30, 0, 5), (3.95, 68, 72)])
def test_lipo_percent_at_known_voltages(cells, per_cell, low, high):
    bus, twin = ina_on_bus(cells=cells)
    twin.set_measurement(per_cell * cells, 0.0)
    mon = monitor(bus, cells=cells)
    assert low <= mon.percent <= high
    assert mon.voltage == pytest.approx(per_cell * cells, abs=0.004)


def test_liion_curve_differs_from_lipo_and_both_invert():
    assert cell_percent(3.7, "liion") == pytest.approx(40.0)
    assert cell_percent(3.7, "lipo") < 15
    for chem in ("lipo", "liion"):
        for pct in (0, 5, 37, 50, 88, 100):
            assert cell_percent(cell_voltage(pct, chem), chem) == pytest.approx(pct, abs=1e-6)
    bus, twin = ina_on_bus()
    twin.set_measurement(3 * 3.7, 0.0)
    assert monitor(bus, chemistry="liion").percent == pytest.approx(40.0, abs=0.5)


def test_sag_under_load_is_added_back():
    bus, twin = ina_on_bus()
    twin.set_measurement(3 * 3.84 - 2.0 * 0.1 - 2.0 * 0.15, 2.0)  # 2 A through a 0.15 ohm pack + 0.1 ohm shunt
    assert monitor(bus, internal_resistance_ohms=0.15).percent == pytest.approx(50.0, abs=1.0)
    assert monitor(bus, internal_resistance_ohms=0.0).percent < 30


def test_smoothing_rides_through_a_motor_spike():
    bus, twin = ina_on_bus()
    clock = FakeClock()
    twin.set_measurement(11.7, 0.5)
    smooth = monitor(bus, smoothing_s=5.0, clock=clock)
    raw = monitor(bus, smoothing_s=0.0, clock=clock)
    before = smooth.percent
    clock.t += 0.1
    twin.set_measurement(10.5, 3.0)  # a 100 ms launch spike
    smooth.update()
    raw.update()
    assert raw.state == "critical"  # what an unfiltered monitor would have done
    assert smooth.state == "ok" and before - smooth.percent < 3.0


def test_hysteresis_keeps_low_until_clearly_recovered(caplog):
    bus, twin = ina_on_bus()
    mon = monitor(bus, low_percent=20.0, critical_percent=8.0, hysteresis_percent=3.0)
    seen = []
    mon.observe(lambda change: seen.append(change["new"]), "state")

    def at(percent):
        twin.set_measurement(3 * cell_voltage(percent), 0.0)
        mon.update()
        return mon.state

    with caplog.at_level(logging.WARNING, logger="jetracer.status.battery"):
        assert at(50) == "ok"
        assert at(19) == "low"
        assert at(21.5) == "low"
        assert at(24) == "ok"
        assert at(7) == "critical"
        assert at(10) == "critical"  # the rebound once the motors stop does not clear it
        assert at(12) == "low"
    assert seen == ["low", "ok", "critical", "low"]
    assert any("battery low" in r.getMessage() for r in caplog.records)
    assert any("battery critical" in r.getMessage() for r in caplog.records)


def test_simulated_pack_discharges_through_low_then_critical():
    profile = load_profile("sim")  # 2S LiPo, INA219 at 0x41
    bus = make_sim_bus(profile, persistent=False)
    pack = sim_battery_for(bus, profile, percent=40.0)
    clock = FakeClock()
    mon = BatteryMonitor.from_profile(profile, i2c=bus, clock=clock)
    seen = []
    mon.observe(lambda change: seen.append((change["new"], round(pack.percent, 1))), "state")
    assert mon.state == "ok"
    for _ in range(200):
        clock.t += 5.0
        pack.advance(5.0, load_a=2.0)  # driving: 2.7 A with the electronics
        mon.update()
        if mon.state == "critical":
            break
    assert [s for s, _ in seen] == ["low", "critical"]
    (_, at_low), (_, at_critical) = seen
    assert 15.0 < at_low <= 22.0 and 4.0 < at_critical <= 10.0
    assert mon.voltage < 2 * 3.75


def test_sim_pack_can_jump_to_nearly_empty_for_quick_tests():
    profile = load_profile("sim")
    bus = make_sim_bus(profile, persistent=False)
    pack = sim_battery_for(bus, profile)
    clock = FakeClock()
    mon = BatteryMonitor.from_profile(profile, i2c=bus, clock=clock, smoothing_s=5.0)
    assert mon.state == "ok" and mon.percent > 99
    pack.percent = 3.0
    clock.t += 60.0  # several time constants: the filter has caught up
    assert mon.update() == "critical"


def test_missing_ina219_is_one_clear_line():
    bus = VirtualI2C()
    with pytest.raises(HardwareError) as info:
        BatteryMonitor(bus, address=0x41)
    message = str(info.value)
    assert "\n" not in message and "INA219" in message and "0x41" in message


def test_read_failure_keeps_last_values_and_the_thread_survives():
    bus, twin = ina_on_bus()
    pack = SimBattery(twin, cells=3, percent=60.0)
    mon = monitor(bus, period_s=0.01)
    volts = mon.voltage
    bus.detach(0x41)
    with pytest.raises(HardwareError):
        mon.update()
    assert mon.error and mon.voltage == volts
    mon.start()
    mon.stop()
    bus.attach(twin)
    pack.percent = 55.0
    mon.update()
    assert mon.error == "" and mon.voltage < volts


def test_battery_command_prints_a_reading(capsys):
    assert main(["battery", "--profile", "sim", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "V" in out and "%" in out and "ok" in out and "0x41" in out
    assert main(["battery", "--profile", "sim", "--sim", "--watch", "--interval", "0.01", "--count", "2"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_battery_command_without_a_chip_exits_3(capsys, tmp_path):
    profile = tmp_path / "nobattery.toml"
    profile.write_text('[car]\nname = "x"\n[camera]\ntype = "sim"\n')
    assert main(["battery", "--profile", str(profile), "--sim"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "[battery] enabled = true" in err and len(err.strip().splitlines()) == 1
