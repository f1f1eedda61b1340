"""Lies and in-process hangs: cameras, clocks, engines and threads that misbehave. Each ends at
neutral read back from the PCA9685 twin, and no command computed from a bad frame reaches it."""

import threading
import time

import numpy as np
import pytest
from helpers import FakeClock, wait_until

from jetracer import NvidiaRacecar
from jetracer.camera.base import Frame
from jetracer.drive.pilot import Pilot

NEUTRAL = 1500.0
IMAGE = np.zeros((8, 8, 3), np.uint8)


def neutral(pca):
    return abs(pca.pulse_us(1) - NEUTRAL) <= pca.tick_us


class ScriptCamera:
    """A camera whose frames a test writes: ``stamp(seq, now)`` gives each frame's timestamp."""

    running = False

    def __init__(self, clock, stamp=lambda seq, now: now, frames=100):
        self.clock, self.stamp, self.frames, self.seq = clock, stamp, frames, -1

    def read_frame(self):
        if self.seq + 1 >= self.frames:
            return None
        self.seq += 1
        return Frame(IMAGE, self.stamp(self.seq, self.clock()), self.seq)


class Engine:
    """Predicts ``x`` (or what ``script(call)`` returns)."""

    def __init__(self, script=None):
        self.calls = 0
        self.script = script or (lambda call: (0.2, 0.0))

    def __call__(self, image):
        self.calls += 1
        return self.script(self.calls)


def make(bus, engine, stamp=lambda seq, now: now, frames=100, **kw):
    clock = FakeClock(10.0)
    car = NvidiaRacecar(i2c=bus)
    camera = ScriptCamera(clock, stamp, frames)
    kw.setdefault("watchdog_s", 0.5)
    pilot = Pilot(car, camera, engine=engine, clock=clock, mode="auto", throttle=0.3, stale_frame_s=0.2, **kw)
    return pilot, clock, car


def tick(clock):
    def step():
        clock.t += 1 / 30
    return step


def steering_seen(car):
    seen = []
    car.observe(lambda change: seen.append(change["new"]), "steering")
    return seen


def test_camera_timestamps_going_backwards_stop_at_neutral(bus, pca):
    pilot, clock, car = make(bus, Engine(), stamp=lambda seq, now: now - (0.1 if seq == 5 else 0.0))
    assert pilot.run(before_frame=tick(clock)) == "stale_frame"
    assert pilot.frames == 5 and neutral(pca)


def test_a_frame_from_the_future_is_not_acted_on(bus, pca):
    """A camera on another clock stamps frames ahead: their 'age' is negative and would pass any
    stale limit for ever."""
    engine = Engine()
    pilot, clock, car = make(bus, engine, stamp=lambda seq, now: now + (5.0 if seq >= 3 else 0.0))
    assert pilot.run(before_frame=tick(clock)) == "stale_frame"
    assert engine.calls == 3 and neutral(pca)


def test_a_clock_that_jumps_forward_stops_at_neutral(bus, pca):
    """The clock jumps 30 s (NTP, a suspend, a virtual-clock bug) while the frame in hand was
    stamped before the jump; and one that jumps back makes the next frame look 30 s in the future."""
    pilot, clock, car = make(bus, Engine())

    def step():
        clock.t += 1 / 30 + (30.0 if pilot.frames == 4 else 0.0)

    pilot.camera.stamp = lambda seq, now: now - (30.0 if pilot.frames == 4 else 0.0)
    assert pilot.run(before_frame=step) == "stale_frame"
    assert pilot.frames == 4 and neutral(pca)


def test_a_clock_that_jumps_back_stops_at_neutral(bus, pca):
    pilot, clock, car = make(bus, Engine())

    def step():
        clock.t += 1 / 30 - (30.0 if pilot.frames == 4 else 0.0)

    pilot.camera.stamp = lambda seq, now: now + (30.0 if pilot.frames == 4 else 0.0)  # stamped before the jump
    assert pilot.run(before_frame=step) == "stale_frame"
    assert pilot.frames == 4 and neutral(pca)


def test_a_slow_inference_never_writes_the_command_from_its_old_frame(bus, pca):
    """One inference of 1 s (stale limit 0.2 s): the steering it computed is for where the car was."""
    clock_box = []

    def script(call):
        if call == 4:
            clock_box[0].advance(1.0)
            return 1.0, 0.0  # full right, from a frame 1 s old
        return 0.0, 0.0

    pilot, clock, car = make(bus, Engine(script))
    clock_box.append(clock)
    seen = steering_seen(car)
    assert pilot.run(before_frame=tick(clock)) == "stale_frame"
    assert all(abs(v) < 0.1 for v in seen), seen  # 0.75 never reached the car
    assert neutral(pca) and abs(pca.pulse_us(0) - 1500) <= pca.tick_us


@pytest.mark.parametrize("prediction", [(1e300, -1e300), (1e308, 1e308)])
def test_an_engine_returning_huge_numbers_stays_inside_the_limits(bus, pca, prediction):
    pilot, clock, car = make(bus, Engine(lambda call: prediction), frames=5)
    car.throttle_forward_limit = 0.5
    pulses = []

    def step():
        clock.t += 1 / 30
        pulses.append((pca.pulse_us(0), pca.pulse_us(1)))

    assert pilot.run(before_frame=step) == "stale_frame"  # the scripted camera ran out
    assert all(750 - 1 <= s <= 2250 + 1 for s, _ in pulses)
    assert max(t for _, t in pulses) <= 1500 + 0.5 * 750 + pca.tick_us
    assert neutral(pca)


@pytest.mark.parametrize("output", [(0.1, 0.2, 0.3), np.zeros(5), "ab", None, (np.array([0.1, 0.2]), 0.0), ("x", 1)])
def test_an_engine_returning_the_wrong_shape_stops_with_engine_error(bus, pca, output):
    pilot, clock, car = make(bus, Engine(lambda call: (0.3, 0.0) if call < 3 else output))
    assert pilot.run(before_frame=tick(clock)) == "engine_error"
    assert neutral(pca)


def test_a_throttle_set_from_another_thread_is_overwritten_by_the_next_frame(bus, pca):
    pilot, clock, car = make(bus, Engine(), frames=12)
    pilot.mode = "stopped"
    after = []

    def step():
        clock.t += 1 / 30
        if pilot.frames == 4:
            t = threading.Thread(target=lambda: setattr(car, "throttle", 1.0))  # a stray notebook cell
            t.start()
            t.join()
            assert pca.pulse_us(1) > 1700
        elif pilot.frames == 5:
            after.append(pca.pulse_us(1))

    assert pilot.run(before_frame=step) == "stale_frame"
    assert after and abs(after[0] - NEUTRAL) <= pca.tick_us  # one frame later, the pilot's neutral again
    assert neutral(pca)


def test_an_i2c_write_that_never_returns_is_overridden_by_the_deadline_thread(bus, pca):
    """The loop thread is stuck inside the ESC write, holding the bus and driver locks; the watchdog
    thread reaches the chip over its own handle. When the write lands late it is undone."""
    release, stuck = threading.Event(), threading.Event()
    real = bus.writeto

    def writeto(address, buffer, **kw):
        if len(buffer) > 1 and buffer[0] == 0x06 and pilot.frames >= 5 and not stuck.is_set():  # steering ch
            stuck.set()
            release.wait(10)
        return real(address, buffer, **kw)

    pilot, clock, car = make(bus, Engine(lambda call: (0.01 * call, 0.0)), frames=10 ** 6)
    bus.writeto = writeto
    result = []
    loop = threading.Thread(target=lambda: result.append(pilot.run(before_frame=tick(clock))))
    loop.start()
    try:
        wait_until(stuck.is_set, timeout=10)
        t0 = time.monotonic()
        wait_until(lambda: neutral(pca), timeout=0.5 + 0.4)
        assert time.monotonic() - t0 <= 0.9
    finally:
        release.set()
        loop.join(10)
    assert result == ["watchdog"] and neutral(pca)


def test_a_sleeping_engine_in_lockstep_trips_the_deadline_though_virtual_time_stands_still(bus, pca):
    pilot, clock, car = make(bus, Engine(lambda call: (time.sleep(1.0), (0.1, 0.0))[1] if call == 6 else (0.1, 0.0)))
    pilot.throttle = 0.3
    seen = []
    done = []
    loop = threading.Thread(target=lambda: done.append(pilot.run(before_frame=tick(clock))))
    loop.start()
    wait_until(lambda: pilot.engine.calls >= 6, timeout=10)
    assert not neutral(pca)
    wait_until(lambda: neutral(pca), timeout=0.9)
    seen.append(pilot.watchdog.reason)
    loop.join(10)
    assert done == ["watchdog"] and "deadline missed" in seen[0] and neutral(pca)


def test_act_on_after_a_watchdog_trip_latches_the_estop(bus, pca):
    pilot, clock, car = make(bus, Engine())
    pilot._start_watchdog()
    pilot.watchdog.arm(pilot.watchdog.clock() - 1.0)  # a deadline already missed
    frame = Frame(IMAGE, clock(), 0)
    assert pilot.act_on(frame) is None
    assert pilot.mode == "stopped" and neutral(pca)
    pilot.close_watchdog()


class BlindBattery:
    state = "ok"
    percent = 40.0
    error = ""


def test_a_blind_battery_monitor_stops_the_car_after_its_stated_time(bus, pca):
    battery = BlindBattery()
    pilot, clock, car = make(bus, Engine(), battery=battery, battery_unreadable_s=2.0, frames=10 ** 6)
    blind_at = []

    def step():
        clock.t += 1 / 30
        if pilot.frames == 10 and not blind_at:
            battery.error = "battery read failed at 0x41 on I2C bus 1: [Errno 121] Remote I/O error"
            blind_at.append(clock())

    assert pilot.run(before_frame=step) == "battery_unreadable"
    assert 2.0 <= clock() - blind_at[0] <= 2.1
    assert neutral(pca)


def test_a_battery_monitor_that_stopped_reading_at_all_counts_as_blind(bus, pca):
    """Its thread hung inside a read: no error, but the last reading grows old."""
    wall = FakeClock(0.0)
    battery = BlindBattery()
    battery.clock = wall
    battery.last_reading = {"time": 0.0, "voltage": 7.6}
    pilot, clock, car = make(bus, Engine(), battery=battery, battery_unreadable_s=2.0)

    def step():
        clock.t += 1 / 30
        wall.t += 1 / 30  # the monitor's clock runs on, its reading does not

    assert pilot.run(before_frame=step) == "battery_unreadable"
    assert 2.0 <= wall.t <= 2.1 and neutral(pca)
