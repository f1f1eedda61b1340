"""jetracer: an autonomous racecar stack for NVIDIA Jetson, with a faithful simulator.

Importing the package touches no hardware and needs none of the optional pieces (torch2trt,
TensorRT, onnxruntime, OpenCV, evdev); they are imported by the parts that use them.
"""

__version__ = "0.1.0"

__all__ = ["Racecar", "NvidiaRacecar", "WaveshareRacecar", "__version__"]


def __getattr__(name):  # lazy, so `import jetracer` stays light (PEP 562)
    if name in ("Racecar", "NvidiaRacecar", "WaveshareRacecar"):
        from . import racecar

        return getattr(racecar, name)
    raise AttributeError("module 'jetracer' has no attribute %r" % name)
