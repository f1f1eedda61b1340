"""The pad drives a real NvidiaRacecar on an emulated PCA9685: e-stop, dead-man, hot-plug, modes."""

import os

import pytest
import traitlets
from teleop_helpers import (
    DS4_AXES,
    DS4_NAME,
    XBOX_NAME,
    XPAD_ONE_AXES,
    FakeClock,
    Stream,
    assert_throttle_neutral,
    connect,
    make_car,
    throttle_pulse,
)

from jetracer.teleop import TeleopController
from jetracer.teleop.device import FdPad, GamepadReader, PadNotFound
from jetracer.teleop.events import KEEPALIVE, PadStatus, decode_bytes


@pytest.fixture
def rig():
    car, twin = make_car()
    clock = FakeClock()
    teleop = TeleopController(car, deadman_s=0.5, max_throttle=0.5, clock=clock)
    yield car, twin, clock, teleop
    car.close()


def feed(teleop, stream, clock=None, dt=0.0):
    for ev in decode_bytes(stream.kernel_bytes()):
        if clock is not None:
            clock.advance(dt)
        teleop.handle(ev)


def test_pad_drives_the_car_through_the_chip(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    assert teleop.mapping.name == "xbox"
    feed(teleop, Stream().report(("ABS_X", 32767), ("ABS_RZ", 1023)))
    assert car.steering == 1.0
    assert car.throttle == pytest.approx(0.5)  # full trigger x max_throttle 0.5
    # ESC pulse: 1500 + throttle 0.5 x gain 0.8 x 750 us
    assert throttle_pulse(car, twin) == pytest.approx(1800, abs=twin.tick_us)
    feed(teleop, Stream().report(("ABS_RZ", 0)))
    assert_throttle_neutral(car, twin)


def test_estop_latches_until_released_with_the_throttle_off(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(DS4_NAME, DS4_AXES))
    feed(teleop, Stream().report(("ABS_RZ", 255)))
    assert throttle_pulse(car, twin) > 1700
    feed(teleop, Stream().report(("BTN_EAST", 1)).report(("BTN_EAST", 0)))  # circle
    assert teleop.estopped
    assert_throttle_neutral(car, twin)
    feed(teleop, Stream().report(("ABS_RZ", 200)).report(("ABS_RZ", 255)))  # still pressing R2
    assert_throttle_neutral(car, twin)
    feed(teleop, Stream().report(("BTN_START", 1)).report(("BTN_START", 0)))  # options alone: not the release
    assert teleop.estopped
    feed(teleop, Stream().report(("BTN_SELECT", 1)).report(("BTN_START", 1)))  # release combo, R2 still held
    assert teleop.estopped and "release the throttle" in teleop.message
    assert_throttle_neutral(car, twin)
    feed(teleop, Stream().report(("BTN_SELECT", 0), ("BTN_START", 0)).report(("ABS_RZ", 0)))
    feed(teleop, Stream().report(("BTN_SELECT", 1), ("BTN_START", 1)))
    assert not teleop.estopped
    feed(teleop, Stream().report(("ABS_RZ", 255)))
    assert throttle_pulse(car, twin) > 1700


def test_silence_of_a_pad_with_keepalives_forces_neutral_then_the_pad_takes_over_again(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(DS4_NAME, DS4_AXES))
    teleop.handle(KEEPALIVE)  # the DualShock's motion-sensor node reports all the time
    feed(teleop, Stream().report(("ABS_RZ", 255)))
    for _ in range(10):  # trigger held still: no events, but the keep-alives go on
        clock.advance(0.1)
        teleop.handle(KEEPALIVE)
        teleop.tick()
    assert throttle_pulse(car, twin) > 1700
    clock.advance(0.3)
    teleop.tick()
    assert throttle_pulse(car, twin) > 1700  # within the limit
    clock.advance(0.3)
    teleop.tick()
    assert teleop.deadman_tripped
    assert_throttle_neutral(car, twin)
    feed(teleop, Stream().report(("ABS_RZ", 250)))  # the pad speaks again
    assert not teleop.deadman_tripped and throttle_pulse(car, twin) > 1700


def test_a_steadily_held_trigger_on_a_pad_without_keepalives_keeps_driving(rig):
    """Linux sends nothing while a value stays put: silence is not a lost pad (that is ENODEV)."""
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("ABS_RZ", 1023)))
    for _ in range(30):  # 3 s of full trigger, not a single event
        clock.advance(0.1)
        teleop.tick()
    assert not teleop.deadman_tripped and throttle_pulse(car, twin) > 1700
    clock.advance(teleop.quiet_deadman_s)  # only a very long silence (a receiver that lost its pad) cuts it
    teleop.tick()
    assert teleop.deadman_tripped
    assert_throttle_neutral(car, twin)
    teleop.handle(PadStatus.down("No such device"))  # the usual way a pad is lost
    assert_throttle_neutral(car, twin)


def test_silence_with_the_throttle_released_is_fine(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("ABS_X", 20000)))
    clock.advance(10.0)
    teleop.tick()
    assert not teleop.deadman_tripped and car.steering > 0.3  # steering held, nothing cut


def test_disconnect_forces_neutral_and_a_held_trigger_does_not_drive_after_reconnect(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("ABS_RZ", 1023)))
    teleop.handle(PadStatus.down("No such device"))
    assert_throttle_neutral(car, twin)
    held = dict(XPAD_ONE_AXES)
    held[5] = held[5]._replace(value=1023)  # ABS_RZ fully pressed as the pad comes back
    teleop.handle(PadStatus.up(XBOX_NAME, held))
    assert_throttle_neutral(car, twin)
    feed(teleop, Stream().report(("ABS_RZ", 1020)))
    assert_throttle_neutral(car, twin)  # still held: not re-armed
    feed(teleop, Stream().report(("ABS_RZ", 0)).report(("ABS_RZ", 1023)))
    assert throttle_pulse(car, twin) > 1700


def test_throttle_scale_buttons(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("ABS_RZ", 1023)))
    low = throttle_pulse(car, twin)
    feed(teleop, Stream().report(("BTN_TR", 1)).report(("BTN_TR", 0)))  # RB
    feed(teleop, Stream().report(("ABS_HAT0Y", -1)).report(("ABS_HAT0Y", 0)))  # D-pad up
    assert teleop.throttle_scale == pytest.approx(0.6)  # 0.5 + 2 steps
    assert throttle_pulse(car, twin) > low
    for _ in range(30):
        feed(teleop, Stream().report(("BTN_TL", 1)).report(("BTN_TL", 0)))
    assert teleop.throttle_scale == pytest.approx(0.05)  # never down to zero


def test_record_button_toggles(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("BTN_NORTH", 1)).report(("BTN_NORTH", 0)))  # xpad's X
    assert teleop.recording
    feed(teleop, Stream().report(("BTN_NORTH", 1)).report(("BTN_NORTH", 0)))
    assert not teleop.recording


def test_reader_survives_unplug_and_reconnects_with_backoff():
    """A pipe stands in for /dev/input/eventN: the reader decodes the kernel's bytes from it."""
    car, twin = make_car()
    clock = FakeClock()
    pipes = []
    plugged = {"on": True}

    def opener(spec):
        if not plugged["on"]:
            raise PadNotFound("no gamepad found (input devices seen: none): plug the pad in")
        r, w = os.pipe()
        pipes.append(w)
        return FdPad(r, name=XBOX_NAME, path="/dev/input/event7", axes=XPAD_ONE_AXES)

    reader = GamepadReader("", opener=opener, clock=clock, sleep=clock.advance, backoff_s=0.25)
    teleop = TeleopController(car, clock=clock)
    try:
        teleop.handle_events([reader.open()])
        os.write(pipes[-1], Stream().report(("ABS_RZ", 1023)).kernel_bytes())
        teleop.handle_events(reader.poll(0.1))
        assert throttle_pulse(car, twin) > 1700
        plugged["on"] = False
        os.close(pipes.pop())  # unplugged: the node goes away
        teleop.handle_events(reader.poll(0.1))
        assert not reader.connected and not teleop.connected
        assert_throttle_neutral(car, twin)
        for _ in range(5):
            teleop.handle_events(reader.poll(0.1))
        assert not reader.connected
        plugged["on"] = True
        for _ in range(40):
            teleop.handle_events(reader.poll(0.1))
            if reader.connected:
                break
        assert reader.connected and teleop.connected
        os.write(pipes[-1], Stream().report(("ABS_RZ", 1023)).kernel_bytes())
        teleop.handle_events(reader.poll(0.1))
        assert throttle_pulse(car, twin) > 1700
    finally:
        reader.close()
        for w in pipes:
            os.close(w)
        car.close()


class StandInPilot(traitlets.HasTraits):
    """Just the Pilot's teleop-facing surface; ``frame(model_steering)`` acts as the pilot's loop does."""

    mode = traitlets.Unicode("manual")
    manual_steering = traitlets.Float(0.0)
    manual_throttle = traitlets.Float(0.0)

    def __init__(self, car):
        super().__init__()
        self.car = car
        self.estops = []

    def estop(self, reason):
        self.estops.append(reason)
        self.mode = "stopped"
        self.car.throttle = 0.0

    def frame(self, model_steering=-0.4, model_throttle=0.3):
        if self.mode == "manual":
            self.car.steering, self.car.throttle = self.manual_steering, self.manual_throttle
        elif self.mode == "steer":
            self.car.steering, self.car.throttle = model_steering, self.manual_throttle
        elif self.mode == "auto":
            self.car.steering, self.car.throttle = model_steering, model_throttle
        else:
            self.car.throttle = 0.0


def test_mode_button_hands_control_between_pad_and_pilot():
    car, twin = make_car()
    pilot = StandInPilot(car)
    clock = FakeClock()
    teleop = TeleopController(pilot, clock=clock)
    try:
        teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
        feed(teleop, Stream().report(("ABS_X", 32767), ("ABS_RZ", 1023)))
        pilot.frame()
        assert car.steering == 1.0 and car.throttle == pytest.approx(0.5)  # manual: the pad drives
        feed(teleop, Stream().report(("BTN_Y", 1)).report(("BTN_Y", 0)))
        assert pilot.mode == "steer"
        pilot.frame()
        assert car.steering == -0.4 and car.throttle == pytest.approx(0.5)  # model steers, pad throttles
        feed(teleop, Stream().report(("BTN_Y", 1)).report(("BTN_Y", 0)))
        assert pilot.mode == "auto"
        feed(teleop, Stream().report(("ABS_RZ", 0), ("ABS_X", -32768)))
        pilot.frame()
        assert car.steering == -0.4 and car.throttle == pytest.approx(0.3)  # the pilot drives alone
        feed(teleop, Stream().report(("BTN_Y", 1)).report(("BTN_Y", 0)))
        assert pilot.mode == "manual"
        pilot.frame()
        assert car.steering == -1.0 and car.throttle == 0.0  # back to the pad
    finally:
        car.close()


def test_a_lost_pad_in_auto_estops_the_pilot_and_the_pad_estop_reaches_it():
    car, twin = make_car()
    pilot = StandInPilot(car)
    teleop = TeleopController(pilot, clock=FakeClock())
    try:
        teleop.handle(connect(DS4_NAME, DS4_AXES))
        pilot.mode = "auto"
        pilot.frame()
        assert throttle_pulse(car, twin) > 1600
        teleop.handle(PadStatus.down("No such device"))
        assert pilot.mode == "stopped" and pilot.estops == ["gamepad lost"]
        pilot.frame()
        assert_throttle_neutral(car, twin)
        teleop.handle(connect(DS4_NAME, DS4_AXES))
        feed(teleop, Stream().report(("BTN_NORTH", 1)).report(("BTN_NORTH", 0)))  # triangle: stopped -> manual
        assert pilot.mode == "manual"
        feed(teleop, Stream().report(("BTN_EAST", 1)))  # circle: e-stop through the pilot
        assert pilot.mode == "stopped" and pilot.estops[-1] == "gamepad e-stop"
        feed(teleop, Stream().report(("BTN_EAST", 0)).report(("BTN_NORTH", 1)))
        assert pilot.mode == "stopped"  # mode changes are locked out while e-stopped
        feed(teleop, Stream().report(("BTN_NORTH", 0)).report(("BTN_SELECT", 1), ("BTN_START", 1)))
        assert pilot.mode == "manual" and not teleop.estopped
    finally:
        car.close()


def test_direct_car_has_no_modes_but_says_so(rig):
    car, twin, clock, teleop = rig
    teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
    feed(teleop, Stream().report(("BTN_Y", 1)))
    assert teleop.mode == "manual" and "manual only" in teleop.message


def test_hand_over_with_the_real_pilot():
    """The same hand-over with the lead's Pilot (a fixed policy stands in for the model)."""
    from jetracer.camera.base import Frame
    from jetracer.drive.pilot import Pilot

    car, twin = make_car()

    class OneFrameCamera:
        seq = 0

        def read_frame(self):
            self.seq += 1
            return Frame(None, 0.0, self.seq)

    camera = OneFrameCamera()
    pilot = Pilot(car, camera, policy=lambda frame: (-0.4, 0.3), clock=lambda: 0.0, mode="manual")
    teleop = TeleopController(pilot, clock=FakeClock())
    try:
        teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
        feed(teleop, Stream().report(("ABS_X", 32767), ("ABS_RZ", 1023)))
        pilot.process(camera.read_frame())
        assert car.steering == 1.0 and car.throttle == pytest.approx(0.5)
        feed(teleop, Stream().report(("BTN_Y", 1)).report(("BTN_Y", 0)).report(("BTN_Y", 1)).report(("BTN_Y", 0)))
        assert pilot.mode == "auto"
        pilot.process(camera.read_frame())
        assert car.steering == pytest.approx(-0.4)
        teleop.handle(PadStatus.down("No such device"))
        assert pilot.mode == "stopped"
        pilot.process(camera.read_frame())
        assert_throttle_neutral(car, twin)
    finally:
        car.close()


class FreshFrames:
    """A camera that always has a new frame, stamped now on ``clock``."""

    def __init__(self, clock):
        self.clock, self.seq = clock, 0

    def latest(self):
        from jetracer.camera.base import Frame

        self.seq += 1
        return Frame(None, self.clock(), self.seq)


def test_a_silent_pad_with_keepalives_estops_the_pilot_in_auto_whatever_its_throttle():
    from jetracer.drive.pilot import Pilot

    car, twin = make_car()
    clock = FakeClock()
    camera = FreshFrames(clock)
    pilot = Pilot(car, camera, policy=lambda frame: (0.2, 0.3), clock=clock, mode="manual")
    teleop = TeleopController(pilot, clock=clock)
    try:
        teleop.handle(connect(DS4_NAME, DS4_AXES))
        teleop.handle(KEEPALIVE)
        pilot.mode = "auto"  # the pad's throttle is released: the pilot drives alone
        for _ in range(5):
            clock.advance(0.1)
            teleop.handle(KEEPALIVE)
            teleop.tick()
            pilot.act_on(camera.latest())
        assert pilot.mode == "auto" and throttle_pulse(car, twin) > 1600
        for _ in range(8):  # the pad goes quiet (out of range, battery flat): nobody could stop the car now
            clock.advance(0.1)
            teleop.tick()
            pilot.act_on(camera.latest())
        assert pilot.mode == "stopped" and "silent" in teleop.message
        assert_throttle_neutral(car, twin)
    finally:
        car.close()


def test_a_quiet_pad_without_keepalives_leaves_the_pilot_in_auto():
    """An Xbox pad sends nothing while untouched: watching the car drive is not a lost pad."""
    from jetracer.drive.pilot import Pilot

    car, twin = make_car()
    clock = FakeClock()
    camera = FreshFrames(clock)
    pilot = Pilot(car, camera, policy=lambda frame: (0.2, 0.3), clock=clock, mode="auto")
    teleop = TeleopController(pilot, clock=clock)
    try:
        teleop.handle(connect(XBOX_NAME, XPAD_ONE_AXES))
        for _ in range(30):
            clock.advance(0.1)
            teleop.tick()
            pilot.act_on(camera.latest())
        assert pilot.mode == "auto" and throttle_pulse(car, twin) > 1600
    finally:
        car.close()


def test_a_replayed_sony_pad_rests_centred_until_its_first_event():
    """A replay has no device to say where the axes are: the mapping's ranges do. Sticks of 0..255
    rest at the middle (not full left), triggers at the bottom."""
    car, twin = make_car()
    teleop = TeleopController(car, mapping="ps4", clock=FakeClock())
    try:
        teleop.handle(PadStatus.up("replay", {}))
        assert car.steering == 0.0
        assert twin.pulse_us(car.steering_channel) == pytest.approx(1500, abs=twin.tick_us)
        assert_throttle_neutral(car, twin)
        feed(teleop, Stream().report(("ABS_RZ", 255)))  # R2
        assert car.steering == 0.0 and throttle_pulse(car, twin) > 1700
    finally:
        car.close()
