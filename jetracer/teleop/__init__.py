"""Gamepad teleoperation: a pad on the car (Linux input events), or in the browser (notebooks).

Layers, each usable alone: :mod:`.events` decodes the kernel's event records, :mod:`.state`
rebuilds the pad from them, :mod:`.mapping` turns it into steering/throttle/actions per pad
model (TOML files in ``pads/``), :mod:`.controller` applies that to a car or a pilot with an
e-stop latch and a dead-man, :mod:`.device` finds and reads real pads (needs ``evdev``),
:mod:`.recorder` saves what you drive as an XY dataset, :mod:`.browser` does the same for an
``ipywidgets.Controller``. Nothing here touches a device at import.
"""

from .controller import MODES, TeleopController, is_pilot
from .events import KEEPALIVE, AxisInfo, EventDecoder, PadStatus, RawEvent, decode_bytes, encode_event, from_evdev
from .mapping import PadInput, PadMapping, button_table, load_mapping, mapping_names, select_mapping, shape

__all__ = ["TeleopController", "MODES", "is_pilot", "KEEPALIVE", "AxisInfo", "EventDecoder", "PadStatus", "RawEvent",
           "decode_bytes", "encode_event", "from_evdev", "PadInput", "PadMapping", "button_table", "load_mapping",
           "mapping_names", "select_mapping", "shape"]
