"""jetracer: an autonomous racecar stack for NVIDIA Jetson, with a faithful simulator.

Importing the package touches no hardware and needs none of the optional pieces (torch2trt,
TensorRT, onnxruntime, OpenCV, evdev); they are imported by the parts that use them.
"""

__version__ = "0.1.0"

__all__ = ["Racecar", "NvidiaRacecar", "WaveshareRacecar", "__version__"]


from typing import TYPE_CHECKING

from .util.lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy table below gives, for type checkers (nothing is imported at run time)
    from .racecar import NvidiaRacecar, Racecar, WaveshareRacecar

# lazy, so `import jetracer` stays light; a module subclass rather than PEP 562 (Python 3.6 has none)
lazy_exports(__name__, {"Racecar": ".racecar", "NvidiaRacecar": ".racecar", "WaveshareRacecar": ".racecar"})
