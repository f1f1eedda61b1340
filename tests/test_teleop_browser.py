"""The notebook helper with a real ipywidgets.Controller whose traits are set from Python, as the
browser's messages would set them."""

import time

import pytest
from ipywidgets import Controller
from ipywidgets.widgets.widget_controller import Axis, Button
from teleop_helpers import FakeClock, assert_throttle_neutral, make_car, throttle_pulse

from jetracer.teleop.browser import PRESS_A_BUTTON, BrowserTeleop


def plug_in(controller, mapping="standard"):
    """What the frontend does once the browser has seen the pad."""
    controller.set_trait("name", "Xbox 360 Controller (XInput STANDARD GAMEPAD)")
    controller.set_trait("mapping", mapping)
    controller.set_trait("axes", tuple(Axis() for _ in range(4)))
    controller.set_trait("buttons", tuple(Button() for _ in range(17)))
    controller.set_trait("connected", True)


def press(controller, index, value=1.0):
    controller.buttons[index].set_trait("value", value)
    controller.buttons[index].set_trait("pressed", value >= 0.5)


@pytest.fixture
def car_twin():
    car, twin = make_car()
    yield car, twin
    car.close()


def test_not_connected_is_a_message_not_an_index_error(car_twin, capsys):
    car, twin = car_twin
    controller = Controller()
    helper = BrowserTeleop(controller, car, start_timer=False)
    try:
        assert PRESS_A_BUTTON in capsys.readouterr().out
        assert helper.status.value == PRESS_A_BUTTON
        helper.check()  # the heartbeat runs happily with no pad
        assert_throttle_neutral(car, twin)
        plug_in(controller)
        assert helper.ready and helper.teleop.connected
    finally:
        helper.close()


def test_standard_mapping_axes_and_triggers_drive_the_car(car_twin):
    car, twin = car_twin
    controller = Controller()
    helper = BrowserTeleop(controller, car, max_throttle=0.5, start_timer=False)
    try:
        plug_in(controller)
        controller.axes[0].set_trait("value", 1.0)  # left stick right
        assert car.steering == 1.0
        press(controller, 7, 1.0)  # RT fully
        assert car.throttle == pytest.approx(0.5)
        assert throttle_pulse(car, twin) == pytest.approx(1800, abs=twin.tick_us)
        press(controller, 7, 0.0)
        press(controller, 6, 1.0)  # LT reverses
        assert car.throttle == pytest.approx(-0.5)
        press(controller, 6, 0.0)
        press(controller, 1)  # B: e-stop latches
        press(controller, 7, 1.0)
        assert_throttle_neutral(car, twin)
        press(controller, 1, 0.0)
        press(controller, 7, 0.0)
        press(controller, 8)
        press(controller, 9)  # back + start releases
        assert not helper.teleop.estopped
    finally:
        helper.close()


def test_unmapped_pad_falls_back_to_the_left_stick(car_twin):
    car, twin = car_twin
    controller = Controller()
    helper = BrowserTeleop(controller, car, start_timer=False)
    try:
        plug_in(controller, mapping="")
        controller.axes[1].set_trait("value", -1.0)  # stick up
        assert car.throttle == pytest.approx(0.5)
    finally:
        helper.close()


def test_missed_heartbeat_stops_the_car(car_twin):
    car, twin = car_twin
    clock = FakeClock()
    controller = Controller()
    helper = BrowserTeleop(controller, car, heartbeat_s=1.0, clock=clock, start_timer=False)
    try:
        plug_in(controller)
        press(controller, 7, 1.0)
        for stamp in range(5):  # the browser keeps answering
            clock.advance(0.5)
            controller.set_trait("timestamp", float(stamp))
            helper.check()
        assert throttle_pulse(car, twin) > 1700
        clock.advance(1.5)  # Wi-Fi gone: no timestamp updates
        helper.check()
        assert_throttle_neutral(car, twin)
        controller.set_trait("timestamp", 99.0)  # the browser is back, trigger still held
        assert throttle_pulse(car, twin) > 1700
        controller.set_trait("connected", False)  # pad unplugged from the laptop
        assert_throttle_neutral(car, twin)
        assert helper.status.value == PRESS_A_BUTTON
    finally:
        helper.close()


def test_the_kernel_side_timer_thread_stops_the_car_by_itself(car_twin):
    car, twin = car_twin
    controller = Controller()
    helper = BrowserTeleop(controller, car, heartbeat_s=0.2, period_s=0.02)
    try:
        plug_in(controller)
        press(controller, 7, 1.0)
        assert throttle_pulse(car, twin) > 1700
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and not helper.teleop.deadman_tripped:
            time.sleep(0.02)
        assert_throttle_neutral(car, twin)
    finally:
        helper.close()
    assert not helper._thread.is_alive()
