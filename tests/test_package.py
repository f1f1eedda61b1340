"""The package imports, and the car works, with none of the optional pieces installed; nothing
touches hardware at import."""

import sys

from helpers import run_captured

OPTIONAL = ["torch", "torchvision", "cv2", "onnxruntime", "onnx", "tensorrt", "torch2trt", "evdev", "ipywidgets",
            "jetcam", "psutil"]

SCRIPT = r"""
import importlib.abc, sys
BLOCKED = set(%r)

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError("blocked for this test: " + name)
        return None

sys.meta_path.insert(0, Blocker())
import jetracer
from jetracer import NvidiaRacecar
from jetracer.cli import build_parser
from jetracer.i2c import PCA9685Twin, VirtualI2C
build_parser()  # every subcommand's arguments, without their heavy dependencies
bus = VirtualI2C(); chip = bus.attach(PCA9685Twin(0x40))
car = NvidiaRacecar(i2c=bus); car.throttle = 0.5
print("ok", round(chip.pulse_us(1)))
"""


def test_imports_and_drives_without_optional_dependencies():
    result = run_captured([sys.executable, "-c", SCRIPT % OPTIONAL])
    assert result.returncode == 0, result.stderr
    word, pulse = result.stdout.split()
    assert word == "ok" and abs(int(pulse) - (1500 + 0.5 * 0.8 * 750)) <= 3  # within one 4.9 us tick


def test_import_touches_nothing_heavy():
    code = ("import sys, jetracer, jetracer.cli; jetracer.cli.build_parser(); "
            "print(sorted(m for m in %r if m in sys.modules))" % OPTIONAL)
    result = run_captured([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version_and_module_entry_point():
    result = run_captured([sys.executable, "-m", "jetracer", "--help"])
    assert result.returncode == 0 and "drive" in result.stdout and "calibrate" in result.stdout
