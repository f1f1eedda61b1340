"""One lifecycle: the battery monitor, the status display, the simulated world and the notebook
heartbeat run their background work on the periodic worker, and ``close()`` means the same for
each (stop first, then release; safe twice; a closed part does not start again)."""

import logging
import threading

import pytest
from helpers import wait_until

from jetracer.i2c import VirtualI2C
from jetracer.i2c.ina219 import INA219Twin
from jetracer.i2c.ssd1306 import SSD1306Twin
from jetracer.sim.pack import SimBattery
from jetracer.sim.world import SimWorld
from jetracer.status.battery import BatteryMonitor
from jetracer.status.display import StatusDisplay


def threads_named(name):
    return [t for t in threading.enumerate() if t.name == name]


class _Info:
    def snapshot(self):
        return {"ips": [("wlan0", "10.0.0.2")], "cpu": 1.0, "gpu": 2.0, "memory": (1, 4), "temperature": 40.0}


def test_battery_thread_logs_an_unplugged_chip_once_and_notices_its_return(caplog):
    bus = VirtualI2C()
    twin = bus.attach(INA219Twin(0x41, cells=3))
    pack = SimBattery(twin, cells=3, percent=60.0)
    mon = BatteryMonitor(bus, address=0x41, cells=3, smoothing_s=0.0, internal_resistance_ohms=0.0, period_s=0.005)
    volts = mon.voltage
    with caplog.at_level(logging.INFO, logger="jetracer.status.battery"):
        mon.start()
        assert threads_named("battery-monitor")
        bus.detach(0x41)
        wait_until(lambda: mon.error != "")
        wait_until(lambda: mon._worker.failures >= 5)  # noqa: SLF001 - it kept trying
        bus.attach(twin)
        pack.percent = 40.0
        wait_until(lambda: mon.error == "" and mon.voltage < volts)  # the thread read the new pack
        mon.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "0x41" in warnings[0].getMessage() and "\n" not in warnings[0].getMessage()
    assert any("works again" in r.getMessage() for r in caplog.records)
    assert not threads_named("battery-monitor")
    mon.close()  # safe twice
    with pytest.raises(RuntimeError):
        mon.start()  # closed means closed


def test_display_close_leaves_its_message_and_a_second_close_keeps_it():
    bus = VirtualI2C()
    twin = bus.attach(SSD1306Twin(0x3C, width=128, height=32))
    display = StatusDisplay(bus, sysinfo=_Info(), refresh_s=0.005)
    display.start()
    assert threads_named("status-display")
    wait_until(lambda: display.frames_shown >= 2)
    display.close(message="jetracer display off")
    assert not threads_named("status-display")
    message = twin.to_image().tobytes()
    shown = display.frames_shown
    display.close()  # e.g. the rig closing what the command already closed
    assert twin.to_image().getbbox() is not None and twin.to_image().tobytes() == message
    assert display.frames_shown == shown
    with pytest.raises(RuntimeError):
        display.start()


def test_display_run_in_the_foreground_refreshes_until_the_event():
    bus = VirtualI2C()
    bus.attach(SSD1306Twin(0x3C, width=128, height=32))
    display = StatusDisplay(bus, sysinfo=_Info(), refresh_s=0.005)
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    display.run(stop)
    assert display.frames_shown >= 2


def test_world_physics_thread_survives_a_failing_step_and_close_is_final(caplog):
    world = SimWorld("sim", track="oval")
    real_step, failures = world.vehicle.step, []

    def flaky(*args):
        if len(failures) < 3:
            failures.append(1)
            raise FloatingPointError("a bad step")
        return real_step(*args)

    world.vehicle.step = flaky
    with caplog.at_level(logging.WARNING, logger="jetracer.sim.world"):
        world.start_realtime(rate_hz=500.0)
        assert threads_named("SimWorld-physics")
        wait_until(lambda: world.steps >= 3)  # the steps after the failures ran
        assert world.realtime_running
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(errors) == 1 and "a bad step" in errors[0].getMessage()
    world.close()
    assert not world.realtime_running and not threads_named("SimWorld-physics")
    world.close()  # safe twice
    with pytest.raises(RuntimeError):
        world.start_realtime()


def test_heartbeat_closed_by_its_own_lapse_neither_hangs_nor_closes_twice(caplog):
    pytest.importorskip("ipywidgets")
    from jetracer.notebook import Heartbeat

    lapsed = threading.Event()
    box = {}

    def on_lapse(reason):
        box["hb"].close()  # the session's stop closes the heartbeat from the heartbeat's thread
        lapsed.set()

    box["hb"] = hb = Heartbeat(on_lapse, timeout_s=0.01, first_beat_s=0.01, period_s=0.005)
    assert lapsed.wait(5.0)
    wait_until(lambda: not threads_named("notebook-heartbeat"))
    assert hb.closed and hb.lapses == 1
    hb.close()
    with pytest.raises(RuntimeError):
        hb.start()


def test_heartbeat_check_failures_are_logged_once(caplog):
    pytest.importorskip("ipywidgets")
    from jetracer.notebook import Heartbeat

    calls = []

    def on_lapse(reason):
        calls.append(reason)
        raise OSError("comm closed")

    hb = Heartbeat(on_lapse, timeout_s=0.01, first_beat_s=0.01, period_s=0.005, start_timer=False)
    hb.check = lambda: on_lapse("again")  # every tick fails
    with caplog.at_level(logging.DEBUG, logger="jetracer.notebook.safety"):
        hb.start()
        wait_until(lambda: len(calls) >= 5)
        hb.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "comm closed" in errors[0].getMessage()
