"""Lap metrics count laps driven, not short-cuts."""

from jetracer.sim.world import SimWorld


def test_cutting_across_the_infield_scores_no_progress():
    world = SimWorld("sim", track="oval")
    world.step(world.frame_period)
    before = world.metrics.progress
    # the car is carried (not driven) across the infield to the far side of the oval
    x, y = world.track.point_at(world.track.length * 0.45)
    world.vehicle.x, world.vehicle.y = float(x), float(y)
    for _ in range(5):
        world.step(world.frame_period)
    assert world.metrics.progress - before < 0.5
    assert world.metrics.laps_completed == 0
