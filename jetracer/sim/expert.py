"""An expert driver that sees ground truth: pure pursuit on the centreline, slowing for curves.

It produces *car commands* (steering, throttle in [-1, 1]), not wheel angles: the desired wheel
angle and speed are converted back through the simulated servo/ESC mapping and the car's own
actuator mapping (:class:`~jetracer.drive.actuator.ActuatorMapping`, the object the car drives its
PCA9685 with), so the expert drives the car through ``NvidiaRacecar`` like any other pilot (and
labels data with commands a real pilot could have produced).
"""

import math

from ..drive.actuator import ActuatorMapping, clip
from .vehicle import esc_pulse_for, servo_pulse_for

__all__ = ["ExpertDriver"]


class ExpertDriver:
    """Pure pursuit from the rear axle to a centreline point ``lookahead`` ahead.

    ``max_speed_mps``: speed on straights. ``lateral_accel_mps2``: corner speed limit
    (v = sqrt(a / curvature)). ``decel_mps2``: how hard it plans to slow before a corner.
    ``lane_offset_m``: drive this far left (+) or right (-) of the centreline (data variety).
    """

    def __init__(self, world, max_speed_mps=2.0, lateral_accel_mps2=2.5, decel_mps2=3.0, lookahead_min_m=0.45,
                 lookahead_gain_s=0.3, lane_offset_m=0.0):
        self.world = world
        self.max_speed = float(max_speed_mps)
        self.lateral_accel = float(lateral_accel_mps2)
        self.decel = float(decel_mps2)
        self.lookahead_min = float(lookahead_min_m)
        self.lookahead_gain = float(lookahead_gain_s)
        self.lane_offset = float(lane_offset_m)
        self._s = None

    def lookahead(self, speed):
        return min(1.6, self.lookahead_min + self.lookahead_gain * abs(speed))

    def target_point(self):
        """World (x, y) the pursuit aims at now (also a natural XY-dataset label)."""
        v = self.world.vehicle
        track = self.world.track
        hint = self._s if self._s is not None else self.world.metrics.s  # stay on our own stretch
        s, _, _ = track.project((v.x, v.y), s_hint=hint, window_m=1.5)
        self._s = s
        s_t = s + self.lookahead(v.speed)
        x, y = track.point_at(s_t)
        if self.lane_offset:
            nx, ny = track.normal_at(s_t)
            x, y = x + nx * self.lane_offset, y + ny * self.lane_offset
        return x, y

    def desired(self):
        """(front wheel angle in radians, + = left; speed in m/s) from ground truth."""
        world = self.world
        v = world.vehicle
        tx, ty = self.target_point()
        dx, dy = tx - v.x, ty - v.y
        c, s = math.cos(v.yaw), math.sin(v.yaw)
        fx, fy = c * dx + s * dy, -s * dx + c * dy
        dist2 = max(fx * fx + fy * fy, 1e-6)
        angle = math.atan(2.0 * v.wheelbase * fy / dist2)  # pure pursuit: curvature 2*y/L^2
        return angle, self.speed_limit(self._s, v.speed)

    def speed_limit(self, s, speed):
        """Fastest speed from which every corner within braking distance can still be taken."""
        track = self.world.track
        horizon = 0.5 + speed * speed / (2 * self.decel) + 0.5
        limit = self.max_speed
        d = 0.0
        while d <= horizon:
            k = abs(track.curvature_at(s + d))
            if k > 1e-6:
                corner = math.sqrt(self.lateral_accel / k)
                # the speed now from which we can slow to `corner` over distance d
                limit = min(limit, math.sqrt(corner * corner + 2 * self.decel * max(0.0, d - 0.3)))
            d += 0.1
        return limit

    def command(self):
        """(steering, throttle) car commands for this instant."""
        angle, speed = self.desired()
        return self.to_commands(angle, speed)

    def __call__(self, frame=None):
        """The policy form every driving loop takes (:class:`jetracer.drive.policies.Policy`):
        ``(frame) -> (steering, throttle)``. The frame is not looked at: the expert drives from
        the world's ground truth, so a frame that was never rendered (or none: a gym loop) will do."""
        return self.command()

    @property
    def actuator(self):
        """The car's actuator mapping (from the profile the world was built with)."""
        return ActuatorMapping.from_settings(self.world.profile.car)

    def to_commands(self, wheel_angle, speed):
        """Car commands that make the simulated servo/ESC produce ``wheel_angle`` and ``speed``."""
        world = self.world
        steering = self.actuator.steering.inverse(servo_pulse_for(wheel_angle, world.sim))
        # feed-forward on the target speed plus a proportional term on the speed error
        v = world.vehicle.speed
        drive = (speed + 0.8 * (speed - v)) / world.sim["top_speed_mps"]
        drive = min(1.0, max(0.01, drive)) if speed > 0 else 0.0
        return clip(steering), self.throttle_for_drive(drive)

    def throttle_for_drive(self, drive):
        """The car command whose output makes the simulated motor drive at ``drive`` (fraction of
        full forward): through the sim ESC's pulse mapping on an ESC car, the duty itself on an
        H-bridge car, then the actuator mapping's inverse."""
        actuator = self.actuator
        output = esc_pulse_for(drive, self.world.sim) if actuator.throttle_output == "esc" else drive
        return clip(actuator.throttle.inverse(output))
