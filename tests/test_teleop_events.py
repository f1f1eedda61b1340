"""Decoding kernel event records and evdev events, normalising axes, and pad mapping profiles."""

import os
import struct

import pytest
from teleop_helpers import DS4_AXES, DS4_NAME, XBOX_NAME, XPAD_ONE_AXES, Stream

from jetracer.errors import ProfileError
from jetracer.teleop import codes
from jetracer.teleop.events import EVENT_SIZE, AxisInfo, EventDecoder, decode_bytes, from_evdev
from jetracer.teleop.mapping import apply_overrides, button_table, load_mapping, mapping_names, select_mapping, shape
from jetracer.teleop.state import PadState


def test_event_record_is_the_kernels_struct_input_event():
    # 64-bit Linux: struct timeval (2 x long) + u16 type + u16 code + s32 value = 24 bytes
    assert EVENT_SIZE == struct.calcsize("llHHi") == 2 * struct.calcsize("l") + 8
    raw = struct.pack("llHHi", 1700000000, 250000, codes.EV_ABS, codes.ABS["ABS_RZ"], 1023)
    (ev,) = decode_bytes(raw)
    assert (ev.type, ev.code, ev.value) == (codes.EV_ABS, 5, 1023)
    assert ev.timestamp == pytest.approx(1700000000.25)


def test_decoder_keeps_partial_records_between_reads():
    data = Stream().report(("ABS_X", -32768), ("BTN_B", 1)).kernel_bytes()
    decoder = EventDecoder()
    got = decoder.feed(data[:30]) + decoder.feed(data[30:50]) + decoder.feed(data[50:])
    assert [(e.type, e.code, e.value) for e in got] == [(3, 0, -32768), (1, 0x131, 1), (0, 0, 0)]


def test_bytes_and_evdev_objects_decode_the_same():
    stream = Stream().report(("ABS_X", 12000), ("ABS_RZ", 800)).report(("BTN_SOUTH", 1))
    from_bytes = decode_bytes(stream.kernel_bytes())
    from_objects = [from_evdev(e) for e in stream.evdev_events()]
    assert from_bytes == from_objects


def test_code_table_matches_evdev():
    from evdev import ecodes

    for name, code in codes.ABS.items():
        assert ecodes.ecodes[name] == code, name
    for name, code in codes.KEYS.items():
        if name in ecodes.ecodes:
            assert ecodes.ecodes[name] == code, name


def test_axis_normalisation_uses_the_devices_absinfo():
    stick = AxisInfo(-32768, 32767, 128, 16, 0)  # xpad
    assert stick.normalize(32767) == 1.0
    assert stick.normalize(-32768) == -1.0
    assert stick.normalize(100) == 0.0  # inside flat: reads exactly zero
    assert 0.49 < stick.normalize(16384) < 0.51
    ds4 = AxisInfo(0, 255, 0, 0, 128)  # sticks 0..255 centred on 128, up is 0
    assert ds4.normalize(0) == -1.0 and ds4.normalize(255) == 1.0
    trigger = AxisInfo(0, 1023, 0, 4, 0)  # Xbox One trigger; fuzz 4 is noise at rest
    assert trigger.normalize(3, one_sided=True) == 0.0
    assert trigger.normalize(1023, one_sided=True) == 1.0
    assert trigger.normalize(512, one_sided=True) == pytest.approx(0.5, abs=0.01)
    small = AxisInfo(0, 255, 0, 0, 0)  # DS4 / 360 trigger
    assert small.normalize(255, one_sided=True) == 1.0


def test_deadzone_and_expo_shape_values():
    assert shape(0.05, deadzone=0.1) == 0.0
    assert shape(-0.1, deadzone=0.1) == 0.0
    assert shape(1.0, deadzone=0.1, expo=0.5) == 1.0
    assert shape(-1.0, deadzone=0.1, expo=0.5) == -1.0
    assert shape(0.55, deadzone=0.1) == pytest.approx(0.5)  # rescaled past the dead zone
    # expo softens the middle, keeps the sign
    assert shape(0.5, expo=0.6) == pytest.approx(0.4 * 0.5 + 0.6 * 0.125)
    assert shape(-0.5, expo=0.6) == pytest.approx(-(0.4 * 0.5 + 0.6 * 0.125))


def _read(mapping, axes, stream):
    state = PadState(axes)
    result = None
    for ev in decode_bytes(stream.kernel_bytes()):
        if state.apply(ev):
            result = mapping.read(state)
    return result


def test_xbox_mapping_from_kernel_bytes():
    xbox = load_mapping("xbox")
    pad = _read(xbox, XPAD_ONE_AXES, Stream().report(("ABS_X", 32767), ("ABS_RZ", 1023)))
    assert pad.steering == 1.0 and pad.throttle == 1.0  # full right, right trigger = full forward
    pad = _read(xbox, XPAD_ONE_AXES, Stream().report(("ABS_X", -32768), ("ABS_Z", 1023)))
    assert pad.steering == -1.0 and pad.throttle == -1.0  # left trigger reverses
    # physical buttons: B (BTN_EAST code) e-stops, Y (BTN_WEST code, xpad's BTN_Y) cycles, X records
    assert _read(xbox, XPAD_ONE_AXES, Stream().report(("BTN_EAST", 1))).actions == {"estop"}
    assert _read(xbox, XPAD_ONE_AXES, Stream().report(("BTN_WEST", 1))).actions == {"mode"}
    assert _read(xbox, XPAD_ONE_AXES, Stream().report(("BTN_NORTH", 1))).actions == {"record"}
    assert _read(xbox, XPAD_ONE_AXES, Stream().report(("ABS_HAT0Y", -1))).actions == {"throttle_up"}
    both = Stream().report(("BTN_SELECT", 1)).report(("BTN_START", 1))
    assert _read(xbox, XPAD_ONE_AXES, both).actions == {"estop_release"}
    assert _read(xbox, XPAD_ONE_AXES, Stream().report(("BTN_START", 1))).actions == frozenset()


def test_ds4_mapping_from_evdev_objects():
    ps4 = load_mapping("ps4")
    state = PadState(DS4_AXES)
    stream = Stream().report(("ABS_X", 0), ("ABS_RZ", 255)).report(("BTN_NORTH", 1))
    reads = [ps4.read(state) for ev in stream.evdev_events() if state.apply(from_evdev(ev))]
    assert reads[0].steering == -1.0 and reads[0].throttle == 1.0  # R2 is ABS_RZ 0..255
    assert reads[1].actions == {"mode"}  # triangle


def test_stick_throttle_override_from_car_profile():
    xbox = apply_overrides(load_mapping("xbox"), {"throttle_axis": "ABS_RY", "invert_steering": True,
                                                  "deadzone": 0.0, "expo": 0.0})
    pad = _read(xbox, XPAD_ONE_AXES, Stream().report(("ABS_RY", -32768), ("ABS_X", 32767)))
    assert pad.throttle == 1.0  # right stick up drives forward
    assert pad.steering == -1.0  # inverted by the car profile
    with pytest.raises(ProfileError, match="ABS_NOPE"):
        apply_overrides(load_mapping("xbox"), {"steering_axis": "ABS_NOPE"})


@pytest.mark.parametrize("name, axes, expected", [
    ("Microsoft X-Box 360 pad", XPAD_ONE_AXES, "xbox"),
    ("Xbox Wireless Controller", XPAD_ONE_AXES, "xbox"),
    (DS4_NAME, DS4_AXES, "ps4"),
    ("Wireless Controller", DS4_AXES, "ps4"),
    ("Sony Interactive Entertainment DualSense Wireless Controller", DS4_AXES, "ps5"),
    ("Logitech Gamepad F710", XPAD_ONE_AXES, "f710_xinput"),
    ("Logitech Logitech Cordless RumblePad 2", None, "f710_dinput"),
    ("8BitDo Pro 2", XPAD_ONE_AXES, "8bitdo"),
    ("ShanWan USB Gamepad", None, "generic"),
    # same name, another driver's layout (no right stick on ABS_RX): not the xpad mapping
    ("Xbox Wireless Controller", {0: None, 1: None, 2: None, 5: None, 9: None, 10: None}, "generic"),
])
def test_profile_selection_by_device_name(name, axes, expected):
    assert select_mapping(name, axes=set(axes) if axes else None).name == expected


def test_every_shipped_mapping_loads_and_the_override_wins():
    assert {"xbox", "ps4", "ps5", "f710_xinput", "f710_dinput", "8bitdo", "generic"} <= set(mapping_names())
    for name in mapping_names():
        m = load_mapping(name)
        assert m.buttons["estop"] and m.buttons["estop_release"]
    assert select_mapping(XBOX_NAME, override="ps4").name == "ps4"
    table = button_table()
    assert "Xbox" in table and "Circle" in table and "Back + Start" in table


def test_bad_mapping_file_is_one_line_error(tmp_path):
    bad = tmp_path / "mine.toml"
    bad.write_text('[controls]\nsteering = "ABS_X"\nthrottle = "ABS_Y"\n[buttons]\nestop = ["BTN_NOPE"]\n'
                   'estop_release = ["BTN_START"]\n')
    with pytest.raises(ProfileError, match="BTN_NOPE") as err:
        load_mapping(str(bad))
    assert "\n" not in str(err.value)
    with pytest.raises(ProfileError, match="known: "):
        load_mapping("nintendo64")


def test_syn_dropped_discards_until_next_report():
    from jetracer.teleop.events import RawEvent

    state = PadState(XPAD_ONE_AXES)
    x = codes.ABS["ABS_X"]
    seq = [RawEvent(0, 0, codes.EV_ABS, x, 20000), RawEvent(0, 0, codes.EV_SYN, codes.SYN_DROPPED, 0),
           RawEvent(0, 0, codes.EV_ABS, x, -32768), RawEvent(0, 0, codes.EV_SYN, codes.SYN_REPORT, 0)]
    assert [state.apply(e) for e in seq] == [False, False, False, False]  # no whole report to act on
    assert state.values[x] == 20000  # the event inside the damaged span was not kept
    assert state.apply(RawEvent(0, 0, codes.EV_ABS, x, 5)) is False
    assert state.apply(RawEvent(0, 0, codes.EV_SYN, codes.SYN_REPORT, 0)) is True
    assert state.values[x] == 5


def test_kernel_bytes_through_a_pipe_like_an_event_node():
    from jetracer.teleop.device import FdPad

    read_fd, write_fd = os.pipe()
    pad = FdPad(read_fd, name=XBOX_NAME, axes=XPAD_ONE_AXES)
    try:
        os.write(write_fd, Stream().report(("ABS_X", 32767)).kernel_bytes())
        got = pad.read(1.0)
        assert [(e.type, e.code, e.value) for e in got] == [(3, 0, 32767), (0, 0, 0)]
        os.close(write_fd)
        with pytest.raises(OSError):
            pad.read(1.0)
    finally:
        pad.close()
