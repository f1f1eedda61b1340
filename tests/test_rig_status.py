"""The small commands' rig: the chips' bus without a world (stop, calibrate, battery, display),
the status display as a rig part, a battery monitor that may be missing, and the simulated pack
that drains while the battery and display commands watch it."""

import logging
import os
import signal
import threading

import pytest

from jetracer.errors import HardwareError
from jetracer.profile import load_profile
from jetracer.rig import Rig

NEUTRAL_US = 1500.0


def bare_profile(tmp_path):
    """A simulated car whose profile has the battery monitor and the display off."""
    path = tmp_path / "bare.toml"
    path.write_text('[car]\nname = "bare"\n[camera]\ntype = "sim"\n')
    return load_profile(str(path), sim=True)


def test_the_display_is_a_rig_part_with_its_twin_fitted_when_the_profile_has_it_off(tmp_path):
    rig = Rig(bare_profile(tmp_path), world=False, car=False, camera=False, display=True)
    twin = rig.bus.device(0x3C)
    assert rig.display.refresh() and twin.lit and twin.to_image().getbbox() is not None
    assert rig.battery is None and rig.display.battery is None
    rig.close()
    assert rig.display.closed and twin.to_image().getbbox() is None  # closed: the screen blanked
    rig.close()


def test_a_missing_battery_chip_is_a_warning_only_where_it_is_optional(tmp_path, caplog):
    profile = bare_profile(tmp_path)
    with pytest.raises(HardwareError) as info:
        Rig(profile, world=False, camera=False, battery=True)
    assert "INA219" in str(info.value)
    with caplog.at_level(logging.WARNING, logger="jetracer.rig"):
        rig = Rig(profile, world=False, camera=False, battery=True, display=True, optional=("battery",))
    with rig:
        assert rig.battery is None and rig.display is not None and rig.car is not None
        assert any("without battery readings" in r.getMessage() for r in caplog.records)
        assert rig.read_battery() is None


def test_read_battery_drains_the_simulated_pack_for_the_time_that_passed():
    rig = Rig(load_profile("sim", sim=True), world=False, car=False, camera=False, battery=True,
              persistent_bus=False)
    with rig:
        start = rig.battery.percent
        t0 = rig.battery.clock()
        rig.read_battery(now=t0 + 1.0)
        assert rig.battery.percent == pytest.approx(start, abs=0.5)
        rig.read_battery(now=t0 + 3600.0)  # an hour at the Jetson's idle draw
        assert rig.battery.percent < start - 15
        assert rig.pack.percent < 80


def test_the_car_only_rig_of_stop_and_calibrate_writes_neutral_and_builds_no_monitor():
    with Rig(load_profile("sim", sim=True), world=False, camera=False, battery=False) as rig:
        assert rig.world is None and rig.battery is None and rig.camera is None and rig.pack is None
        pulses = rig.car.pulse_widths_us()
        assert all(abs(v - NEUTRAL_US) < 30 for v in pulses.values())


def test_display_command_refreshes_until_sigterm_and_leaves_its_goodbye(tmp_path):
    from jetracer.commands.display import _show_until_stopped

    rig = Rig(load_profile("sim", sim=True), world=False, car=False, camera=False, persistent_bus=False,
              display=True)
    rig.display.refresh_s = 0.01
    twin = rig.bus.device(0x3C)
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    timer.start()
    try:
        _show_until_stopped(rig)  # returns on SIGTERM, like the systemd unit's stop
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) == previous  # the command's handler is gone again
    assert rig.display.frames_shown >= 3 and rig.display.closed
    goodbye = twin.to_image()
    rig.close()
    assert twin.to_image().tobytes() == goodbye.tobytes() and goodbye.getbbox() is not None
    assert rig.battery.closed


def test_display_once_leaves_its_frame_on_the_oled_after_the_rig_closes():
    import argparse

    from jetracer.commands.display import _show_once

    rig = Rig(load_profile("sim", sim=True), world=False, car=False, camera=False, persistent_bus=False,
              display=True)
    twin = rig.bus.device(0x3C)
    with rig:
        assert _show_once(rig, argparse.Namespace(snapshot=None, scale=1)) == 0
        frame = twin.to_image().tobytes()
    assert twin.lit and twin.to_image().getbbox() is not None and twin.to_image().tobytes() == frame
