"""Gymnasium env speed: ``python -m tools.bench_gym [--steps N] [--size H W] [--randomize]``.

Steps per second of ``JetRacer-v0`` on ONE core (OpenCV's and torch's thread pools set to 1), with
random actions and automatic resets, headless; and the same per core for a SyncVectorEnv of N.
A benchmark, not a test: numbers depend on the machine (and on its other load).
"""

import argparse
import json
import time

__all__ = ["bench_env", "main"]


def bench_env(steps=3000, image_size=(64, 64), randomize=False, track="oval", num_envs=1):
    """Environment steps per second (summed over the ``num_envs`` sub-environments)."""
    import gymnasium
    import numpy as np

    from jetracer.sim import gym  # noqa: F401  (registers the id)

    kwargs = dict(track=track, image_size=tuple(image_size), randomize=randomize)
    if num_envs > 1:
        env = gymnasium.make_vec("JetRacer-v0", num_envs=num_envs, vectorization_mode="sync", **kwargs)
    else:
        env = gymnasium.make("JetRacer-v0", **kwargs)
    env.action_space.seed(0)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    calls = max(1, steps // num_envs)
    t0 = time.perf_counter()
    for _ in range(calls):
        # mostly forward with random steering: episodes that last, with resets when they go off
        action = np.stack([rng.uniform(-0.4, 0.4, num_envs), rng.uniform(0.1, 0.4, num_envs)], axis=-1)
        _, _, terminated, truncated, _ = env.step(action.astype(np.float32) if num_envs > 1 else
                                                  action[0].astype(np.float32))
        if num_envs == 1 and (terminated or truncated):
            env.reset()
    elapsed = time.perf_counter() - t0
    env.close()
    return calls * num_envs / elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"))
    parser.add_argument("--randomize", action="store_true")
    parser.add_argument("--envs", type=int, default=4, help="sub-environments of the SyncVectorEnv row")
    args = parser.parse_args(argv)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass
    result = {"size": list(args.size), "randomize": args.randomize,
              "steps_per_s_one_core": round(bench_env(args.steps, args.size, args.randomize), 1),
              "sync_vector_%d_steps_per_s_one_core" % args.envs:
                  round(bench_env(args.steps, args.size, args.randomize, num_envs=args.envs), 1)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
