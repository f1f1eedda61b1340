"""What a pad looks like right now, rebuilt from its event stream."""

from .codes import EV_ABS, EV_KEY, EV_SYN, SYN_DROPPED, SYN_REPORT
from .events import AxisInfo

__all__ = ["PadState"]


class PadState:
    """Raw axis values and held keys of one pad, with each axis' declared range.

    ``apply(event)`` returns True at the end of a report (``SYN_REPORT``): the moment the pad's
    state is whole and worth acting on. After ``SYN_DROPPED`` the kernel's buffer overflowed and
    events were lost; everything up to the next ``SYN_REPORT`` is discarded, as the evdev
    protocol asks, and the reader resynchronises with a fresh snapshot (:meth:`reset`).
    """

    def __init__(self, axes=None, keys=()):
        self.reset(axes or {}, keys)

    def reset(self, axes, keys=()):
        self.info = {code: info for code, info in axes.items()}
        self.values = {code: info.value for code, info in axes.items()}
        self.keys = set(keys)
        self._dropping = False

    def apply(self, event):
        if event.type == EV_SYN:
            if event.code == SYN_DROPPED:
                self._dropping = True
                return False
            if event.code == SYN_REPORT:
                was_dropping, self._dropping = self._dropping, False
                return not was_dropping
            return False
        if self._dropping:
            return False
        if event.type == EV_ABS:
            self.values[event.code] = event.value
        elif event.type == EV_KEY:
            if event.value:  # 1 press, 2 autorepeat
                self.keys.add(event.code)
            else:
                self.keys.discard(event.code)
        return False

    def axis(self, code, one_sided=False, default_info=None):
        """Normalised value of axis ``code`` (0 when the pad has no such axis)."""
        info = self.info.get(code, default_info)
        if info is None:
            return 0.0
        raw = self.values.get(code, info.value)
        return info.normalize(raw, one_sided=one_sided)

    def pressed(self, code):
        return code in self.keys

    def ensure_axis_info(self, code, info):
        """Declare a range for an axis the device did not describe (replays without a device)."""
        if code not in self.info:
            self.info[code] = AxisInfo(*info)
            self.values.setdefault(code, self.info[code].value)
