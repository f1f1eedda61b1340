"""`jetracer collect --sim --frames N --out DIR`: an expert-labelled XY dataset from the simulator.

On the real car people collect by hand (the data collection notebook, or gamepad recording with
`jetracer teleop`); in the simulator the expert labels every frame with the point a careful person
would click. The result is an ordinary JetRacer XY dataset: `jetracer train DIR` reads it.
"""

import sys

from ..models.convention import DEFAULT_CATEGORY
from ._common import add_profile_argument, number_in, positive_int, seed_int

__all__ = ["add_arguments", "run"]

LOOKAHEAD_M = number_in(float, 1e-3, 10.0, "a number of metres in (0, 10]")
SHARE = number_in(float, 0.0, 1.0, "a share in [0, 1]")


def add_arguments(parser):
    from ..data.sim_collect import DEFAULT_LOOKAHEAD_M

    parser.add_argument("--sim", action="store_true", required=True,
                        help="collect in the simulator (on the car, collect by hand in the notebook or with "
                             "`jetracer teleop` recording)")
    add_profile_argument(parser)
    parser.add_argument("--track", nargs="+", metavar="T", default=None,
                        help="built-in track name(s), JSON path(s) or random:SEED shapes; frames are split "
                             "between them (default: the profile's track)")
    parser.add_argument("--frames", type=positive_int, required=True, metavar="N", help="samples to write")
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder (DIR/CATEGORY/x_y_uuid.jpg)")
    parser.add_argument("--seed", type=seed_int, default=0, help="episode and randomisation seed (default 0)")
    parser.add_argument("--category", default=DEFAULT_CATEGORY,
                        help="category folder to write (default %s)" % DEFAULT_CATEGORY)
    parser.add_argument("--lookahead", type=LOOKAHEAD_M, default=DEFAULT_LOOKAHEAD_M, metavar="M",
                        help="how far ahead on the centreline the label lies (default %.1f m)" % DEFAULT_LOOKAHEAD_M)
    parser.add_argument("--no-randomize", action="store_true",
                        help="plain track colours and lighting (default: domain randomisation on)")
    parser.add_argument("--tape-share", type=SHARE, default=0.0, metavar="F",
                        help="share of the randomised rooms drawn as bare tape edges on a pale floor with no "
                             "centre line, the hardest kind (default 0: about 8%% of rooms are anyway, and "
                             "existing datasets reproduce)")


def run(args):
    from ..data.sim_collect import collect
    from ..errors import UsageError
    from ..profile import load_profile
    from ..sim.track import Track
    from ..util.atomic import check_output_dir

    if not args.category or "/" in args.category or args.category.startswith("."):
        raise UsageError("--category %r: use a plain folder name such as 'apex'" % args.category)
    if args.no_randomize and args.tape_share > 0:
        raise UsageError("--tape-share draws randomised rooms: it cannot go with --no-randomize")
    profile = load_profile(args.profile, sim=True)
    tracks = args.track or [profile.sim["track"]]
    for track in tracks:  # a bad track file fails now, before anything is written
        Track.load(track, wheelbase_m=profile.sim["wheelbase_m"], max_steer_deg=profile.sim["max_steer_deg"])
    check_output_dir(args.out, "--out")  # a wrong path fails now, before the simulator starts
    shares = [args.frames // len(tracks) + (1 if i < args.frames % len(tracks) else 0) for i in range(len(tracks))]
    total = 0
    for i, (track, frames) in enumerate(zip(tracks, shares)):
        if frames == 0:
            continue
        step = max(1, frames // 10)

        def progress(done, total_frames, track=track, step=step):
            if done % step == 0 or done == total_frames:
                sys.stderr.write("collect %s: %d/%d frames\n" % (track, done, total_frames))

        summary = collect(args.out, frames, track=track, seed=args.seed + 1000 * i, category=args.category,
                          profile=profile, lookahead_m=args.lookahead, randomize=not args.no_randomize,
                          progress=progress, tape_share=args.tape_share)
        total += summary["frames"]
    sys.stderr.write("wrote %d samples to %s/%s\n" % (total, args.out, args.category))
    return 0
