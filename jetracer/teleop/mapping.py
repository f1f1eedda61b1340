"""Pad mapping profiles: which axis steers, which drives, which buttons do what, per pad model.

Profiles are TOML files in ``jetracer/teleop/pads/`` (one per pad family and kernel layout) naming
real Linux evdev codes, chosen by matching the device name against each profile's ``match``
patterns and the device's capabilities against its ``requires``/``excludes`` codes. The same pad
can report different codes on different kernels (a DualShock 4 on L4T's 4.9 kernel is left to
hid-input's generic mapping; on 4.10+ hid-sony maps it to the gamepad spec), so the name alone
never decides.
A car profile's ``[teleop]`` section can pick one by name (``mapping``) and override the
steering/throttle axes, inversion, dead zone and expo (:func:`apply_overrides`).
"""

import collections
import re
import sys
from pathlib import Path

from ..errors import ProfileError
from .codes import ABS, EV_ABS, EV_KEY, code_from_name
from .events import AxisInfo

if sys.version_info >= (3, 11):
    import tomllib as _toml  # novermin (guarded by the version check)
else:
    import tomli as _toml

__all__ = ["ACTIONS", "PadInput", "PadMapping", "shape", "mapping_dir", "mapping_names", "load_mapping",
           "select_mapping", "apply_overrides", "button_table"]

#: button actions a mapping binds, in the order the README table lists them
ACTIONS = ("estop", "estop_release", "mode", "throttle_up", "throttle_down", "record")

#: (steering in [-1, 1], throttle in [-1, 1] before scaling, frozenset of held actions)
PadInput = collections.namedtuple("PadInput", "steering throttle actions")

_CONTROL_KEYS = {"steering", "steering_invert", "throttle", "throttle_invert", "throttle_forward",
                 "throttle_reverse", "deadzone", "expo"}
_TOP_KEYS = {"name", "title", "match", "requires", "excludes", "kernels", "keepalive", "notes", "controls", "buttons",
             "labels", "ranges"}


def shape(value, deadzone=0.0, expo=0.0):
    """Dead zone, then expo: ``|x| <= deadzone`` reads 0 and the rest is rescaled to reach 1;
    expo blends linear and cubic (``(1-e)*x + e*x**3``) for fine control near centre."""
    magnitude = abs(value)
    if magnitude <= deadzone:
        return 0.0
    magnitude = min(1.0, (magnitude - deadzone) / (1.0 - deadzone)) if deadzone < 1.0 else 0.0
    magnitude = (1.0 - expo) * magnitude + expo * magnitude ** 3
    return magnitude if value > 0 else -magnitude


class _Token(collections.namedtuple("_Token", "type code sign")):
    """One element of a button binding: a key, or one half of an axis (``ABS_HAT0Y-``)."""

    __slots__ = ()

    def held(self, state):
        if self.type == EV_ABS:
            return state.axis(self.code) * self.sign >= 0.5
        return state.pressed(self.code)


def _parse_binding(text, where):
    """``"BTN_SELECT+BTN_START"`` -> tuple of tokens that must all be held."""
    tokens = []
    for part in re.split(r"\+(?=\s*[A-Za-z])", text):  # '+' joins codes; a trailing '+' is a direction
        part = part.strip()
        sign = 0
        if part.startswith("ABS_") and part[-1:] in "+-" and len(part) > 5:
            sign = 1 if part[-1] == "+" else -1
            part = part[:-1]
        try:
            ev_type, code = code_from_name(part)
        except KeyError:
            raise ProfileError("%s: unknown input code %r in binding %r (use names like BTN_SOUTH, ABS_HAT0Y-)"
                               % (where, part, text)) from None
        if ev_type == EV_ABS and sign == 0:
            raise ProfileError("%s: axis %r in binding %r needs a direction, e.g. %s- or %s+"
                               % (where, part, text, part, part))
        tokens.append(_Token(ev_type, code, sign))
    return tuple(tokens)


def _capability(name, where, key):
    """``"BTN_C"`` -> (EV_KEY, 0x132): a code a device may report, for ``requires``/``excludes``."""
    try:
        return code_from_name(str(name))
    except KeyError:
        raise ProfileError("%s: %s names %r, not an ABS_ or BTN_ code" % (where, key, name)) from None


def _axis_code(name, where, key):
    if name in ("", None):
        return None
    if name not in ABS:
        raise ProfileError("%s: %s = %r is not an absolute axis (known: %s)" % (where, key, name, ", ".join(ABS)))
    return ABS[name]


class PadMapping:
    """One pad family's mapping. ``read(state)`` turns a :class:`PadState` into a :class:`PadInput`."""

    def __init__(self, data, where="mapping"):
        unknown = set(data) - _TOP_KEYS
        if unknown:
            raise ProfileError("%s: unknown key(s) %s" % (where, ", ".join(sorted(unknown))))
        self.where = where
        self.name = str(data.get("name", Path(str(where)).stem))
        self.title = str(data.get("title", self.name))
        self.notes = str(data.get("notes", ""))
        self.match = [re.compile(p) for p in data.get("match", [])]
        self.requires = [_capability(n, where, "requires") for n in data.get("requires", [])]
        self.excludes = [_capability(n, where, "excludes") for n in data.get("excludes", [])]
        self.kernels = str(data.get("kernels", ""))
        #: axes that report all the time while the pad is on (motion sensors on the pad's own node):
        #: their events are keep-alives, which arm the short dead-man
        self.keepalive = frozenset(_axis_code(n, where, "keepalive") for n in data.get("keepalive", []))
        controls = dict(data.get("controls", {}))
        unknown = set(controls) - _CONTROL_KEYS
        if unknown:
            raise ProfileError("%s: unknown [controls] key(s) %s" % (where, ", ".join(sorted(unknown))))
        self.steering = _axis_code(controls.get("steering", "ABS_X"), where, "steering")
        self.steering_invert = bool(controls.get("steering_invert", False))
        self.throttle = _axis_code(controls.get("throttle", ""), where, "throttle")
        self.throttle_invert = bool(controls.get("throttle_invert", True))
        self.throttle_forward = _axis_code(controls.get("throttle_forward", ""), where, "throttle_forward")
        self.throttle_reverse = _axis_code(controls.get("throttle_reverse", ""), where, "throttle_reverse")
        if self.throttle is None and self.throttle_forward is None:
            raise ProfileError("%s: [controls] needs throttle (one axis) or throttle_forward (a trigger)" % where)
        self.deadzone = float(controls.get("deadzone", 0.08))
        self.expo = float(controls.get("expo", 0.0))
        if not (0.0 <= self.deadzone < 1.0 and 0.0 <= self.expo <= 1.0):
            raise ProfileError("%s: deadzone must be in [0, 1) and expo in [0, 1]" % where)
        buttons = dict(data.get("buttons", {}))
        unknown = set(buttons) - set(ACTIONS)
        if unknown:
            raise ProfileError("%s: unknown button action(s) %s (known: %s)"
                               % (where, ", ".join(sorted(unknown)), ", ".join(ACTIONS)))
        self.buttons = {}
        for action, bindings in buttons.items():
            if isinstance(bindings, str):
                bindings = [bindings]
            self.buttons[action] = [_parse_binding(b, where) for b in bindings]
        if "estop" in self.buttons and "estop_release" not in self.buttons:
            raise ProfileError("%s: an estop button needs an estop_release binding" % where)
        self.labels = {str(k): str(v) for k, v in data.get("labels", {}).items()}
        self.ranges = {}
        triggers = (self.throttle_forward, self.throttle_reverse)
        for name, values in data.get("ranges", {}).items():
            code = _axis_code(name, where, "ranges")
            lo, hi, flat, fuzz = (list(values) + [0, 0])[:4]
            # where the axis rests before its first event: a trigger released, a stick (or a hat) centred
            rest = lo if code in triggers else (lo + hi + 1) // 2
            self.ranges[code] = AxisInfo(int(lo), int(hi), int(flat), int(fuzz), int(rest))

    def __repr__(self):
        return "PadMapping(%r)" % self.name

    def matches(self, device_name, axes=None, keys=None):
        """Whether the name fits a ``match`` pattern and the device's capabilities fit the layout:
        every code in ``requires`` reported, none in ``excludes`` (same name, other driver or
        kernel, other layout). ``axes``/``keys`` are the device's ABS and KEY codes (EVIOCGBIT);
        a set left as None is unknown (a replay) and not checked."""
        known = {EV_ABS: axes, EV_KEY: keys}
        for ev_type, code in self.requires:
            if known[ev_type] is not None and code not in known[ev_type]:
                return False
        for ev_type, code in self.excludes:
            if known[ev_type] is not None and code in known[ev_type]:
                return False
        return any(p.search(device_name or "") for p in self.match)

    def axis_codes(self):
        return [c for c in (self.steering, self.throttle, self.throttle_forward, self.throttle_reverse)
                if c is not None]

    def read(self, state):
        """Steering and throttle (dead zone and expo applied, before throttle scaling) and the
        actions whose bindings are all held."""
        steering = state.axis(self.steering, default_info=self.ranges.get(self.steering)) if self.steering is not None \
            else 0.0
        if self.steering_invert:
            steering = -steering
        if self.throttle is not None:
            throttle = state.axis(self.throttle, default_info=self.ranges.get(self.throttle))
            if self.throttle_invert:
                throttle = -throttle
        else:
            forward = state.axis(self.throttle_forward, one_sided=True,
                                 default_info=self.ranges.get(self.throttle_forward))
            reverse = 0.0
            if self.throttle_reverse is not None:
                reverse = state.axis(self.throttle_reverse, one_sided=True,
                                     default_info=self.ranges.get(self.throttle_reverse))
            throttle = forward - reverse
        steering = shape(steering, self.deadzone, self.expo)
        throttle = shape(throttle, self.deadzone, self.expo)
        held = frozenset(action for action, bindings in self.buttons.items()
                         if any(all(t.held(state) for t in binding) for binding in bindings))
        return PadInput(steering, throttle, held)


def mapping_dir():
    return Path(__file__).resolve().parent / "pads"


def mapping_names():
    """Shipped mapping names, most specific first and ``generic`` (the fallback) last."""
    names = sorted(p.stem for p in mapping_dir().glob("*.toml"))
    if "generic" in names:
        names.remove("generic")
        names.append("generic")
    return names


def load_mapping(name_or_path):
    """A shipped mapping by name (``xbox``, ``ps4``...) or a TOML file path."""
    if isinstance(name_or_path, PadMapping):
        return name_or_path
    path = Path(str(name_or_path))
    if path.suffix != ".toml":
        path = mapping_dir() / (str(name_or_path) + ".toml")
        if not path.is_file():
            raise ProfileError("no pad mapping named %r (known: %s); or give a .toml path"
                               % (name_or_path, ", ".join(mapping_names())))
    try:
        with open(str(path), "rb") as f:
            data = _toml.load(f)
    except OSError as exc:
        raise ProfileError("cannot read pad mapping %s: %s" % (path, exc.strerror)) from None
    except _toml.TOMLDecodeError as exc:
        raise ProfileError("%s: not valid TOML: %s" % (path, exc)) from None
    data.setdefault("name", path.stem)
    return PadMapping(data, where=str(path))


def select_mapping(device_name, override="", axes=None, keys=None):
    """The mapping for a pad: ``override`` (a name or path) when given, else the first shipped
    mapping whose ``match`` patterns fit ``device_name`` and whose ``requires``/``excludes`` fit
    the device's capabilities (``axes``, ``keys``: the ABS and KEY codes it reports, when known),
    else ``generic``."""
    if override:
        return load_mapping(override)
    for name in mapping_names():
        mapping = load_mapping(name)
        if mapping.matches(device_name, axes, keys):
            return mapping
    return load_mapping("generic")


def apply_overrides(mapping, teleop):
    """Apply a car profile's ``[teleop]`` overrides (a dict) to ``mapping`` in place and return it.

    ``steering_axis``/``throttle_axis`` replace the axes (a ``throttle_axis`` drives on one axis,
    up = forward by Linux convention, instead of triggers); ``invert_steering``/``invert_throttle``
    flip the direction; ``deadzone``/``expo`` replace the shaping when not negative.
    """
    where = "[teleop] in the car profile"
    if teleop.get("steering_axis"):
        mapping.steering = _axis_code(teleop["steering_axis"], where, "steering_axis")
    if teleop.get("throttle_axis"):
        mapping.throttle = _axis_code(teleop["throttle_axis"], where, "throttle_axis")
        mapping.throttle_invert = True
    if teleop.get("invert_steering"):
        mapping.steering_invert = not mapping.steering_invert
    if teleop.get("invert_throttle"):
        if mapping.throttle is not None:
            mapping.throttle_invert = not mapping.throttle_invert
        else:
            mapping.throttle_forward, mapping.throttle_reverse = mapping.throttle_reverse, mapping.throttle_forward
            if mapping.throttle_forward is None:
                raise ProfileError("%s: invert_throttle needs a reverse trigger in mapping %r" % (where, mapping.name))
    deadzone = teleop.get("deadzone", -1.0)
    if deadzone is not None and deadzone >= 0:
        if deadzone >= 1.0:
            raise ProfileError("%s: deadzone must be below 1, got %r" % (where, deadzone))
        mapping.deadzone = float(deadzone)
    expo = teleop.get("expo", -1.0)
    if expo is not None and expo >= 0:
        if expo > 1.0:
            raise ProfileError("%s: expo must be in [0, 1], got %r" % (where, expo))
        mapping.expo = float(expo)
    return mapping


def button_table(names=None):
    """A Markdown table of the controls per shipped mapping (the README's "Drive by hand")."""
    names = names or mapping_names()
    mappings = [load_mapping(n) for n in names]
    rows = [("steering", "Steer"), ("throttle", "Throttle")] + [
        ("estop", "E-stop (latched)"), ("estop_release", "Release e-stop"), ("mode", "Mode: manual > steer > auto"),
        ("throttle_up", "Throttle scale +"), ("throttle_down", "Throttle scale -"), ("record", "Record on/off")]
    lines = ["| | " + " | ".join(m.title for m in mappings) + " |",
             "|---|" + "---|" * len(mappings)]
    for key, label in rows:
        lines.append("| %s | %s |" % (label, " | ".join(m.labels.get(key, "-") for m in mappings)))
    lines.append("| Checked against | %s |" % " | ".join(m.kernels or "-" for m in mappings))
    return "\n".join(lines)
