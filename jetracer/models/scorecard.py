"""A model's held-out scorecard: ``python -m jetracer.models.scorecard MODEL [--laps N] [--out F.md]``.

Drives ``MODEL`` with ``jetracer drive --sim`` (lockstep, the ``sim`` profile's pilot or
``--profile``'s, the road monitor on) on every held-out track shape in every held-out room, and the
racer expert on each shape, and prints one markdown row per run: laps, mean and max |cte|, lap time
against the racer's, off-track events and why the run ended. The shapes are ``figure8`` (a built-in
track that the shipped models' data never used) and the JSON tracks in ``models/heldout/``; the
rooms are the plain look and every room of :data:`jetracer.sim.appearance.HELD_OUT`. None of them is
reachable from ``jetracer collect``'s randomisation (see ``jetracer.sim.appearance``), nor drawn by
the procedural shapes (``random:SEED``, ``radial:SEED``, :mod:`jetracer.sim.shapes`).

``--validation`` drives the validation set instead, the one that chooses between trainings and
settings (the held-out set chooses nothing): :data:`VALIDATION_SHAPES`, procedural shapes that no
recipe collects on, each in the training-style random room of its own seed (``--randomize --seed
N``). Both families are there: ``random:`` polygons like the training shapes, and ``radial:``
outlines of the held-out shapes' kind, whose long sweepers are where a network's speed falls short.
"""

import argparse
import json
import sys
import tempfile
from pathlib import Path

__all__ = ["HELD_OUT_SHAPES", "VALIDATION_SHAPES", "held_out_shapes", "score", "main"]

_REPO = Path(__file__).resolve().parent.parent.parent
HELD_OUT_SHAPES = ("figure8", "models/heldout/kidney.json", "models/heldout/blob.json")
#: the validation set: no recipe collects on these seeds (the recipes' training shapes are random:200-263)
VALIDATION_SHAPES = (tuple("random:%d" % s for s in range(9001, 9019))
                     + tuple("radial:%d" % s for s in range(9101, 9113)))


def held_out_shapes():
    """Shape arguments for ``--track`` (paths resolved against the repository)."""
    out = []
    for shape in HELD_OUT_SHAPES:
        path = _REPO / shape
        out.append(str(path) if shape.endswith(".json") and path.is_file() else shape)
    return out


def _drive(args, profile="sim"):
    from ..cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "m.json"
        code = cli(["drive", "--sim", "--profile", profile, "--metrics-json", str(out)] + args)
        metrics = json.loads(out.read_text()) if out.is_file() else {"stop_reason": "exit %d" % code}
    return metrics


def score(model, laps=2, shapes=None, rooms=None, backend=None, progress=None, profile="sim", validation=False):
    """Rows (dicts) of the scorecard; ``rooms`` None means plain plus every held-out room. ``profile``
    drives the model (e.g. one with ``speed_from_model = false`` and a constant throttle, to compare two
    networks' steering at the same speed); the racer's reference lap always uses ``sim``. With
    ``validation``, ``shapes`` (default :data:`VALIDATION_SHAPES`) are procedural shapes each driven
    once in the random room of its seed, and ``rooms`` is not used."""
    from ..sim.appearance import held_out_names

    if validation:
        runs = [(shape, "random-%s" % shape.split(":")[1], ["--randomize", "--seed", shape.split(":")[1]])
                for shape in shapes or VALIDATION_SHAPES]
    else:
        rooms = rooms or ["plain"] + held_out_names()
        runs = [(shape, room, [] if room == "plain" else ["--appearance", room])
                for shape in shapes or held_out_shapes() for room in rooms]
    racer_laps = {}
    rows = []
    for shape, room, room_args in runs:
        if shape not in racer_laps:
            racer = _drive(["--pilot", "racer", "--track", shape, "--laps", str(laps)])
            racer_laps[shape] = min(racer.get("lap_times_s") or [float("nan")])
        args = ["--engine", str(model), "--track", shape, "--laps", str(laps)] + room_args
        if backend:
            args += ["--backend", backend]
        m = _drive(args, profile)
        lap_times = m.get("lap_times_s") or []
        row = {"shape": Path(shape).stem, "room": room, "laps": m.get("laps_completed", 0),
               "mean_abs_cte_m": m.get("mean_abs_cte_m"), "max_abs_cte_m": m.get("max_abs_cte_m"),
               "lap_time_s": min(lap_times) if lap_times else None, "racer_lap_s": racer_laps[shape],
               "off_track": m.get("off_track_events"), "stop_reason": m.get("stop_reason")}
        rows.append(row)
        if progress:
            progress(row)
    return rows


def summary(rows, laps=2, bar=1.15):
    """One line: how many runs lap ``laps`` times within ``bar`` x the racer's lap with no off-track
    event (issue 19's speed target), and the mean |cte| over the runs that completed."""
    met = [r for r in rows if r["laps"] >= laps and r["lap_time_s"] and not r["off_track"]
           and r["lap_time_s"] <= bar * r["racer_lap_s"]]
    done = [r["mean_abs_cte_m"] for r in rows if r["stop_reason"] == "laps" and r["mean_abs_cte_m"] is not None]
    return "%d of %d runs within %.2fx the racer's lap and clean; mean |cte| %s m over the %d completed" % (
        len(met), len(rows), bar, _f(sum(done) / len(done) if done else None), len(done))


def markdown(rows):
    lines = ["| shape | room | laps | mean \\|cte\\| (m) | max \\|cte\\| (m) | lap (s) | vs racer | off-track | end |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "%.2fx" % (r["lap_time_s"] / r["racer_lap_s"]) if r["lap_time_s"] and r["racer_lap_s"] else "-"
        lines.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s |" % (
            r["shape"], r["room"], r["laps"], _f(r["mean_abs_cte_m"]), _f(r["max_abs_cte_m"]),
            _f(r["lap_time_s"], 2), ratio, r["off_track"], r["stop_reason"]))
    return "\n".join(lines)


def _f(value, digits=3):
    return "-" if value is None else "%.*f" % (digits, value)


def _check_arguments(args):
    """One line for what would otherwise fill every row with "exit 2": a missing model, a bad shape."""
    from ..errors import JetracerError
    from ..sim.track import Track

    if not Path(args.model).is_file():
        return "no model file %s" % args.model
    for shape in args.shapes or (VALIDATION_SHAPES if args.validation else held_out_shapes()):
        try:
            Track.load(shape)
        except JetracerError as exc:
            return str(exc)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m jetracer.models.scorecard", description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--laps", type=int, default=2)
    parser.add_argument("--shapes", nargs="+", default=None, help="tracks (default: the held-out shapes)")
    parser.add_argument("--rooms", nargs="+", default=None, help="plain and/or held-out room names (default: all)")
    parser.add_argument("--validation", action="store_true",
                        help="drive the validation shapes (each in its seed's random room) instead of the held-out set")
    parser.add_argument("--backend", default=None, help="engine backend for the model (default: the profile's)")
    parser.add_argument("--profile", default="sim", help="profile that drives the model (default sim; the racer "
                                                         "always drives the sim profile)")
    parser.add_argument("--out", default=None, help="also write the markdown table here")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    problem = _check_arguments(args)
    if problem:
        sys.stderr.write("error: %s\n" % problem)
        return 2
    import logging

    logging.disable(logging.WARNING)  # a road_lost stop is a result here, not news
    try:
        rows = score(args.model, args.laps, args.shapes, args.rooms, args.backend, profile=args.profile,
                     progress=lambda r: sys.stderr.write("%s / %s: %s\n" % (r["shape"], r["room"], r["stop_reason"])),
                     validation=args.validation)
    finally:
        logging.disable(logging.NOTSET)  # called from a script or a test, leave logging as it was
    table = markdown(rows) + "\n\n" + summary(rows, args.laps)
    print(table)
    from ..util.atomic import atomic_write_bytes

    if args.out:
        atomic_write_bytes(args.out, (table + "\n").encode())
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(rows, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
