"""One pad, several kernels: the layout is told from the capabilities a device reports.

The capability sets below are what EVIOCGBIT/EVIOCGABS return for each pad on each driver, as
the drivers declare them: hid-input's generic gamepad mapping (L4T R32's 4.9 kernel leaves a
DualShock 4 to it; a DualSense has only it before hid-playstation, 5.12), hid-sony 4.10+ and
hid-playstation (gamepad.rst codes, motion on a separate accelerometer node), xpad.
"""

import pytest
from teleop_helpers import FakeClock, Stream, assert_throttle_neutral, make_car, throttle_pulse

from jetracer.cli import main
from jetracer.teleop import TeleopController
from jetracer.teleop.codes import ABS, KEYS
from jetracer.teleop.device import INPUT_PROP_ACCELEROMETER, InputDeviceInfo, describe_pad, motion_siblings, same_pad
from jetracer.teleop.events import AxisInfo, PadStatus, decode_bytes
from jetracer.teleop.mapping import load_mapping, select_mapping
from jetracer.teleop.state import PadState


def _abs(*names):
    return [ABS[n] for n in names]


def _keys(*names):
    return [KEYS[n] for n in names]


STICKS6 = _abs("ABS_X", "ABS_Y", "ABS_Z", "ABS_RX", "ABS_RY", "ABS_RZ")
HAT = _abs("ABS_HAT0X", "ABS_HAT0Y")
MISC6 = list(range(0x28, 0x2E))  # hid-input: ABS_MISC, then the next free codes, for the six motion usages
MT = [0x2F, 0x35, 0x36, 0x39]  # hid-sony 4.9 puts the touchpad's slots on the main node
#: hid-input generic: HID buttons 1..N -> BTN_SOUTH (0x130) + N - 1
GENERIC14 = list(range(0x130, 0x13E))
GENERIC15 = list(range(0x130, 0x13F))
#: gamepad.rst codes as hid-sony 4.10+ and hid-playstation declare them
SONY_MODERN = _keys("BTN_SOUTH", "BTN_EAST", "BTN_NORTH", "BTN_WEST", "BTN_TL", "BTN_TR", "BTN_TL2", "BTN_TR2",
                    "BTN_SELECT", "BTN_START", "BTN_MODE", "BTN_THUMBL", "BTN_THUMBR")
XPAD = _keys("BTN_A", "BTN_B", "BTN_X", "BTN_Y", "BTN_TL", "BTN_TR", "BTN_SELECT", "BTN_START", "BTN_MODE",
             "BTN_THUMBL", "BTN_THUMBR")

BT_ADAPTER = "00:1a:7d:da:71:13"

# (name, axes, keys, expected mapping): one row per pad per kernel layout
LAYOUTS = [
    ("ds4 4.9 usb (hid-sony + generic)", "Sony Computer Entertainment Wireless Controller",
     STICKS6 + HAT + MISC6 + MT, GENERIC14, "ps4_legacy"),
    ("ds4 4.9 bluetooth", "Wireless Controller", STICKS6 + HAT + MISC6 + MT, GENERIC14, "ps4_legacy"),
    ("ds4 4.10-6.1 hid-sony", "Sony Interactive Entertainment Wireless Controller", STICKS6 + HAT, SONY_MODERN,
     "ps4"),
    ("ds4 6.2+ hid-playstation", "Sony Interactive Entertainment Wireless Controller", STICKS6 + HAT, SONY_MODERN,
     "ps4"),
    ("ds4 bluetooth 5.x", "Wireless Controller", STICKS6 + HAT, SONY_MODERN, "ps4"),
    ("dualsense 5.10 usb hid-generic", "Sony Interactive Entertainment Wireless Controller", STICKS6 + HAT,
     GENERIC15, "ps5_legacy"),
    ("dualsense 5.10 bluetooth hid-generic", "Wireless Controller", STICKS6 + HAT, GENERIC14, "ps5_legacy"),
    ("dualsense 5.12+ hid-playstation", "Sony Interactive Entertainment DualSense Wireless Controller",
     STICKS6 + HAT, SONY_MODERN, "ps5"),
    ("xbox one xpad", "Microsoft X-Box One pad", STICKS6 + HAT, XPAD, "xbox"),
]


@pytest.mark.parametrize("row", LAYOUTS, ids=[r[0] for r in LAYOUTS])
def test_layout_is_chosen_from_the_capabilities_the_device_reports(row):
    _, name, axes, keys, expected = row
    assert select_mapping(name, axes=set(axes), keys=set(keys)).name == expected


GENERIC_RANGES = {code: AxisInfo(0, 255, 15, 0, 128) for code in _abs("ABS_X", "ABS_Y", "ABS_Z", "ABS_RZ")}
GENERIC_RANGES.update({code: AxisInfo(0, 255, 15, 0, 0) for code in _abs("ABS_RX", "ABS_RY")})  # L2/R2 at rest
GENERIC_RANGES.update({code: AxisInfo(-1, 1, 0, 0, 0) for code in HAT})
GENERIC_RANGES.update({code: AxisInfo(-32768, 32767, 255, 16, 0) for code in MISC6})


def _reads(mapping, stream):
    state = PadState(GENERIC_RANGES)
    return [mapping.read(state) for ev in decode_bytes(stream.kernel_bytes()) if state.apply(ev)]


@pytest.mark.parametrize("name", ["ps4_legacy", "ps5_legacy"])
def test_legacy_sony_layout_drives_with_r2_and_stops_with_circle(name):
    mapping = load_mapping(name)
    # R2 (ABS_RY) full: forward; L2 (ABS_RX) full: reverse
    assert _reads(mapping, Stream().report(("ABS_RY", 255)))[-1].throttle == 1.0
    assert _reads(mapping, Stream().report(("ABS_RX", 255)))[-1].throttle == -1.0
    # the right stick pushed up (ABS_RZ 0) is not the throttle
    assert _reads(mapping, Stream().report(("ABS_RZ", 0)))[-1].throttle == 0.0
    assert _reads(mapping, Stream().report(("ABS_X", 0)))[-1].steering == -1.0
    # Cross (BTN_EAST here) is not the e-stop; Circle (BTN_C) is; Share+Options (BTN_TL2+BTN_TR2) releases
    assert _reads(mapping, Stream().report(("BTN_EAST", 1)))[-1].actions == frozenset()
    assert _reads(mapping, Stream().report(("BTN_C", 1)))[-1].actions == {"estop"}
    assert _reads(mapping, Stream().report(("BTN_TL2", 1), ("BTN_TR2", 1)))[-1].actions == {"estop_release"}
    # L3+R3 (BTN_SELECT+BTN_START under the generic mapping) do not release it
    assert _reads(mapping, Stream().report(("BTN_SELECT", 1), ("BTN_START", 1)))[-1].actions == frozenset()
    assert _reads(mapping, Stream().report(("BTN_NORTH", 1)))[-1].actions == {"mode"}  # triangle
    # motion reports on the same node (ABS_MISC...) move nothing
    assert _reads(mapping, Stream().report(("ABS_MISC", 12000)))[-1] == (0.0, 0.0, frozenset())


def test_a_ds4_on_the_nanos_kernel_drives_a_car_and_cross_does_not_estop():
    """Through the controller, as `jetracer teleop` runs it: the reader's snapshot carries the key
    capabilities, so the 4.9 layout is chosen; R2 drives, Cross does nothing, Circle stops."""
    car, twin = make_car()
    try:
        teleop = TeleopController(car, deadman_s=0.5, max_throttle=0.5, clock=FakeClock())
        teleop.handle(PadStatus.up("Sony Computer Entertainment Wireless Controller", GENERIC_RANGES,
                                   supported=GENERIC14))
        assert teleop.mapping.name == "ps4_legacy"
        stream = Stream().report(("ABS_RY", 255)).report(("BTN_EAST", 1)).report(("BTN_EAST", 0))
        for ev in decode_bytes(stream.kernel_bytes()):
            teleop.handle(ev)
        assert not teleop.estopped
        assert throttle_pulse(car, twin) > 1700
        for ev in decode_bytes(Stream().report(("BTN_C", 1)).report(("BTN_C", 0)).kernel_bytes()):
            teleop.handle(ev)
        assert teleop.estopped
        assert_throttle_neutral(car, twin)
    finally:
        car.close()


def _sony(path, name, uniq, phys, motion=False):
    if motion:
        return InputDeviceInfo(path, name + " Motion Sensors", phys=phys, uniq=uniq, axes=STICKS6,
                               props=[INPUT_PROP_ACCELEROMETER])
    return InputDeviceInfo(path, name, phys=phys, uniq=uniq, axes=STICKS6 + HAT, keys=SONY_MODERN)


def test_two_pads_on_one_bluetooth_adapter_do_not_keep_each_other_alive():
    name = "Wireless Controller"
    pad_a = _sony("/dev/input/event5", name, "dc:0c:2d:11:22:33", BT_ADAPTER)
    motion_a = _sony("/dev/input/event6", name, "dc:0c:2d:11:22:33", BT_ADAPTER, motion=True)
    pad_b = _sony("/dev/input/event8", name, "a4:53:85:44:55:66", BT_ADAPTER)
    motion_b = _sony("/dev/input/event9", name, "a4:53:85:44:55:66", BT_ADAPTER, motion=True)
    devices = [pad_a, motion_a, pad_b, motion_b]
    assert [d.path for d in motion_siblings(pad_a, devices)] == ["/dev/input/event6"]
    assert [d.path for d in motion_siblings(pad_b, devices)] == ["/dev/input/event9"]
    # without uniq a Bluetooth phys (the adapter's address) proves nothing; a USB phys does
    no_uniq = [InputDeviceInfo(d.path, d.name, phys=d.phys, axes=d.axes, keys=d.keys, props=d.props) for d in devices]
    assert motion_siblings(no_uniq[0], no_uniq) == []
    usb_pad = _sony("/dev/input/event5", name, "", "usb-3610000.xhci-2.1/input3")
    usb_motion = _sony("/dev/input/event6", name, "", "usb-3610000.xhci-2.1/input3", motion=True)
    other_usb = _sony("/dev/input/event9", name, "", "usb-3610000.xhci-2.2/input3", motion=True)
    assert same_pad(usb_pad, usb_motion) and not same_pad(usb_pad, other_usb)


def test_teleop_list_names_the_detected_layout_for_each_pad(monkeypatch, capsys):
    legacy = InputDeviceInfo("/dev/input/event2", "Sony Computer Entertainment Wireless Controller",
                             phys="usb-70090000.xusb-2.1/input3", axes=STICKS6 + HAT + MISC6 + MT, keys=GENERIC14)
    modern = _sony("/dev/input/event5", "Sony Interactive Entertainment DualSense Wireless Controller",
                   "e8:47:3a:01:02:03", BT_ADAPTER)
    motion = _sony("/dev/input/event6", "Sony Interactive Entertainment DualSense Wireless Controller",
                   "e8:47:3a:01:02:03", BT_ADAPTER, motion=True)
    keyboard = InputDeviceInfo("/dev/input/event0", "AT Translated Set 2 keyboard", keys=[30, 31])
    devices = [keyboard, legacy, modern, motion]
    monkeypatch.setattr("jetracer.teleop.device.scan_input_devices", lambda *a, **k: devices)
    assert main(["teleop", "--list"]) == 0
    out = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.startswith("/dev")}
    assert "mapping ps4_legacy" in out["/dev/input/event2"] and "kernel < 4.10" in out["/dev/input/event2"]
    assert "motion on this node" in out["/dev/input/event2"]
    assert "mapping ps5 " in out["/dev/input/event5"] and "motion on /dev/input/event6" in out["/dev/input/event5"]
    assert "not a pad" in out["/dev/input/event0"] and "not a pad" in out["/dev/input/event6"]
    assert describe_pad(legacy, devices)[0].name == "ps4_legacy"


def test_mapping_requires_and_excludes_are_checked(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('requires = ["BTN_NOPE"]\n[controls]\nthrottle = "ABS_Y"\n')
    from jetracer.errors import ProfileError

    with pytest.raises(ProfileError, match="BTN_NOPE"):
        load_mapping(str(bad))
    ps4 = load_mapping("ps4")
    assert ps4.matches("Wireless Controller", set(STICKS6), None)  # keys unknown (a replay): not held against it
    assert not ps4.matches("Wireless Controller", set(STICKS6), set(GENERIC14))


def test_a_legacy_ds4s_motion_reports_arm_the_short_deadman():
    """On 4.9 the motion data streams on the pad's own node (no sibling to watch): those reports are
    the keep-alive, so a pad that goes silent while R2 is held is cut after deadman_s, not 5 s."""
    car, twin = make_car()
    clock = FakeClock()
    try:
        teleop = TeleopController(car, deadman_s=0.5, max_throttle=0.5, clock=clock)
        teleop.handle(PadStatus.up("Wireless Controller", GENERIC_RANGES, supported=GENERIC14))
        stream = Stream().report(("ABS_RY", 255))
        for _ in range(10):
            stream.report(("ABS_MISC", 100))  # the accelerometer, continuously
        for ev in decode_bytes(stream.kernel_bytes()):
            clock.advance(0.01)
            teleop.handle(ev)
        assert teleop.has_keepalive and throttle_pulse(car, twin) > 1700
        clock.advance(0.6)  # out of range: nothing more arrives
        teleop.tick()
        assert teleop.deadman_tripped
        assert_throttle_neutral(car, twin)
    finally:
        car.close()
