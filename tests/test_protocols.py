"""The seams as Protocols: every part we ship fits the one the pilot and the rig call, a duck that
lacks a member does not, and the Python 3.6 fallback (no typing.Protocol) checks the same way."""

import subprocess
import sys
import time

import numpy as np
import pytest

from jetracer import protocols
from jetracer.protocols import Battery, Camera, Clock, Engine, Policy, StructuralBase, protocol_members


def camera_backends():
    from jetracer.camera import CSICamera, JetCamCamera, SimCamera, USBCamera, VideoCamera

    return [CSICamera, USBCamera, VideoCamera, JetCamCamera, SimCamera]


def test_the_protocols_name_what_the_pilot_and_the_rig_call():
    assert protocol_members(Camera) == ("close", "height", "latest", "read_frame", "running", "start", "stop",
                                        "wait_frame", "width")
    assert protocol_members(Engine) == ("__call__", "predict")
    assert protocol_members(Policy) == ("__call__",)
    assert protocol_members(Battery) == ("clock", "close", "error", "percent", "start", "state", "stop", "update")
    assert protocol_members(Clock) == ("__call__",)


@pytest.mark.parametrize("backend", camera_backends(), ids=lambda cls: cls.__name__)
def test_every_camera_backend_has_the_camera_protocols_members(backend):
    assert [name for name in protocol_members(Camera) if not hasattr(backend, name)] == []


def test_a_camera_instance_is_a_camera_and_a_half_camera_is_not():
    from jetracer.camera import Camera as CameraBase

    class StillCamera(CameraBase):
        def _open(self):
            pass

        def _grab(self):
            return np.zeros((self.height, self.width, 3), np.uint8)

    camera = StillCamera(width=8, height=6)
    try:
        assert isinstance(camera, Camera)
        assert camera.read_frame().image.shape == (6, 8, 3)
    finally:
        camera.close()

    class OnlyReads:
        running, width, height = False, 8, 6

        def read_frame(self):
            return None

    assert not isinstance(OnlyReads(), Camera)  # no wait_frame/start/stop/close: the rig would crash on it


def battery_monitor():
    from jetracer.i2c import VirtualI2C
    from jetracer.i2c.ina219 import INA219Twin
    from jetracer.status.battery import BatteryMonitor

    bus = VirtualI2C()
    bus.attach(INA219Twin(0x41, cells=3))
    return BatteryMonitor(bus, address=0x41, cells=3)


def test_our_engine_and_battery_monitor_fit_and_plain_callables_are_policies_and_clocks():
    from jetracer.engine.base import Engine as EngineBase

    assert [name for name in protocol_members(Engine) if not hasattr(EngineBase, name)] == []
    monitor = battery_monitor()
    assert [name for name in protocol_members(Battery) if not hasattr(monitor, name)] == []
    assert isinstance(monitor, Battery)
    assert isinstance(time.monotonic, Clock)
    assert isinstance(lambda frame: (0.0, 0.1), Policy)
    assert not isinstance(0.5, Clock)
    assert not isinstance(lambda image: (0.0, 0.0), Engine)  # an engine must also predict()

    class Blind:
        state, percent = "ok", 50.0

        def update(self):
            pass

    assert not isinstance(Blind(), Battery)  # no error/start/stop: the pilot could not tell it is blind


class Sized(StructuralBase):
    """A protocol declared on the fallback base, as Python 3.6 without typing_extensions gets it."""

    size: int

    def grow(self):
        ...


def test_the_python36_fallback_checks_members_structurally():
    class Duck:
        size = 3

        def grow(self):
            return self.size + 1

    class NoGrow:
        size = 3

    class Declared(Sized):  # says it implements the protocol: nominal, like typing.Protocol
        pass

    class Child(Declared):
        pass

    assert protocol_members(Sized) == ("grow", "size")
    assert isinstance(Duck(), Sized)
    assert not isinstance(NoGrow(), Sized)
    assert not isinstance(object(), Sized)
    assert isinstance(Declared(), Sized)
    assert isinstance(Child(), Declared) and not isinstance(Duck(), Declared)  # implementations stay nominal


def test_the_protocol_base_is_typing_s_where_there_is_one():
    if sys.version_info >= (3, 8):
        import typing

        assert protocols.Protocol is typing.Protocol
    else:
        try:
            import typing_extensions
        except ImportError:
            assert protocols.Protocol is StructuralBase
        else:
            assert protocols.Protocol is typing_extensions.Protocol


@pytest.mark.skipif(sys.version_info >= (3, 8), reason="typing.Protocol exists here")
def test_without_typing_extensions_python36_still_checks_the_shipped_protocols():
    code = "\n".join([
        "import sys, time",
        "sys.modules['typing_extensions'] = None  # not installed",
        "from jetracer import protocols as p",
        "assert p.Protocol is p.StructuralBase, p.Protocol",
        "assert isinstance(time.monotonic, p.Clock) and not isinstance(1.0, p.Clock)",
        "assert isinstance(lambda frame: (0.0, 0.0), p.Policy)",
        "assert not isinstance(object(), p.Battery)",
        "from jetracer.camera import Camera",  # the capture base: a Camera by its members, not its bases
        "class Still(Camera):",
        "    def _open(self): pass",
        "assert isinstance(Still(width=4, height=4), p.Camera)",
        "assert p.protocol_members(p.Camera) == ('close', 'height', 'latest', 'read_frame', 'running', 'start', "
        "'stop', 'wait_frame', 'width'), p.protocol_members(p.Camera)",
    ])
    result = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 0, result.stdout.decode(errors="replace")
