"""The simulated car's body: a kinematic bicycle moved by servo and ESC pulse widths.

Only pulse widths go in, the same microseconds a scope would see on the PCA9685's pins, so
every gain, offset, clamp and sign in the software path (``NvidiaRacecar`` -> Adafruit driver ->
registers) acts on the simulated car exactly as on a real one.

The sim servo maps ``servo_center_us +- servo_half_range_us`` to ``+-max_steer_deg`` with a
HIGHER pulse steering LEFT, slews at ``servo_rate_dps`` and ignores changes within
``servo_deadband_us`` (so the 12-bit PWM's 1-2 us rounding at centre does not make the car
drift, as with a real servo). The ESC ignores pulses within ``esc_deadband_us`` of neutral,
drives towards ``top_speed_mps`` at +``esc_half_range_us`` with a first-order lag, brakes on a
reverse pulse while rolling forward, and coasts down at neutral.

Pose is the centre of the rear axle (x, y in metres, yaw in radians, counter-clockwise from +x).
"""

import math

__all__ = ["Vehicle", "servo_angle", "servo_pulse_for", "esc_command", "esc_pulse_for"]

_SUBSTEP_S = 0.005
_ROLLING_DECEL = 0.3  # m/s^2 on top of the coast-down, so a coasting car comes to rest


def servo_angle(pulse_us, sim):
    """Front wheel angle (radians, + = left) the servo heads for at ``pulse_us``; None with no pulse."""
    if pulse_us <= 0:
        return None  # no signal: a real servo stops driving and stays put
    frac = (pulse_us - sim["servo_center_us"]) / sim["servo_half_range_us"]
    return max(-1.0, min(1.0, frac)) * math.radians(sim["max_steer_deg"])


def servo_pulse_for(angle_rad, sim):
    """Inverse of :func:`servo_angle`: the pulse that asks for ``angle_rad``."""
    frac = max(-1.0, min(1.0, angle_rad / math.radians(sim["max_steer_deg"])))
    return sim["servo_center_us"] + frac * sim["servo_half_range_us"]


def esc_command(pulse_us, sim):
    """ESC drive in [-1, 1] for ``pulse_us``: 0 inside the deadband or with no pulse (ESC failsafe)."""
    if pulse_us <= 0:
        return 0.0
    offset = pulse_us - sim["esc_neutral_us"]
    band = sim["esc_deadband_us"]
    if abs(offset) <= band:
        return 0.0
    u = (abs(offset) - band) / max(sim["esc_half_range_us"] - band, 1e-6)
    return math.copysign(min(1.0, u), offset)


def esc_pulse_for(u, sim):
    """Inverse of :func:`esc_command` (outside the deadband)."""
    u = max(-1.0, min(1.0, u))
    if u == 0:
        return sim["esc_neutral_us"]
    band = sim["esc_deadband_us"]
    return sim["esc_neutral_us"] + math.copysign(band + abs(u) * (sim["esc_half_range_us"] - band), u)


_G = 9.81


class Vehicle:
    """State and dynamics of the simulated car; ``sim`` is a profile's ``[sim]`` section."""

    def __init__(self, sim):
        self.sim = dict(sim)
        self.wheelbase = sim["wheelbase_m"]
        self.max_steer = math.radians(sim["max_steer_deg"])
        self._deadband = sim["servo_deadband_us"] / sim["servo_half_range_us"] * self.max_steer
        self.x = self.y = self.yaw = 0.0
        self.speed = 0.0  #: m/s along the heading, negative in reverse
        self.steer_angle = 0.0  #: front wheel angle in radians, + = left
        self.odometer = 0.0  #: metres driven (either direction)

    @property
    def pose(self):
        return (self.x, self.y, self.yaw)

    def set_pose(self, x, y, yaw, speed=0.0, steer_angle=0.0):
        self.x, self.y, self.yaw = float(x), float(y), float(yaw)
        self.speed, self.steer_angle = float(speed), float(steer_angle)

    def centre(self):
        """Mid-point between the axles."""
        half = self.wheelbase / 2
        return self.x + half * math.cos(self.yaw), self.y + half * math.sin(self.yaw)

    def wheels(self, track_m):
        """Contact points (rear-left, rear-right, front-left, front-right) for a wheel track ``track_m``."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        h = track_m / 2
        out = []
        for fwd in (0.0, self.wheelbase):
            for side in (h, -h):
                out.append((self.x + fwd * c - side * s, self.y + fwd * s + side * c))
        return out

    def step(self, dt, steer_target, drive):
        """Advance ``dt`` seconds with the servo heading for ``steer_target`` (radians or None = hold)
        and the ESC at ``drive`` in [-1, 1]."""
        n = max(1, int(math.ceil(dt / _SUBSTEP_S)))
        h = dt / n
        for _ in range(n):
            self._substep(h, steer_target, drive)

    def _substep(self, h, steer_target, drive):
        sim = self.sim
        if steer_target is not None and abs(steer_target - self.steer_angle) > self._deadband:
            slew = math.radians(sim["servo_rate_dps"]) * h
            delta = max(-slew, min(slew, steer_target - self.steer_angle))
            self.steer_angle = max(-self.max_steer, min(self.max_steer, self.steer_angle + delta))
        v = self.speed
        if drive == 0.0:
            accel = -v / sim["coast_time_constant_s"] - math.copysign(_ROLLING_DECEL, v) if v else 0.0
        elif v * drive < 0:  # reverse pulse while rolling forward (or the other way): brake
            accel = -math.copysign(abs(drive) * sim["brake_decel_mps2"], v)
        else:
            accel = (drive * sim["top_speed_mps"] - v) / sim["speed_time_constant_s"]
        new_v = v + accel * h
        if v and (drive == 0.0 or v * drive < 0) and new_v * v <= 0:
            new_v = 0.0  # braking and drag stop the car; they never drive it backwards
        mid_v = (v + new_v) / 2
        curvature = math.tan(self.steer_angle) / self.wheelbase
        grip = sim["grip_mu"] * _G / (mid_v * mid_v) if mid_v else math.inf
        if abs(curvature) > grip:  # the tyres saturate: the car runs wide (understeer), as on a floor
            curvature = math.copysign(grip, curvature)
        yaw_rate = mid_v * curvature
        mid_yaw = self.yaw + yaw_rate * h / 2
        self.x += mid_v * math.cos(mid_yaw) * h
        self.y += mid_v * math.sin(mid_yaw) * h
        self.yaw = math.atan2(math.sin(self.yaw + yaw_rate * h), math.cos(self.yaw + yaw_rate * h))
        self.speed = new_v
        self.odometer += abs(mid_v) * h
