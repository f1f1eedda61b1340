"""Linux input event codes used by gamepads, from ``include/uapi/linux/input-event-codes.h``.

Kept here (a few dozen numbers) so decoding and mapping work without the optional ``evdev``
package: recorded streams replay, and mapping files validate, on any machine.
"""

__all__ = ["EV_SYN", "EV_KEY", "EV_ABS", "EV_MSC", "SYN_REPORT", "SYN_DROPPED", "ABS", "KEYS",
           "code_from_name", "name_of", "GAMEPAD_BUTTONS", "JOYSTICK_BUTTONS"]

EV_SYN, EV_KEY, EV_REL, EV_ABS, EV_MSC = 0x00, 0x01, 0x02, 0x03, 0x04
SYN_REPORT, SYN_DROPPED = 0, 3

#: absolute axes
ABS = {
    "ABS_X": 0x00, "ABS_Y": 0x01, "ABS_Z": 0x02, "ABS_RX": 0x03, "ABS_RY": 0x04, "ABS_RZ": 0x05,
    "ABS_THROTTLE": 0x06, "ABS_RUDDER": 0x07, "ABS_WHEEL": 0x08, "ABS_GAS": 0x09, "ABS_BRAKE": 0x0A,
    "ABS_HAT0X": 0x10, "ABS_HAT0Y": 0x11, "ABS_HAT1X": 0x12, "ABS_HAT1Y": 0x13,
    "ABS_HAT2X": 0x14, "ABS_HAT2Y": 0x15, "ABS_HAT3X": 0x16, "ABS_HAT3Y": 0x17,
    # where hid-input puts usages it has no name for: on a 4.9 kernel, a DualShock 4's
    # accelerometers and gyroscopes (hid-sony's fixed descriptor) land on ABS_MISC and the next free codes
    "ABS_MISC": 0x28,
}

#: joystick-class buttons (DirectInput pads on hid-generic report these)
JOYSTICK_BUTTONS = {
    "BTN_TRIGGER": 0x120, "BTN_THUMB": 0x121, "BTN_THUMB2": 0x122, "BTN_TOP": 0x123, "BTN_TOP2": 0x124,
    "BTN_PINKIE": 0x125, "BTN_BASE": 0x126, "BTN_BASE2": 0x127, "BTN_BASE3": 0x128, "BTN_BASE4": 0x129,
    "BTN_BASE5": 0x12A, "BTN_BASE6": 0x12B,
}

#: gamepad-class buttons (Documentation/input/gamepad.rst). BTN_A..BTN_Y are aliases the xpad
#: driver uses: note BTN_X == BTN_NORTH and BTN_Y == BTN_WEST, so on an Xbox pad the physical
#: X (left) button reports BTN_NORTH's code.
GAMEPAD_BUTTONS = {
    "BTN_SOUTH": 0x130, "BTN_EAST": 0x131, "BTN_C": 0x132, "BTN_NORTH": 0x133, "BTN_WEST": 0x134,
    "BTN_Z": 0x135, "BTN_TL": 0x136, "BTN_TR": 0x137, "BTN_TL2": 0x138, "BTN_TR2": 0x139,
    "BTN_SELECT": 0x13A, "BTN_START": 0x13B, "BTN_MODE": 0x13C, "BTN_THUMBL": 0x13D, "BTN_THUMBR": 0x13E,
    "BTN_DPAD_UP": 0x220, "BTN_DPAD_DOWN": 0x221, "BTN_DPAD_LEFT": 0x222, "BTN_DPAD_RIGHT": 0x223,
}

_ALIASES = {"BTN_A": 0x130, "BTN_B": 0x131, "BTN_X": 0x133, "BTN_Y": 0x134, "BTN_GAMEPAD": 0x130,
            "BTN_JOYSTICK": 0x120}

KEYS = dict(JOYSTICK_BUTTONS, **GAMEPAD_BUTTONS, **_ALIASES)


def code_from_name(name):
    """``("ABS_X") -> (EV_ABS, 0)``; ``("BTN_A") -> (EV_KEY, 0x130)``; KeyError when unknown."""
    if name in ABS:
        return EV_ABS, ABS[name]
    if name in KEYS:
        return EV_KEY, KEYS[name]
    raise KeyError(name)


_ABS_NAMES = {v: k for k, v in ABS.items()}
_KEY_NAMES = {v: k for k, v in dict(JOYSTICK_BUTTONS, **GAMEPAD_BUTTONS).items()}


def name_of(ev_type, code):
    """Canonical name of an event code, or ``TYPE:0xCODE`` when it is not a gamepad code."""
    table = _ABS_NAMES if ev_type == EV_ABS else _KEY_NAMES if ev_type == EV_KEY else {}
    return table.get(code, "%d:0x%03x" % (ev_type, code))
