"""Car profiles: one TOML file per car, validated against a schema, turned into configured objects.

A profile names the car type, I2C wiring, gains and limits, camera, engine, pilot, battery and
display settings. Every key has a type and a default here, so a profile only states what differs,
and a typo is an error naming the key and the file instead of a setting silently ignored.
"""

import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

from .errors import ProfileError
from .models.convention import DEFAULT_CATEGORY
from .protocols import PathLike

if TYPE_CHECKING:
    from .racecar import NvidiaRacecar, WaveshareRacecar

__all__ = ["SCHEMA", "Profile", "load_profile", "profile_dirs", "resolve_profile_path", "make_car",
           "save_profile_values", "default_profile_name", "default", "defaults"]


def _toml():
    """The TOML reader, imported when a file is read: the schema (and the defaults the car, the
    pilot and the monitors take from it) must not need a TOML library."""
    if sys.version_info >= (3, 11):
        import tomllib  # novermin (guarded by the version check)

        return tomllib
    import tomli  # Python 3.6-3.10 (the Jetson images)

    return tomli


# section -> key -> (type, default, help). ``float`` keys accept integers.
SCHEMA: Dict[str, Dict[str, Tuple[type, Any, str]]] = {
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
        "esc_neutral_us": (float, 1500.0, "the pulse your ESC treats as stop; throttle 0 must map to it (nvidia)"),
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
        "format": (str, "auto", "USB camera stream: auto (a mode the camera lists: raw if it reaches fps, else "
                                "mjpeg), raw or mjpeg"),
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
        "model": (str, "", "model (.pth) to build `path` from, once, when that engine file is missing"),
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
        "watchdog_s": (float, 0.5, "deadline from a frame's capture to its PWM written; missed -> neutral "
                                   "(watchdog thread, guardian process, systemd)"),
        "guardian": (bool, True, "run the guardian process that writes neutral when the loop stops beating"),
        "guardian_outputs_off": (bool, False, "the guardian also switches the PWM outputs fully off, so the ESC's "
                                              "own signal-loss failsafe holds the car"),
        "road_monitor": (bool, True, "slow, then stop with road_lost, when the network is not seeing a road it knows "
                                      "(for the networks its thresholds were measured on: resnet18/34, fast)"),
        "road_probe_every": (int, 4, "road monitor: probe the network every N frames (3 extra inferences each)"),
        "road_lost_at": (float, 0.7, "road monitor: suspicion 0-1 at which the car stops"),
        "speed_from_model": (bool, True, "take the throttle from the network when the model has a throttle output"),
        "model_throttle_scale": (float, 1.0, "the network's throttle is multiplied by this, then limited"),
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
        "unreadable_stop_s": (float, 10.0, "a monitor that cannot read for this long stops the car"),
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
        "record_category": (str, DEFAULT_CATEGORY, "XY dataset category folder for recorded frames"),
        "record_lookahead": (float, 0.4, "label row of recorded frames, as a fraction of the image height"),
        "steering_axis": (str, "", "evdev axis that steers (e.g. ABS_X); empty keeps the pad mapping's"),
        "throttle_axis": (str, "", "one evdev axis for throttle, up = forward (e.g. ABS_RY); empty keeps triggers"),
        "invert_steering": (bool, False, "flip the pad's steering direction"),
        "invert_throttle": (bool, False, "flip the pad's throttle direction"),
        "deadzone": (float, -1.0, "stick dead zone 0-1; negative keeps the pad mapping's"),
        "expo": (float, -1.0, "0 linear .. 1 cubic stick response; negative keeps the pad mapping's"),
        "throttle_step": (float, 0.05, "throttle scale change per scale-button press"),
    },
    "web": {
        "host": (str, "0.0.0.0", "address `jetracer web` listens on (0.0.0.0: every network of the car)"),
        "port": (int, 8887, "port of `jetracer web`"),
        "token": (str, "", "login token; empty: the install's random one (~/.config/jetracer/web-token)"),
        "deadman_s": (float, 0.5, "the controlling page silent this long -> control released, throttle neutral"),
        "max_throttle": (float, 0.5, "the highest throttle cap the page's slider may set"),
        "throttle_cap": (float, 0.25, "the throttle cap a session starts with"),
        "dataset_dir": (str, "data/xy", "XY dataset the Label and Data pages work on"),
        "category": (str, DEFAULT_CATEGORY, "category the Label page starts with"),
        "runs_dir": (str, "runs", "telemetry logs of web drives; the Runs page also reads [pilot] log_path's folder"),
        "jpeg_quality": (int, 80, "camera stream JPEG quality (1-95)"),
        "login_attempts": (int, 5, "wrong tokens per address per minute before it is locked out"),
    },
    "sim": {
        "track": (str, "oval", "built-in track name, JSON path or random:SEED"),
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
        "lockstep_watchdog_s": (float, 10.0, "watchdog limit (real time) in lockstep, where the simulated car "
                                            "waits for the loop: only a hang counts, not a slow frame"),
    },
}

# -- safety envelope (issue 16) ----------------------------------------------------------------------
#: throttle 0 must put the ESC within this of its neutral (below every ESC's dead band, ~2 ticks at 50 Hz)
NEUTRAL_TOLERANCE_US = 10.0
#: a pulse range narrower than this is a typo, and makes the gains meaningless
MIN_PULSE_SPAN_US = 200.0
#: (key, low, high) per section. Gains above 1 only saturate (or, for the throttle, defeat the
#: operator's feel for it); the final output is limited separately by throttle_*_limit.
SAFETY_BOUNDS = {
    "car": (("steering_gain", -1.0, 1.0), ("steering_offset", -0.5, 0.5), ("throttle_gain", -1.0, 1.0),
            ("throttle_offset", -0.5, 0.5), ("esc_neutral_us", 1000.0, 2000.0),
            ("steering_min_pulse_us", 500.0, 2500.0), ("steering_max_pulse_us", 500.0, 2500.0),
            ("throttle_min_pulse_us", 500.0, 2500.0), ("throttle_max_pulse_us", 500.0, 2500.0)),
    "pilot": (("steering_gain", -5.0, 5.0), ("steering_bias", -1.0, 1.0), ("steering_kd", 0.0, 2.0),
              ("throttle_min", 0.0, 1.0), ("model_throttle_scale", 0.0, 3.0), ("stale_frame_s", 0.01, 1.0),
              ("watchdog_s", 0.05, 2.0)),
    "other": (("camera", "stale_limit_s", 0.01, 2.0), ("teleop", "deadman_s", 0.05, 5.0),
              ("teleop", "max_throttle", 0.0, 1.0), ("battery", "unreadable_stop_s", 1.0, 600.0),
              ("sim", "lockstep_watchdog_s", 0.05, 60.0)),
}


def default(section: str, key: str) -> Any:
    """The schema's default for ``[section] key``: what every constructor that takes the setting
    (car, pilot, control law, monitors, recorder) uses when it is built without a profile."""
    return SCHEMA[section][key][1]


def defaults(section: str) -> Dict[str, Any]:
    """``{key: default}`` of one section."""
    return {key: spec[1] for key, spec in SCHEMA[section].items()}


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

    def __init__(self, data: Optional[Mapping[str, Any]] = None, name: str = "profile",
                 path: Optional[PathLike] = None) -> None:
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
        from .drive.actuator import CAR_TYPES
        from .drive.pilot import MODES

        choices = {("car", "type"): tuple(CAR_TYPES),
                   ("camera", "type"): ("csi", "usb", "video", "sim"),
                   ("camera", "format"): ("auto", "raw", "mjpeg"),
                   ("camera", "lens"): ("fisheye", "pinhole"),
                   ("pilot", "mode"): MODES,
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
        self._check_safety(where)

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
        need(1 <= battery["cells"] <= BATTERY_MAX_CELLS, "battery", "cells", "must be 1-%d" % BATTERY_MAX_CELLS)
        need(0.0 <= battery["critical_percent"] < battery["low_percent"] <= 100.0, "battery", "critical_percent",
             "must be below low_percent, both in [0, 100]")
        need(self.sections["display"]["height"] in (32, 64), "display", "height", "an SSD1306 is 32 or 64 rows")
        web = self.sections["web"]
        need(0 < web["deadman_s"] <= 5.0, "web", "deadman_s", "must be in (0, 5] s")
        need(0.0 <= web["max_throttle"] <= 1.0, "web", "max_throttle", "must be in [0, 1]")
        need(0.0 <= web["throttle_cap"] <= web["max_throttle"], "web", "throttle_cap", "must be in [0, max_throttle]")
        need(1 <= web["port"] <= 65535, "web", "port", "must be a TCP port 1-65535")
        need(1 <= web["jpeg_quality"] <= 95, "web", "jpeg_quality", "must be 1-95")
        need(web["login_attempts"] >= 1, "web", "login_attempts", "must be >= 1")
        need(not web["token"] or len(web["token"]) >= 8, "web", "token", "must be at least 8 characters (or empty)")

        _check_sizes_and_rates(self.sections, where)

    # -- safety envelope (issue 16): values that pass the type check but could drive the car ------
    def _check_safety(self, where):
        """Refuse a profile whose "neutral" is a driving pulse, whose pulses do not fit the PWM
        period, or whose gains, offsets, limits and watchdog times leave the car unguarded. Each
        refusal names the key and the allowed range."""
        car, pilot = self.sections["car"], self.sections["pilot"]

        def need(ok, section, key, rule):
            if not ok:
                raise ProfileError("%s: [%s] %s = %r: %s" % (where, section, key, self.sections[section][key], rule))

        for key, low, high in SAFETY_BOUNDS["car"]:
            need(low <= car[key] <= high, "car", key, "allowed %g to %g" % (low, high))
        for key, low, high in SAFETY_BOUNDS["pilot"]:
            need(low <= pilot[key] <= high, "pilot", key, "allowed %g to %g" % (low, high))
        for section, key, low, high in SAFETY_BOUNDS["other"]:
            need(low <= self.sections[section][key] <= high, section, key, "allowed %g to %g" % (low, high))
        period_us = 1e6 / car["pwm_frequency"]
        parts = ("steering", "throttle") if car["type"] == "nvidia" else ("steering",)
        for part in parts:
            low, high = car[part + "_min_pulse_us"], car[part + "_max_pulse_us"]
            need(high <= 0.9 * period_us, "car", part + "_max_pulse_us",
                 "must fit the PWM period: at most %.0f us at pwm_frequency %g Hz (90 %% of %.0f us)" % (
                     0.9 * period_us, car["pwm_frequency"], period_us))
            need(high - low >= MIN_PULSE_SPAN_US, "car", part + "_max_pulse_us",
                 "must be at least %g us above %s_min_pulse_us" % (MIN_PULSE_SPAN_US, part))
        if car["type"] == "nvidia":
            low, high = car["throttle_min_pulse_us"], car["throttle_max_pulse_us"]
            need(low < car["esc_neutral_us"] < high, "car", "esc_neutral_us",
                 "must lie inside throttle_min_pulse_us..throttle_max_pulse_us (%g..%g us)" % (low, high))
            from .drive.actuator import ActuatorMapping

            throttle = ActuatorMapping.from_settings(car).throttle
            neutral_us = throttle.neutral  # the pulse the car writes at throttle 0
            # the offsets (servo values at throttle 0) that land within the tolerance of the ESC's neutral
            lo_off = throttle.pulses.value(car["esc_neutral_us"] - NEUTRAL_TOLERANCE_US)
            hi_off = throttle.pulses.value(car["esc_neutral_us"] + NEUTRAL_TOLERANCE_US)
            need(abs(neutral_us - car["esc_neutral_us"]) <= NEUTRAL_TOLERANCE_US, "car", "throttle_offset",
                 "throttle 0 would send %.0f us, not the ESC's neutral %g us: allowed %.4f to %.4f with this "
                 "pulse range (or set esc_neutral_us)" % (neutral_us, car["esc_neutral_us"], lo_off, hi_off))
        need(pilot["watchdog_s"] > pilot["stale_frame_s"], "pilot", "watchdog_s",
             "must be longer than stale_frame_s (%g s): the loop may wait that long for a frame" % (
                 pilot["stale_frame_s"]))
        need(pilot["loop_hz"] == 0 or 1.0 / pilot["loop_hz"] < pilot["watchdog_s"], "pilot", "loop_hz",
             "must be 0 (the camera's rate) or above %.2f Hz: a slower loop misses its own watchdog_s (%g s)" % (
                 1.0 / pilot["watchdog_s"], pilot["watchdog_s"]))

    def __getattr__(self, section: str) -> Dict[str, Any]:
        try:
            return self.__dict__["sections"][section]
        except KeyError:
            raise AttributeError(section) from None

    def resolve_path(self, path: PathLike) -> Path:
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

    def to_dict(self) -> Dict[str, Dict[str, Any]]:
        return {s: dict(v) for s, v in self.sections.items()}

    def __repr__(self) -> str:
        return "Profile(%r)" % (str(self.path) if self.path else self.name)


# -- bounds of the non-safety numbers (issue 17) ---------------------------------------------------
# Sizes, rates, counts and durations a device or the simulator can actually take, so a profile
# value fails at load with the file and key named, not as a ZeroDivisionError in the renderer or
# a monitor that refuses what the profile allowed. The safety envelope (pulses, gains, throttle,
# stale and watchdog limits) is checked in ``Profile._check_ranges`` above.

#: the INA219 measures at most 26 V on its bus pin: 6 cells of 4.2 V (LiPo and Li-ion full charge).
#: The battery monitor refuses more with the same bound.
BATTERY_MAX_CELLS = 6

#: diagonal field of view a simulated lens can have (the renderer's limits)
CAMERA_FOV_LIMITS_DEG = {"fisheye": (10.0, 200.0), "pinhole": (10.0, 170.0)}

#: (section, key) -> (low, high, what the bound protects); both ends included
VALUE_BOUNDS = {
    ("camera", "width"): (16, 1920, "pixels delivered to the pilot"),
    ("camera", "height"): (16, 1920, "pixels delivered to the pilot"),
    ("camera", "capture_width"): (16, 4096, "sensor pixels"),
    ("camera", "capture_height"): (16, 4096, "sensor pixels"),
    ("camera", "fps"): (1.0, 240.0, "frames per second"),
    ("camera", "flip"): (0, 7, "nvvidconv flip-method"),
    ("camera", "sensor_id"): (0, 7, "CSI sensor id"),
    ("camera", "sensor_mode"): (-1, 31, "CSI sensor mode (-1: Argus chooses)"),
    ("camera", "mount_height_m"): (0.01, 2.0, "metres above the floor"),
    ("camera", "pitch_deg"): (-90.0, 90.0, "degrees of downward tilt"),
    ("camera", "fov_deg"): (10.0, 200.0, "degrees"),
    ("battery", "shunt_ohms"): (0.001, 10.0, "ohms"),
    ("battery", "smoothing_s"): (0.0, 3600.0, "seconds"),
    ("battery", "hysteresis_percent"): (0.0, 50.0, "percent"),
    ("battery", "internal_resistance_ohms"): (0.0, 10.0, "ohms"),
    ("battery", "period_s"): (0.01, 3600.0, "seconds between readings"),
    ("display", "width"): (64, 128, "SSD1306 columns"),
    ("display", "refresh_s"): (0.05, 3600.0, "seconds"),
    ("display", "page_s"): (0.1, 3600.0, "seconds"),
    ("pilot", "loop_hz"): (0.0, 1000.0, "Hz (0: the camera's rate)"),
    ("pilot", "status_period_s"): (0.0, 86400.0, "seconds (0: no status line)"),
    ("pilot", "road_probe_every"): (1, 1000, "frames between road-monitor probes"),
    ("pilot", "road_lost_at"): (0.05, 1.0, "road-monitor suspicion at which the car stops"),
    ("teleop", "record_lookahead"): (0.0, 1.0, "a fraction of the image height"),
    ("teleop", "throttle_step"): (0.001, 1.0, "throttle per press"),
    ("teleop", "deadzone"): (-1.0, 0.95, "fraction of the stick (negative: the mapping's)"),
    ("teleop", "expo"): (-1.0, 1.0, "0 linear .. 1 cubic (negative: the mapping's)"),
    ("sim", "frame_rate"): (1.0, 240.0, "frames (and physics steps) per simulated second"),
    ("sim", "wheelbase_m"): (0.05, 2.0, "metres"),
    ("sim", "max_steer_deg"): (1.0, 60.0, "degrees"),
    ("sim", "servo_center_us"): (500.0, 2500.0, "microseconds"),
    ("sim", "servo_half_range_us"): (10.0, 1000.0, "microseconds"),
    ("sim", "servo_rate_dps"): (1.0, 10000.0, "degrees per second"),
    ("sim", "servo_deadband_us"): (0.0, 200.0, "microseconds"),
    ("sim", "esc_neutral_us"): (500.0, 2500.0, "microseconds"),
    ("sim", "esc_half_range_us"): (10.0, 1000.0, "microseconds"),
    ("sim", "esc_deadband_us"): (0.0, 200.0, "microseconds"),
    ("sim", "top_speed_mps"): (0.1, 50.0, "metres per second"),
    ("sim", "speed_time_constant_s"): (0.001, 60.0, "seconds"),
    ("sim", "grip_mu"): (0.05, 5.0, "tyre friction coefficient"),
    ("sim", "camera_forward_m"): (-1.0, 2.0, "metres ahead of the rear axle"),
    ("sim", "wheel_track_m"): (0.02, 2.0, "metres"),
    ("sim", "coast_time_constant_s"): (0.01, 3600.0, "seconds"),
    ("sim", "brake_decel_mps2"): (0.0, 100.0, "metres per second squared"),
    ("sim", "battery_mah"): (1.0, 1000000.0, "milliamp-hours"),
}

def _check_sizes_and_rates(sections, where):
    """Bounds of :data:`VALUE_BOUNDS`, the lens's field of view, and one
    chip per I2C address on the car's bus."""
    def fail(section, key, rule):
        raise ProfileError("%s: [%s] %s = %r: %s" % (where, section, key, sections[section][key], rule))

    for (section, key), (low, high, unit) in VALUE_BOUNDS.items():
        if not low <= sections[section][key] <= high:
            fail(section, key, "must be in [%g, %g] (%s)" % (low, high, unit))
    camera = sections["camera"]
    low, high = CAMERA_FOV_LIMITS_DEG[camera["lens"]]
    if not low <= camera["fov_deg"] <= high:
        fail("camera", "fov_deg", "a %s lens takes %g-%g degrees" % (camera["lens"], low, high))
    chips = [("car", "i2c_address", "the PCA9685")]
    if sections["car"]["type"] == "waveshare":
        chips.append(("car", "motor_i2c_address", "the motor PCA9685"))
    if sections["battery"]["enabled"]:
        chips.append(("battery", "i2c_address", "the INA219 battery monitor"))
    if sections["display"]["enabled"]:
        chips.append(("display", "i2c_address", "the SSD1306 display"))
    seen = {}
    for section, key, chip in chips:
        address = sections[section][key]
        if address in seen:
            raise ProfileError("%s: [%s] %s = 0x%02x is also %s's address ([%s] %s): two chips cannot share one "
                               "address on I2C bus %d" % (where, section, key, address, seen[address][2],
                                                         seen[address][0], seen[address][1],
                                                         sections["car"]["i2c_bus"]))
        seen[address] = (section, key, chip)


def _repo_root():
    return Path(__file__).resolve().parent.parent


def profile_dirs() -> List[Path]:
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


def default_profile_name(sim: bool = False) -> str:
    """``$JETRACER_PROFILE``, else ``sim`` with --sim or off a Jetson, else NVIDIA's JetRacer.

    A PC's I2C buses are its monitors' DDC lines: never guess a car on them."""
    if os.environ.get("JETRACER_PROFILE"):
        return os.environ["JETRACER_PROFILE"]
    if sim or not _on_a_jetson():
        return "sim"
    return "latrax_rally"


def resolve_profile_path(name_or_path: PathLike) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in str(name_or_path):
        if candidate.is_file():
            return candidate
        if candidate.is_dir():
            raise ProfileError("profile %s is a folder: give a .toml file" % name_or_path)
        raise ProfileError("profile file %s not found" % name_or_path)
    for folder in profile_dirs():
        path = folder / (str(name_or_path) + ".toml")
        if path.is_file():
            return path
    known = sorted({p.stem for d in profile_dirs() if d.is_dir() for p in d.glob("*.toml")})
    raise ProfileError("no profile named %r (known: %s)" % (name_or_path, ", ".join(known) or "none"))


def load_profile(name_or_path: Union[PathLike, "Profile", None] = None, sim: bool = False) -> "Profile":
    """Load and validate a profile by name (``sim``, ``latrax_rally``...) or path."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    path = resolve_profile_path(name_or_path or default_profile_name(sim))
    toml = _toml()
    try:
        with open(path, "rb") as f:
            data = toml.load(f)
    except toml.TOMLDecodeError as exc:
        raise ProfileError("%s: not valid TOML: %s" % (path, exc)) from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8: a file saved in another encoding, or not text
        raise ProfileError("%s: not UTF-8 text (byte 0x%02x at offset %d): save it as UTF-8" % (
            path, exc.object[exc.start], exc.start)) from None
    except OSError as exc:
        raise ProfileError("cannot read profile %s: %s" % (path, exc.strerror)) from None
    return Profile(data, name=path.stem, path=path)


def save_profile_values(path: PathLike, updates: Mapping[str, Mapping[str, Any]]) -> None:
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
    toml = _toml()
    try:
        parsed = toml.loads(data)
    except toml.TOMLDecodeError as exc:
        raise ProfileError("%s: could not update the profile: %s" % (path, exc)) from None
    Profile(parsed, name=path.stem, path=path)
    atomic_write_bytes(path, data.encode("utf-8"))


def make_car(profile: Profile, i2c: Any = None) -> Union["NvidiaRacecar", "WaveshareRacecar"]:
    """The car object a profile describes, on ``i2c`` (a bus object) or the profile's bus."""
    from .racecar import car_from_settings

    return car_from_settings(profile.car, i2c=i2c)
