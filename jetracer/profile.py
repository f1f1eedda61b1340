"""Car profiles: one TOML file per car, validated against a schema, turned into configured objects.

A profile names the car type, I2C wiring, gains and limits, camera, engine, pilot, battery and
display settings. Every key has a type and a default here, so a profile only states what differs,
and a typo is an error naming the key and the file instead of a setting silently ignored.
"""

import math
import os
import sys
from pathlib import Path

from .errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib as _toml  # novermin (guarded by the version check)
else:  # Python 3.8-3.10 (the Jetson images)
    import tomli as _toml

__all__ = ["SCHEMA", "Profile", "load_profile", "profile_dirs", "resolve_profile_path", "make_car",
           "save_profile_values", "default_profile_name"]

# section -> key -> (type, default, help). ``float`` keys accept integers.
SCHEMA = {
    "car": {
        "name": (str, "car", "a name for logs and the OLED"),
        "type": (str, "nvidia", "nvidia (servo + ESC on one PCA9685) or waveshare (AI kit)"),
        "i2c_bus": (int, 1, "I2C bus number (the 40-pin header is 1 on a Nano)"),
        "i2c_address": (int, 0x40, "PCA9685 address for steering (and the ESC on nvidia cars)"),
        "steering_channel": (int, 0, ""),
        "throttle_channel": (int, 1, "ESC channel (nvidia cars)"),
        "steering_gain": (float, -0.65, "servo value per unit steering; the sign sets the direction"),
        "steering_offset": (float, 0.0, "servo value at steering 0 (trim)"),
        "throttle_gain": (float, 0.8, ""),
        "throttle_offset": (float, 0.0, "ESC value at throttle 0 (trim to the ESC's neutral)"),
        "throttle_forward_limit": (float, 1.0, "largest forward throttle accepted"),
        "throttle_reverse_limit": (float, 1.0, "largest reverse throttle accepted (magnitude)"),
        "pwm_frequency": (float, 50.0, "Hz; 50 for hobby servos and ESCs"),
        "steering_min_pulse_us": (float, 750.0, ""),
        "steering_max_pulse_us": (float, 2250.0, ""),
        "throttle_min_pulse_us": (float, 750.0, ""),
        "throttle_max_pulse_us": (float, 2250.0, ""),
        "motor_i2c_address": (int, 0x60, "motor PCA9685 (waveshare)"),
        "motor_pwm_frequency": (float, 1600.0, "motor PWM frequency (waveshare)"),
    },
    "camera": {
        "type": (str, "csi", "csi, usb, video or sim"),
        "width": (int, 224, "frame width delivered to the pilot"),
        "height": (int, 224, ""),
        "capture_width": (int, 1280, "sensor capture size (csi/usb)"),
        "capture_height": (int, 720, ""),
        "fps": (float, 30.0, ""),
        "flip": (int, 0, "flip-method 0-7, nvvidconv numbering for every camera type: 0 none, 2 rotate 180"),
        "sensor_id": (int, 0, "CSI sensor id"),
        "sensor_mode": (int, -1, "CSI sensor mode; -1 lets Argus choose"),
        "device": (str, "/dev/video0", "USB camera device"),
        "format": (str, "raw", "USB camera stream: raw or mjpeg"),
        "path": (str, "", "video file or image folder (video camera)"),
        "loop": (bool, True, "replay the video forever (video camera)"),
        "stale_limit_s": (float, 0.5, "no new frame for this long marks the camera stalled"),
        "mount_height_m": (float, 0.12, "lens height above the floor (simulator)"),
        "pitch_deg": (float, 20.0, "downward tilt of the camera (simulator)"),
        "lens": (str, "fisheye", "fisheye or pinhole (simulator)"),
        "fov_deg": (float, 160.0, "diagonal field of view of the lens (simulator)"),
    },
    "engine": {
        "path": (str, "", "model (.pth) or engine file; relative paths are from the profile's repo"),
        "backend": (str, "auto", "auto, tensorrt, onnxruntime or torch"),
        "precision": (str, "auto", "auto, fp32, fp16 or int8"),
    },
    "pilot": {
        "mode": (str, "steer", "start mode: stopped, manual, steer or auto (auto must be explicit)"),
        "steering_gain": (float, 0.75, "steering = x * gain + bias, as in JetRacer"),
        "steering_bias": (float, 0.0, ""),
        "steering_kd": (float, 0.0, "derivative gain on x (per second); damps the wobble"),
        "throttle": (float, 0.2, "constant throttle (auto mode)"),
        "throttle_mode": (str, "constant", "constant or adaptive"),
        "throttle_min": (float, 0.12, "adaptive: throttle in the tightest corner"),
        "throttle_x_slowdown": (float, 1.0, "adaptive: how much |x| reduces the throttle"),
        "throttle_forward_limit": (float, 0.5, "the pilot never commands more than this"),
        "throttle_reverse_limit": (float, 0.0, "the pilot never reverses more than this"),
        "stale_frame_s": (float, 0.25, "act on no frame older than this; neutral when exceeded"),
        "loop_hz": (float, 0.0, "pace the loop; 0 runs at the camera's rate"),
        "log_path": (str, "", "rotating JSONL telemetry log; empty for none"),
        "status_period_s": (float, 5.0, "terminal status line period"),
        "road_monitor": (bool, True, "slow, then stop with road_lost, when the network is not seeing a road it knows"),
        "road_probe_every": (int, 4, "road monitor: probe the network every N frames (3 extra inferences each)"),
        "road_lost_at": (float, 0.7, "road monitor: suspicion 0-1 at which the car stops"),
        "speed_from_model": (bool, True, "take the throttle from the network when the model has a throttle output"),
    },
    "battery": {
        "enabled": (bool, False, ""),
        "i2c_address": (int, 0x41, "INA219 address (Waveshare AI kit / UPS: 0x41 or 0x42)"),
        "chemistry": (str, "lipo", "lipo or liion"),
        "cells": (int, 3, "cells in series"),
        "shunt_ohms": (float, 0.1, ""),
        "low_percent": (float, 20.0, "warn below this"),
        "critical_percent": (float, 8.0, "stop the car below this"),
        "smoothing_s": (float, 5.0, "time constant of the voltage filter"),
        "hysteresis_percent": (float, 3.0, "leaving low/critical needs this much more charge than entering"),
        "internal_resistance_ohms": (float, 0.05, "pack + wiring resistance; current x this is added back for sag"),
        "period_s": (float, 1.0, "seconds between readings"),
    },
    "display": {
        "enabled": (bool, False, ""),
        "i2c_address": (int, 0x3C, "SSD1306 address"),
        "width": (int, 128, ""),
        "height": (int, 32, "32 or 64"),
        "refresh_s": (float, 1.0, ""),
        "page_s": (float, 4.0, "seconds per page"),
    },
    "teleop": {
        "device": (str, "", "gamepad name or /dev/input/eventN; empty picks the first pad"),
        "mapping": (str, "", "pad mapping profile name; empty chooses by device name"),
        "deadman_s": (float, 0.5, "pads with a keep-alive (Sony motion sensors, browser): silence this long "
                                   "while moving -> neutral; in auto, e-stop"),
        "max_throttle": (float, 0.5, "throttle at full stick"),
        "record_dir": (str, "data/teleop", "where recording writes XY samples"),
        "record_category": (str, "apex", "XY dataset category folder for recorded frames"),
        "record_lookahead": (float, 0.4, "label row of recorded frames, as a fraction of the image height"),
        "steering_axis": (str, "", "evdev axis that steers (e.g. ABS_X); empty keeps the pad mapping's"),
        "throttle_axis": (str, "", "one evdev axis for throttle, up = forward (e.g. ABS_RY); empty keeps triggers"),
        "invert_steering": (bool, False, "flip the pad's steering direction"),
        "invert_throttle": (bool, False, "flip the pad's throttle direction"),
        "deadzone": (float, -1.0, "stick dead zone 0-1; negative keeps the pad mapping's"),
        "expo": (float, -1.0, "0 linear .. 1 cubic stick response; negative keeps the pad mapping's"),
        "throttle_step": (float, 0.05, "throttle scale change per scale-button press"),
    },
    "sim": {
        "track": (str, "oval", "built-in track name or JSON path"),
        "wheelbase_m": (float, 0.26, ""),
        "max_steer_deg": (float, 28.0, "front wheel angle at full servo travel"),
        "servo_center_us": (float, 1500.0, ""),
        "servo_half_range_us": (float, 500.0, "pulse change to full lock; higher pulse steers left"),
        "servo_rate_dps": (float, 400.0, "servo slew rate, degrees per second"),
        "servo_deadband_us": (float, 4.0, "the servo ignores pulse changes smaller than this"),
        "esc_neutral_us": (float, 1500.0, ""),
        "esc_half_range_us": (float, 500.0, "pulse change to full forward"),
        "esc_deadband_us": (float, 25.0, ""),
        "top_speed_mps": (float, 6.0, "speed at full forward throttle"),
        "speed_time_constant_s": (float, 0.3, "ESC/motor lag"),
        "grip_mu": (float, 1.0, "tyre grip: lateral acceleration beyond grip_mu * g makes the car run wide"),
        "frame_rate": (float, 30.0, "camera and physics rate in lockstep"),
        "randomize": (bool, False, "domain randomisation of the rendered camera"),
        "camera_forward_m": (float, 0.2, "lens position ahead of the rear axle"),
        "wheel_track_m": (float, 0.2, "distance between the left and right wheels (off-track test)"),
        "coast_time_constant_s": (float, 1.5, "speed decay at neutral throttle (rolling drag)"),
        "brake_decel_mps2": (float, 6.0, "deceleration at full reverse pulse while rolling forward"),
        "battery_mah": (float, 2200.0, "simulated pack capacity"),
    },
}

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _coerce(section, key, value, where):
    kind = SCHEMA[section][key][0]
    ok = (isinstance(value, kind) and not (kind is int and isinstance(value, bool))) or (
        kind is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ProfileError("%s: [%s] %s must be %s, got %r" % (where, section, key, _TYPE_NAMES[kind], value))
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise ProfileError("%s: [%s] %s must be finite, got %r" % (where, section, key, value))
    return value


class Profile:
    """A validated profile: ``profile.car['steering_gain']`` etc., every key present."""

    def __init__(self, data=None, name="profile", path=None):
        self.name = name
        self.path = Path(path) if path else None
        where = str(path or name)
        data = data or {}
        self.sections = {}
        for section in data:
            if section not in SCHEMA:
                raise ProfileError("%s: unknown section [%s] (known: %s)" % (where, section, ", ".join(SCHEMA)))
            if not isinstance(data[section], dict):
                raise ProfileError("%s: [%s] must be a table" % (where, section))
        for section, keys in SCHEMA.items():
            given = dict(data.get(section, {}))
            for key in given:
                if key not in keys:
                    raise ProfileError("%s: unknown key %r in [%s]" % (where, key, section))
            values = {k: spec[1] for k, spec in keys.items()}
            for key, value in given.items():
                values[key] = _coerce(section, key, value, where)
            self.sections[section] = values
        self._check_values(where)

    def _check_values(self, where):
        choices = {("car", "type"): ("nvidia", "waveshare"),
                   ("camera", "type"): ("csi", "usb", "video", "sim"),
                   ("pilot", "mode"): ("stopped", "manual", "steer", "auto"),
                   ("pilot", "throttle_mode"): ("constant", "adaptive"),
                   ("battery", "chemistry"): ("lipo", "liion"),
                   ("engine", "backend"): ("auto", "tensorrt", "onnxruntime", "torch")}
        for (section, key), allowed in choices.items():
            if self.sections[section][key] not in allowed:
                raise ProfileError("%s: [%s] %s must be one of %s, got %r" % (
                    where, section, key, ", ".join(allowed), self.sections[section][key]))
        for section, key in (("car", "i2c_address"), ("car", "motor_i2c_address"), ("battery", "i2c_address"),
                             ("display", "i2c_address")):
            if not 0x03 <= self.sections[section][key] <= 0x77:
                raise ProfileError("%s: [%s] %s 0x%x is not a 7-bit I2C address" % (
                    where, section, key, self.sections[section][key]))
        self._check_ranges(where)

    def _check_ranges(self, where):
        """Values that would crash the driver or put an unsafe pulse on the wire."""
        car, pilot, battery = self.sections["car"], self.sections["pilot"], self.sections["battery"]

        def need(ok, section, key, rule):
            if not ok:
                raise ProfileError("%s: [%s] %s = %r: %s" % (where, section, key, self.sections[section][key], rule))

        for key in ("steering_channel", "throttle_channel"):
            need(0 <= car[key] <= 15, "car", key, "a PCA9685 has channels 0-15")
        need(car["type"] != "nvidia" or car["steering_channel"] != car["throttle_channel"], "car", "throttle_channel",
             "must differ from steering_channel")
        for key in ("pwm_frequency", "motor_pwm_frequency"):
            need(24.0 <= car[key] <= 1743.0, "car", key, "the PCA9685 takes 24-1743 Hz (and runs at most 1526)")
        for part in ("steering", "throttle"):
            low, high = car[part + "_min_pulse_us"], car[part + "_max_pulse_us"]
            need(400.0 <= low < high, "car", part + "_min_pulse_us", "pulses must satisfy 400 <= min < max us")
            need(high <= 2600.0, "car", part + "_max_pulse_us", "pulses must satisfy max <= 2600 us")
        for section, key in (("car", "throttle_forward_limit"), ("car", "throttle_reverse_limit"),
                             ("pilot", "throttle_forward_limit"), ("pilot", "throttle_reverse_limit"),
                             ("pilot", "throttle")):
            need(0.0 <= self.sections[section][key] <= 1.0, section, key, "must be in [0, 1]")
        for key in ("stale_frame_s",):
            need(pilot[key] > 0, "pilot", key, "must be > 0")
        need(self.sections["camera"]["stale_limit_s"] > 0, "camera", "stale_limit_s", "must be > 0")
        need(1 <= battery["cells"] <= 12, "battery", "cells", "must be 1-12")
        need(0.0 <= battery["critical_percent"] < battery["low_percent"] <= 100.0, "battery", "critical_percent",
             "must be below low_percent, both in [0, 100]")
        need(self.sections["display"]["height"] in (32, 64), "display", "height", "an SSD1306 is 32 or 64 rows")

    def __getattr__(self, section):
        try:
            return self.__dict__["sections"][section]
        except KeyError:
            raise AttributeError(section) from None

    def resolve_path(self, path):
        """A file named in the profile (engine, video): as given when it exists (absolute, or from
        the working directory), else beside the profile file, else in the checkout holding
        ``hardware/profiles/``; unchanged when none exists, so the caller's error names it."""
        given = Path(path)
        if given.is_absolute() or given.exists() or self.path is None:
            return given
        folder = self.path.resolve().parent
        for base in (folder, folder.parent.parent):
            if (base / given).exists():
                return base / given
        return given

    def to_dict(self):
        return {s: dict(v) for s, v in self.sections.items()}

    def __repr__(self):
        return "Profile(%r)" % (str(self.path) if self.path else self.name)


def _repo_root():
    return Path(__file__).resolve().parent.parent


def profile_dirs():
    """Where profile names are looked up, first match wins."""
    dirs = []
    if os.environ.get("JETRACER_PROFILE_DIR"):
        dirs.append(Path(os.environ["JETRACER_PROFILE_DIR"]))
    dirs.append(Path.home() / ".config" / "jetracer" / "profiles")
    dirs.append(_repo_root() / "hardware" / "profiles")  # a source checkout / editable install
    dirs.append(Path(sys.prefix) / "share" / "jetracer" / "profiles")  # pip install .
    return dirs


def _on_a_jetson():
    try:
        return "nvidia jetson" in Path("/proc/device-tree/model").read_text(errors="ignore").lower()
    except OSError:
        return Path("/etc/nv_tegra_release").exists()


def default_profile_name(sim=False):
    """``$JETRACER_PROFILE``, else ``sim`` with --sim or off a Jetson, else NVIDIA's JetRacer.

    A PC's I2C buses are its monitors' DDC lines: never guess a car on them."""
    if os.environ.get("JETRACER_PROFILE"):
        return os.environ["JETRACER_PROFILE"]
    if sim or not _on_a_jetson():
        return "sim"
    return "latrax_rally"


def resolve_profile_path(name_or_path):
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in str(name_or_path):
        if candidate.is_file():
            return candidate
        raise ProfileError("profile file %s not found" % name_or_path)
    for folder in profile_dirs():
        path = folder / (str(name_or_path) + ".toml")
        if path.is_file():
            return path
    known = sorted({p.stem for d in profile_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise ProfileError("no profile named %r (known: %s)" % (name_or_path, ", ".join(known) or "none"))


def load_profile(name_or_path=None, sim=False):
    """Load and validate a profile by name (``sim``, ``latrax_rally``...) or path."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    path = resolve_profile_path(name_or_path or default_profile_name(sim))
    try:
        with open(path, "rb") as f:
            data = _toml.load(f)
    except _toml.TOMLDecodeError as exc:
        raise ProfileError("%s: not valid TOML: %s" % (path, exc)) from None
    except OSError as exc:
        raise ProfileError("cannot read profile %s: %s" % (path, exc.strerror)) from None
    return Profile(data, name=path.stem, path=path)


def save_profile_values(path, updates):
    """Write ``{section: {key: value}}`` (numbers) into the profile file atomically.

    Used by ``jetracer calibrate``. Lines are edited in place, so the owner's comments, order and
    hex addresses survive; a key not yet in the file is added under its section header. The result
    is validated before it replaces the file.
    """
    import re

    from .util.atomic import atomic_write_bytes

    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    for section, values in updates.items():
        header = re.compile(r"^\s*\[\s*%s\s*\]" % re.escape(section))
        start = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if start is None:
            lines += ["", "[%s]" % section]
            start = len(lines) - 1
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
        for key, value in values.items():
            text = repr(float(value)) if isinstance(value, float) else str(value)
            pattern = re.compile(r"^(\s*%s\s*=\s*)([^#]*?)(\s*#.*)?$" % re.escape(key))
            for i in range(start + 1, end):
                match = pattern.match(lines[i])
                if match:
                    lines[i] = match.group(1) + text + (match.group(3) or "")
                    break
            else:
                lines.insert(start + 1, "%s = %s" % (key, text))
                end += 1
    data = "\n".join(lines) + "\n"
    try:
        parsed = _toml.loads(data)
    except _toml.TOMLDecodeError as exc:
        raise ProfileError("%s: could not update the profile: %s" % (path, exc)) from None
    Profile(parsed, name=path.stem, path=path)
    atomic_write_bytes(path, data.encode("utf-8"))


def make_car(profile, i2c=None):
    """The car object a profile describes, on ``i2c`` (a bus object) or the profile's bus."""
    from .racecar import NvidiaRacecar, WaveshareRacecar

    car = profile.car
    common = dict(i2c_address=car["i2c_address"], steering_channel=car["steering_channel"],
                  steering_gain=car["steering_gain"], steering_offset=car["steering_offset"],
                  throttle_gain=car["throttle_gain"], throttle_offset=car["throttle_offset"],
                  throttle_forward_limit=car["throttle_forward_limit"],
                  throttle_reverse_limit=car["throttle_reverse_limit"], pwm_frequency=car["pwm_frequency"],
                  steering_min_pulse_us=car["steering_min_pulse_us"],
                  steering_max_pulse_us=car["steering_max_pulse_us"])
    bus = i2c if i2c is not None else car["i2c_bus"]
    if car["type"] == "waveshare":
        return WaveshareRacecar(i2c=bus, motor_i2c_address=car["motor_i2c_address"],
                                motor_pwm_frequency=car["motor_pwm_frequency"], **common)
    return NvidiaRacecar(i2c=bus, throttle_channel=car["throttle_channel"],
                         throttle_min_pulse_us=car["throttle_min_pulse_us"],
                         throttle_max_pulse_us=car["throttle_max_pulse_us"], **common)
