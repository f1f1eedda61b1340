"""The pilot acts on the newest frame and ends every fault with neutral throttle on the chip."""

import math

import numpy as np
import pytest
from helpers import FakeClock, run_captured

from jetracer import NvidiaRacecar
from jetracer.camera.base import Camera
from jetracer.drive.control import ControlLaw
from jetracer.drive.pilot import Pilot


class ScriptedCamera(Camera):
    """A camera over a fixed number of synthetic frames; after them it delivers nothing."""

    def __init__(self, clock, frames=10, **kw):
        super().__init__(clock=clock, stale_limit_s=0.2, first_frame_timeout_s=0.05, **kw)
        self.remaining = frames

    def _open(self):
        pass

    def _grab(self):
        if self.remaining <= 0:
            self.clock.t += 0.1  # time passes while nothing arrives
            return None
        self.remaining -= 1
        return np.full((224, 224, 3), 128, np.uint8)


class ConstantEngine:
    """Stands in for a network: always predicts the same target point."""

    def __init__(self, x, y=0.0):
        self.x, self.y = x, y
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        if isinstance(self.x, Exception):
            raise self.x
        return self.x, self.y


NEUTRAL = 1500.0


def neutral(pca):
    return abs(pca.pulse_us(1) - NEUTRAL) <= pca.tick_us


def make_pilot(bus, engine, frames=10, mode="auto", **kw):
    clock = FakeClock(0.0)
    car = NvidiaRacecar(i2c=bus)
    camera = ScriptedCamera(clock, frames=frames)
    pilot = Pilot(car, camera, engine=engine, clock=clock, mode=mode, throttle=0.3, stale_frame_s=0.2, **kw)
    return pilot, clock


def advance(clock, dt=1 / 30):
    def step():
        clock.t += dt
    return step


def test_auto_mode_drives_from_the_model(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.5), frames=5)
    seen = []

    def stop_after_3():
        seen.append((pca.pulse_us(0), pca.pulse_us(1)))
        return "laps" if pilot.frames >= 3 else None

    assert pilot.run(should_stop=stop_after_3, before_frame=advance(clock)) == "laps"
    steering_us, throttle_us = seen[-1]
    assert abs(steering_us - (1500 + 0.5 * 0.75 * -0.65 * 750)) <= pca.tick_us
    assert abs(throttle_us - (1500 + 0.3 * 0.8 * 750)) <= pca.tick_us
    assert neutral(pca)  # and neutral once the run ended


def test_camera_that_stops_ends_at_neutral_within_the_stale_limit(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.0), frames=4)
    assert pilot.run(before_frame=advance(clock)) == "stale_frame"
    assert pilot.frames == 4
    assert neutral(pca)


@pytest.mark.parametrize("bad", [(math.nan, 0.0), (0.0, math.inf)])
def test_non_finite_model_output_stops(bus, pca, bad):
    pilot, clock = make_pilot(bus, ConstantEngine(*bad))
    assert pilot.run(before_frame=advance(clock)) == "engine_error"
    assert neutral(pca)


def test_engine_exception_stops(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(RuntimeError("CUDA error: an illegal memory access")))
    assert pilot.run(before_frame=advance(clock)) == "engine_error"
    assert neutral(pca)


def test_single_i2c_glitch_is_retried(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.2), frames=3)
    bus.fail_writes = 1
    assert pilot.run(should_stop=lambda: "laps" if pilot.frames >= 2 else None, before_frame=advance(clock)) == "laps"


def test_i2c_failing_twice_stops(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.2), frames=3)
    bus.fail_writes = 2
    assert pilot.run(before_frame=advance(clock)) == "i2c_error"
    assert neutral(pca)


def test_keyboard_interrupt_ends_at_neutral(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.2), frames=50)

    def interrupt():
        clock.t += 1 / 30
        if pilot.frames == 3:
            assert not neutral(pca)  # it was really driving
            raise KeyboardInterrupt

    assert pilot.run(before_frame=interrupt) == "signal"
    assert neutral(pca)


class Battery:
    state = "ok"
    percent = 50.0


def test_critical_battery_stops(bus, pca):
    battery = Battery()
    pilot, clock = make_pilot(bus, ConstantEngine(0.0), frames=50, battery=battery)

    def drain():
        clock.t += 1 / 30
        if pilot.frames == 5:
            battery.state = "critical"

    assert pilot.run(before_frame=drain) == "battery"
    assert pilot.frames == 5 and neutral(pca)


def test_modes(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(-0.4), frames=20, mode="manual")
    pilot.manual_steering, pilot.manual_throttle = 0.5, 0.1
    frame = pilot.camera.read_frame()
    pilot.process(frame)
    assert abs(pca.pulse_us(0) - (1500 + 0.5 * -0.65 * 750)) <= pca.tick_us  # the person steers
    pilot.mode = "steer"
    pilot.process(pilot.camera.read_frame())
    assert abs(pca.pulse_us(0) - (1500 + -0.4 * 0.75 * -0.65 * 750)) <= pca.tick_us  # the model steers
    assert abs(pca.pulse_us(1) - (1500 + 0.1 * 0.8 * 750)) <= pca.tick_us  # the person's throttle
    pilot.estop("button")
    assert pilot.mode == "stopped" and neutral(pca)
    pilot.process(pilot.camera.read_frame())
    assert neutral(pca)  # latched


def test_never_acts_twice_on_one_frame(bus, pca):
    engine = ConstantEngine(0.1)
    pilot, clock = make_pilot(bus, engine, frames=3)
    pilot.run(before_frame=advance(clock))
    assert engine.calls == 3


def test_control_law_derivative_and_adaptive_throttle():
    law = ControlLaw(steering_gain=1.0, steering_kd=0.1, throttle=0.5, throttle_mode="adaptive", throttle_min=0.2,
                     throttle_forward_limit=0.4)
    assert law.steering(0.0, 0.0) == 0.0
    assert law.steering(0.1, 0.1) == pytest.approx(0.1 + 0.1 * 1.0)  # dx/dt = 1/s
    assert law.throttle_for(0.0, -1.0) == 0.4  # straight, far target: limited to the forward limit
    assert law.throttle_for(1.0, -1.0) == pytest.approx(0.2)  # full lock: the corner speed
    assert law.throttle_for(0.0, 1.0) == pytest.approx(0.2)  # target right in front of the car


def test_telemetry_jsonl_log_and_status_line(bus, pca, tmp_path):
    import io
    import json

    from jetracer.drive.telemetry import Telemetry

    log_path = tmp_path / "drive.jsonl"
    stream = io.StringIO()
    telemetry = Telemetry(log_path=str(log_path), status_period_s=1e-9, stream=stream)
    pilot, clock = make_pilot(bus, ConstantEngine(0.25, -0.5), frames=5, telemetry=telemetry)
    assert pilot.run(should_stop=lambda: "laps" if pilot.frames >= 4 else None, before_frame=advance(clock)) == "laps"
    telemetry.close()
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    frames = [r for r in records if "seq" in r]
    assert [r["seq"] for r in frames] == sorted(r["seq"] for r in frames) and len(frames) == 4
    assert frames[0]["x"] == 0.25 and frames[0]["mode"] == "auto" and "inference_ms" in frames[0]
    assert "[auto] frames" in stream.getvalue()
    summary = pilot.summary()
    assert summary["frames"] == 4 and summary["control_latency_ms"]["p50"] is not None


def test_act_on_estops_on_a_stale_or_repeated_frame(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.1), frames=5)
    frame = pilot.camera.read_frame()
    assert pilot.act_on(frame) is not None
    assert pca.pulse_us(1) > NEUTRAL + 20  # driving
    assert pilot.act_on(frame) is None  # the same frame again: never acted on twice ...
    assert pilot.mode == "stopped" and neutral(pca)  # ... and the model lost its eyes: e-stop
    pilot.mode = "auto"
    old = pilot.camera.read_frame()
    clock.t += 1.0  # the camera froze a second ago
    assert pilot.act_on(old) is None and pilot.mode == "stopped" and neutral(pca)


def test_act_on_in_manual_needs_no_camera(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.1), frames=1, mode="manual")
    pilot.manual_throttle = 0.2
    pilot.act_on(None)
    assert pilot.mode == "manual" and abs(pca.pulse_us(1) - (1500 + 0.2 * 0.8 * 750)) <= pca.tick_us


def test_estop_reaches_the_chip_even_after_a_failed_write(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.1), frames=5)
    pilot.process(pilot.camera.read_frame())
    assert pca.pulse_us(1) > NEUTRAL + 20
    bus.fail_writes = 1  # the e-stop's first write is lost on a loose wire
    pilot.estop("button")
    assert neutral(pca)


def test_retry_after_i2c_glitch_writes_the_command(bus, pca):
    pilot, clock = make_pilot(bus, ConstantEngine(0.0), frames=5)
    bus.fail_writes = 1
    pilot.process(pilot.camera.read_frame())  # the throttle write fails once, the retry must land
    assert abs(pca.pulse_us(1) - (1500 + 0.3 * 0.8 * 750)) <= pca.tick_us


class SlowStartCamera(Camera):
    """A sensor that needs 0.6 s before its first frame, as nvargus does after start()."""

    def __init__(self):
        super().__init__(stale_limit_s=0.2, first_frame_timeout_s=2.0)
        self.t0 = None

    def _open(self):
        import time

        self.t0 = time.monotonic()

    def _grab(self):
        import time

        if time.monotonic() - self.t0 < 0.6:
            self._sleep(0.01)
            return None
        self._sleep(1 / 60)
        return np.full((224, 224, 3), 90, np.uint8)


def test_a_slow_starting_camera_is_not_a_stale_fault(bus, pca):
    camera = SlowStartCamera()
    pilot = Pilot(NvidiaRacecar(i2c=bus), camera, engine=ConstantEngine(0.0), mode="auto", stale_frame_s=0.25)
    camera.start()
    try:
        assert pilot.run(should_stop=lambda: "laps" if pilot.frames >= 3 else None) == "laps"
    finally:
        camera.close()
    assert neutral(pca)


SIGNAL_WHILE_BUS_HELD = r"""
import os, signal
from jetracer import NvidiaRacecar
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.drive.signals import StopSignal, install_signal_handlers
install_signal_handlers()
bus = VirtualI2C(); chip = bus.attach(PCA9685Twin(0x40))
car = NvidiaRacecar(i2c=bus); car.throttle = 0.6
assert bus.try_lock()  # the main thread is in the middle of an I2C transaction ...
try:
    os.kill(os.getpid(), signal.SIGTERM)  # ... when systemd stops the service (signal.raise_signal is 3.8+)
except StopSignal:
    pass
print(round(chip.pulse_us(1)))
"""


def test_stop_signal_while_the_bus_is_held_does_not_hang():
    import sys

    result = run_captured([sys.executable, "-c", SIGNAL_WHILE_BUS_HELD], timeout=30)
    assert result.returncode == 0, result.stderr
    assert abs(int(result.stdout.strip()) - NEUTRAL) <= 5


def test_a_battery_monitor_that_cannot_read_is_reported(bus, pca, caplog):
    battery = Battery()
    battery.error = "battery read failed at 0x41 on I2C bus 1: [Errno 121] Remote I/O error"
    pilot, clock = make_pilot(bus, ConstantEngine(0.0), frames=5, battery=battery)
    with caplog.at_level("WARNING", logger="jetracer.drive.pilot"):
        pilot.run(should_stop=lambda: "laps" if pilot.frames >= 3 else None, before_frame=advance(clock))
    warnings = [r.message for r in caplog.records if "low-battery stop is not active" in r.message]
    assert len(warnings) == 1  # said once, not every frame
