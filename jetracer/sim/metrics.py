"""Lap counting and cross-track statistics from the ground-truth pose.

Progress is the arc length driven along the centreline, unwrapped over laps. A lap is counted
each time progress reaches the next multiple of the track length (the start line at point 0);
progress per step is bounded by the distance the wheels covered, so short-cuts score nothing;
the first lap counts from the start when the car began on the line (within ``start_tolerance_m``
after it), otherwise from its first crossing, so a car dropped mid-track never scores a short lap.
An off-track event is one entry of any wheel beyond the road edge (counted once per excursion).
"""

__all__ = ["LapMetrics"]


class LapMetrics:
    def __init__(self, track, wheelbase_m, wheel_track_m, start_tolerance_m=0.5):
        self.track = track
        self.wheelbase = wheelbase_m
        self.wheel_track = wheel_track_m
        self.start_tolerance = start_tolerance_m

    def reset(self, vehicle, time=0.0, s_hint=None):
        """Start counting from where ``vehicle`` is (``s_hint``: roughly where along the lap, for
        a track that crosses itself)."""
        track = self.track
        s, cte, _ = track.project(vehicle.centre(), s_hint=s_hint)
        p0 = s if s <= track.length / 2 else s - track.length
        self.s, self.cte = s, cte
        self.progress = self.start_progress = p0
        self.start_time = self.time = time
        self.line_times = [time] if 0.0 <= p0 <= self.start_tolerance else []
        self.next_line = 1 if p0 >= 0 else 0
        self.distance0 = vehicle.odometer
        self.distance = 0.0
        self.cte_abs_sum = 0.0
        self.cte_abs_max = abs(cte)
        self.weight = 0.0
        self.off_track = False
        self.off_track_events = 0
        self.off_track_time = 0.0
        self._update_wheels(vehicle, 0.0)

    def update(self, vehicle, time):
        """Account for the step that ended at ``time`` with the vehicle where it is now."""
        track = self.track
        dt = time - self.time
        s, cte = self._project(vehicle.centre())
        ds = s - self.s
        ds -= track.length * round(ds / track.length)  # wrap into [-L/2, L/2]
        # Progress can't outrun the wheels: a car cutting across the infield makes the nearest
        # centreline point jump ahead, which must not count as laps. (2.5x allows for the inside of
        # a tight corner, where the centreline moves faster than the car.)
        moved = vehicle.odometer - self.distance0 - self.distance
        limit = 2.5 * moved + 0.02
        ds = max(-limit, min(limit, ds))
        p_prev, self.progress = self.progress, self.progress + ds
        while self.progress >= self.next_line * track.length:
            line = self.next_line * track.length
            frac = (line - p_prev) / (self.progress - p_prev) if self.progress > p_prev else 1.0
            self.line_times.append(self.time + dt * min(1.0, max(0.0, frac)))
            self.next_line += 1
        self.s, self.cte, self.time = s, cte, time
        self.distance = vehicle.odometer - self.distance0
        self.cte_abs_sum += abs(cte) * dt
        self.weight += dt
        self.cte_abs_max = max(self.cte_abs_max, abs(cte))
        self._update_wheels(vehicle, dt)

    def _project(self, xy):
        """Nearest centreline point near the last one (follows the car's own stretch of road);
        a full search when the car has strayed far from it."""
        s, cte, _ = self.track.project(xy, s_hint=self.s, window_m=1.5)
        if abs(cte) > self.track.width:
            s, cte, _ = self.track.project(xy)
        return s, cte

    def _update_wheels(self, vehicle, dt):
        _, ctes = self.track.project_many(vehicle.wheels(self.wheel_track), s_hint=self.s, window_m=1.5)
        off = bool(max(abs(c) for c in ctes) > self.track.width / 2)
        if off and not self.off_track:
            self.off_track_events += 1
        if off:
            self.off_track_time += dt
        self.off_track = off

    @property
    def laps_completed(self):
        return max(0, len(self.line_times) - 1)

    @property
    def lap_times(self):
        return [b - a for a, b in zip(self.line_times, self.line_times[1:])]

    def summary(self):
        """The metrics contract (DESIGN.md section 4) fields the simulator knows."""
        laps = self.lap_times
        return {
            "track": self.track.name,
            "laps_completed": self.laps_completed,
            "lap_times_s": [round(t, 4) for t in laps],
            "best_lap_s": round(min(laps), 4) if laps else None,
            "distance_m": round(self.distance, 4),
            "mean_abs_cte_m": round(self.cte_abs_sum / self.weight, 5) if self.weight else 0.0,
            "max_abs_cte_m": round(self.cte_abs_max, 5),
            "off_track_events": self.off_track_events,
            "off_track_s": round(self.off_track_time, 4),
            "progress_m": round(self.progress - self.start_progress, 4),
            "progress_laps": round(self.progress / self.track.length, 4),
            "sim_time_s": round(self.time - self.start_time, 4),
        }

    def __repr__(self):
        return "LapMetrics(laps=%d, progress=%.1f m, off_track_events=%d)" % (
            self.laps_completed, self.progress, self.off_track_events)

