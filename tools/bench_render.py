"""Simulator speed: ``python -m tools.bench_render [--frames N] [--track T]``.

Reports rendered frames per second on ONE core (OpenCV's thread pool is set to 1), plain and
with domain randomisation, and the full lockstep loop (Pilot.run with the expert + NvidiaRacecar +
I2C twin + physics + render). A benchmark, not a test: numbers depend on the machine.
"""

import argparse
import json
import math
import sys
import time

__all__ = ["bench_render", "bench_loop", "main"]


def _poses(track, n):
    step = track.length / n
    out = []
    for i in range(n):
        s = i * step
        x, y = track.point_at(s)
        out.append((x, y, track.heading_at(s) + 0.1 * math.sin(i)))
    return out


def bench_render(track="technical", frames=2000, randomize=False, profile="sim"):
    """Frames per second of ``Renderer.render`` alone."""
    from jetracer.sim.world import SimWorld

    world = SimWorld(profile, track=track, randomize=randomize)
    poses = _poses(world.track, frames)
    renderer = world.renderer
    for pose in poses[:20]:
        renderer.render(pose)
    t0 = time.perf_counter()
    for pose in poses:
        renderer.render(pose)
    elapsed = time.perf_counter() - t0
    return frames / elapsed


def bench_loop(track="technical", frames=600, profile="sim"):
    """Frames per second of the whole lockstep loop (the Pilot's) with the expert driving."""
    from jetracer.profile import load_profile
    from jetracer.rig import Rig
    from jetracer.sim.expert import ExpertDriver
    from jetracer.sim.run import drive_lockstep

    with Rig(load_profile(profile, sim=True), sim=True, track=track, camera=False, battery=False,
             persistent_bus=False) as rig:
        world = rig.world
        t0 = time.perf_counter()
        summary = drive_lockstep(world, rig.car, ExpertDriver(world), duration=frames * world.frame_period)
        return summary["frames"] / (time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.bench_render", description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--track", default="technical")
    parser.add_argument("--json", metavar="F", help="also write the results as JSON")
    args = parser.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)
    results = {
        "render_fps": round(bench_render(args.track, args.frames), 1),
        "render_randomized_fps": round(bench_render(args.track, args.frames, randomize=True), 1),
        "lockstep_loop_fps": round(bench_loop(args.track, max(100, args.frames // 4)), 1),
    }
    for key, value in results.items():
        print("%-24s %8.1f" % (key, value))
    if args.json:
        from jetracer.util.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(results, indent=2).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
