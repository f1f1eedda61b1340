"""`jetracer doctor` against fake /etc, /proc, /sys, /dev trees (a Nano on JetPack 4.6, an Orin on
JetPack 6, a PC) and against register twins on a virtual I2C bus. It must find what a person
bringing up a car would trip over, say the fix, and never change a PCA9685 register."""

import json
import os
import types

import pytest

from jetracer.doctor import Host, exit_code, format_report, run_checks
from jetracer.doctor.i2c import ReadOnlyBus
from jetracer.doctor.software import opencv_has_gstreamer, torchvision_for
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.i2c.ina219 import INA219Twin
from jetracer.i2c.ssd1306 import SSD1306Twin
from jetracer.profile import Profile, make_car

NANO_RELEASE = "# R32 (release), REVISION: 6.1, GCID: 27863751, BOARD: t210ref, EABI: aarch64, DATE: Mon Jul 26\n"
ORIN_RELEASE = "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May 6\n"
GST_YES = "Video I/O:\n    FFMPEG:                      NO\n    GStreamer:                   YES (1.14.5)\n"
GST_NO = "Video I/O:\n    FFMPEG:                      YES\n    GStreamer:                   NO\n"


def _write(root, rel, text):
    path = os.path.join(str(root), rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def _tree(root, release=None, model=None, i2c=(), video=(), groups="i2c:x:108:jetson\nvideo:x:44:jetson\n"
          "input:x:105:jetson\ngpio:x:999:jetson\n", cpu_khz=(1479000, 1479000)):
    if release:
        _write(root, "etc/nv_tegra_release", release)
        _write(root, "usr/lib/aarch64-linux-gnu/libgomp.so.1", "")
    if model:
        _write(root, "proc/device-tree/model", model + "\x00")
    _write(root, "etc/passwd", "root:x:0:0::/root:/bin/bash\njetson:x:1000:1000::/home/jetson:/bin/bash\n")
    _write(root, "etc/group", "root:x:0:\njetson:x:1000:\n" + groups)
    for n in i2c:
        _write(root, "dev/i2c-%d" % n, "")
    for n in video:
        _write(root, "dev/video%d" % n, "")
    _write(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", str(cpu_khz[0]))
    _write(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", str(cpu_khz[1]))
    os.makedirs(os.path.join(str(root), "home/jetson"), exist_ok=True)
    return str(root)


def _module(__version, **attrs):
    return types.SimpleNamespace(__version__=__version, **attrs)


def _torch(version, cuda="10.2", gpu="NVIDIA Tegra X1"):
    return _module(version, version=types.SimpleNamespace(cuda=cuda),
                   cuda=types.SimpleNamespace(is_available=lambda: gpu is not None, get_device_name=lambda i: gpu))


def _nano_modules(torchvision="0.11.1"):
    return {"torch": _torch("1.10.0"), "torchvision": _module(torchvision), "tensorrt": _module("8.2.1.8"),
            "torch2trt": _module("0.4.0"), "cv2": _module("4.1.1", getBuildInformation=lambda: GST_YES)}


def _car_bus(pca=True, ina=True, oled=True):
    bus = VirtualI2C()
    if pca:
        bus.attach(PCA9685Twin(0x40))
    if ina:
        bus.attach(INA219Twin(0x41, shunt_ohms=0.1, cells=3))
    if oled:
        bus.attach(SSD1306Twin(0x3C))
    return bus


def _profile(engine=""):
    return Profile({"car": {"type": "nvidia", "i2c_bus": 1, "i2c_address": 0x40}, "camera": {"type": "csi"},
                    "engine": {"path": engine}, "battery": {"enabled": True, "i2c_address": 0x41, "cells": 3},
                    "display": {"enabled": True, "i2c_address": 0x3C}}, name="test")


def _host(root, modules, buses, commands=None, env=None):
    default = {"nvpmodel -q": (0, "NV Power Mode: MAXN\n0"), "systemctl is-active nvargus-daemon": (0, "active"),
               "systemctl": (1, "not-found")}
    default.update(commands or {})
    opened = []

    def open_i2c(n):
        opened.append(n)
        return buses.get(n) or VirtualI2C()

    host = Host(root=root, modules=modules, commands=default, user="jetson", machine="aarch64",
                env=env if env is not None else {"HOME": "/home/jetson"}, open_i2c=open_i2c)
    host.opened = opened
    return host


def _by_name(checks):
    return {c.name: c for c in checks}


def test_nano_jetpack_46_in_good_shape_reads_every_chip_and_changes_no_register(tmp_path):
    root = _tree(tmp_path, NANO_RELEASE, "NVIDIA Jetson Nano Developer Kit", i2c=(0, 1), video=(0,))
    bus = _car_bus()
    car = make_car(_profile(), i2c=bus)  # a driver already configured the chip and the car is steering
    car.steering, car.throttle = 0.4, 0.0
    pca = bus.device(0x40)
    before = bytes(pca.regs)
    checks = run_checks(_profile(), host=_host(root, _nano_modules(), {1: bus}), python_version=(3, 6, 9))
    assert bytes(pca.regs) == before, "the doctor changed a PCA9685 register"
    found = _by_name(checks)
    assert "JetPack 4.6" in found["board"].detail and found["board"].status == "ok"
    assert found["python"].status == "ok"
    assert found["torch"].status == "ok" and "torchvision 0.11.1" in found["torch"].detail
    assert "50 Hz" in found["i2c-1 0x40"].detail and "running" in found["i2c-1 0x40"].detail
    steering_us = pca.pulse_us(0)  # what a scope would see, from the twin
    assert "steering %.0f us, throttle %.0f us" % (steering_us, pca.pulse_us(1)) in found["i2c-1 0x40"].detail
    assert abs(steering_us - 1500) > 100  # the held steering shows, not just neutral
    assert "INA219" in found["i2c-1 0x41"].detail and found["i2c-1 0x41"].status == "ok"
    assert "SSD1306" in found["i2c-1 0x3c"].detail
    assert found["nvargus"].status == "ok"
    assert found["opencv"].status == "ok" and "GStreamer yes" in found["opencv"].detail
    # JetPack 4 without the libgomp preload: a warning with the export line, not a failure
    assert found["libgomp"].status == "warning"
    assert "LD_PRELOAD=/usr/lib/aarch64-linux-gnu/libgomp.so.1" in found["libgomp"].fix
    assert exit_code(checks) == 0, format_report(checks)


def test_nano_with_the_usual_bring_up_faults_names_each_fix_and_exits_3(tmp_path):
    root = _tree(tmp_path, NANO_RELEASE, "NVIDIA Jetson Nano Developer Kit", i2c=(1,), video=(0,),
                 groups="i2c:x:108:\nvideo:x:44:\n", cpu_khz=(102000, 1479000))
    bus = _car_bus(pca=False)  # the PWM board is on another address / not wired
    bus.attach(PCA9685Twin(0x41 + 0x20))
    host = _host(root, _nano_modules(torchvision="0.13.0"), {1: bus},
                 commands={"systemctl is-active nvargus-daemon": (3, "failed"),
                           "nvpmodel -q": (0, "NV Power Mode: 5W\n1")})
    host.disk_free = lambda path: (300e6, 32e9)  # a full SD card
    checks = run_checks(_profile(), host=host, python_version=(3, 6, 9))
    found = _by_name(checks)
    assert found["disk"].status == "problem" and "0.3 GB free" in found["disk"].detail
    assert found["clocks"].status == "warning" and "jetson_clocks" in found["clocks"].fix
    assert found["i2c-1 0x40"].status == "problem" and "Remote I/O" in found["i2c-1 0x40"].detail
    assert "answering instead: 0x61" in found["i2c-1 0x40"].detail
    assert "i2cdetect -y -r 1" in found["i2c-1 0x40"].fix
    assert found["torch"].status == "problem" and "torchvision 0.11" in found["torch"].fix
    assert found["nvargus"].status == "problem" and "restart nvargus-daemon" in found["nvargus"].fix
    assert found["groups"].status == "problem" and "usermod -aG i2c,video jetson" in found["groups"].fix
    assert found["power"].status == "warning" and "nvpmodel -m 0" in found["power"].fix
    assert exit_code(checks) == 3
    text = format_report(checks)
    assert "problem  i2c-1 0x40" in text and text.splitlines()[-1].endswith("problems")


def test_nano_libgomp_tls_error_at_torch_import_is_a_problem_with_the_preload_fix(tmp_path):
    root = _tree(tmp_path, NANO_RELEASE, "NVIDIA Jetson Nano Developer Kit", i2c=(1,), video=(0,))
    modules = _nano_modules()
    modules["torch"] = ImportError("/usr/lib/aarch64-linux-gnu/libgomp.so.1: cannot allocate memory in static TLS "
                                   "block")
    checks = run_checks(_profile(), host=_host(root, modules, {1: _car_bus()}), python_version=(3, 6, 9))
    torch = _by_name(checks)["torch"]
    assert torch.status == "problem" and "LD_PRELOAD=" in torch.fix


def test_orin_jetpack_6_flags_wrong_python_and_an_engine_built_elsewhere(tmp_path):
    from jetracer.engine.fileformat import write_engine_file

    root = _tree(tmp_path, ORIN_RELEASE, "NVIDIA Jetson Orin Nano Developer Kit", i2c=(0, 1, 7), video=(0,))
    engine = tmp_path / "model.engine"
    write_engine_file(engine, {"backend": "tensorrt", "precision": "fp16", "tensorrt": "8.2.1.8",
                               "gpu": "NVIDIA Tegra X1", "compute_capability": "5.3"}, b"payload")
    modules = {"torch": _torch("2.3.0", cuda="12.6", gpu="Orin"), "torchvision": _module("0.18.0"),
               "tensorrt": _module("10.3.0"), "cv2": _module("4.8.0", getBuildInformation=lambda: GST_YES),
               "onnxruntime": _module("1.19.0", get_available_providers=lambda: ["CUDAExecutionProvider"])}
    host = _host(root, modules, {1: _car_bus()})
    checks = run_checks(_profile(engine=str(engine)), host=host, python_version=(3, 8, 10))
    found = _by_name(checks)
    assert "JetPack 6.0" in found["board"].detail
    assert found["python"].status == "warning" and "3.10" in found["python"].detail
    assert "libgomp" not in found  # only JetPack 4 has the TLS issue
    assert found["engine"].status == "problem" and "TensorRT 8.2.1.8" in found["engine"].detail
    assert "--backend tensorrt" in found["engine"].fix
    assert found["torch2trt"].status == "warning"  # missing on a Jetson: optional but expected
    assert "CUDA" in found["onnxruntime"].detail
    assert sorted(host.opened) == [0, 1, 7]  # every bus is scanned
    assert exit_code(checks) == 3


def test_pc_is_reported_plainly_and_its_i2c_buses_are_not_scanned(tmp_path):
    root = _tree(tmp_path, i2c=(0, 1, 2), groups="")

    def refuse(n):
        raise AssertionError("scanned a PC's I2C bus %d" % n)

    host = Host(root=root, modules={"torch": _torch("2.14.1", cuda=None, gpu=None), "torchvision": _module("0.29.1"),
                                    "cv2": _module("5.0.0", getBuildInformation=lambda: GST_NO)},
                commands={}, user="jetson", machine="x86_64", env={"HOME": "/home/jetson"}, open_i2c=refuse)
    profile = Profile({"camera": {"type": "usb", "device": "/dev/video0"}}, name="usbcar")
    checks = run_checks(profile, host=host, python_version=(3, 11, 7))
    found = _by_name(checks)
    assert found["board"].status == "ok" and "not a Jetson" in found["board"].detail
    assert "not scanned" in found["i2c"].detail
    assert found["camera"].status == "problem" and "/dev/video0 not found" in found["camera"].detail
    assert found["tensorrt"].status == "ok"  # optional off a Jetson
    assert found["cuda"].status == "ok"


def test_csi_camera_with_pip_opencv_without_gstreamer_is_a_problem(tmp_path):
    root = _tree(tmp_path, NANO_RELEASE, "NVIDIA Jetson Nano Developer Kit", i2c=(1,), video=(0,))
    modules = _nano_modules()
    modules["cv2"] = _module("4.10.0", getBuildInformation=lambda: GST_NO)
    found = _by_name(run_checks(_profile(), host=_host(root, modules, {1: _car_bus()}), python_version=(3, 6, 9)))
    assert found["opencv"].status == "problem" and "GStreamer" in found["opencv"].detail


def test_version_rules():
    assert torchvision_for("1.10.0") == (0, 11) and torchvision_for("2.3.0a0+nv24") == (0, 18)
    assert opencv_has_gstreamer(GST_YES) is True and opencv_has_gstreamer(GST_NO) is False
    assert opencv_has_gstreamer("no such line") is None


def test_read_only_bus_refuses_writes():
    bus = ReadOnlyBus(_car_bus())
    with pytest.raises(PermissionError):
        bus.writeto(0x40, b"\x00\x00")
    with pytest.raises(ValueError):
        bus.read_register(0x40, 0x100)


def test_cli_doctor_sim_json_reads_the_twins_and_leaves_the_pulses(tmp_path, capsys):
    from jetracer.cli import main
    from jetracer.profile import load_profile
    from jetracer.sim.devices import make_sim_bus

    profile = load_profile("sim")
    car = make_car(profile, i2c=make_sim_bus(profile))  # the persistent sim chip, steering held left
    car.steering = -0.5
    chip = make_sim_bus(profile).device(0x40)
    before = bytes(chip.regs)
    rc = main(["doctor", "--sim", "--json", "--grab"])
    report = json.loads(capsys.readouterr().out)
    assert rc == report["exit_code"] == 0
    names = {c["name"]: c for c in report["checks"]}
    assert "PCA9685" in names["i2c-1 0x40"]["detail"] and names["i2c-1 0x41"]["status"] == "ok"
    assert names["frame"]["status"] == "ok" and "224x224 frame" in names["frame"]["detail"]
    assert bytes(make_sim_bus(profile).device(0x40).regs) == before


def test_a_hung_or_broken_camera_is_one_problem_line_not_a_hang():
    import threading

    from jetracer.doctor.devices import grab_frame

    release = threading.Event()

    class Hung:
        def read(self):
            release.wait(5.0)

        def close(self):
            pass

    def broken():
        raise RuntimeError("GStreamer: pipeline failed to start\nlong trace")

    try:
        hung = grab_frame(Hung, timeout_s=0.2)
    finally:
        release.set()
    assert hung.status == "problem" and "no frame within" in hung.detail and "nvargus" in hung.fix
    failed = grab_frame(broken, timeout_s=2.0)
    assert failed.status == "problem" and failed.detail.endswith("pipeline failed to start")
