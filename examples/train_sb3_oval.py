"""Train a policy that laps the oval from the camera image alone, with Stable-Baselines3 PPO.

Needs the ``rl`` extra (``pip install jetracer[rl]``: gymnasium and stable-baselines3, Python 3.8+).
The agent sees only the 64x64 camera image (BGR, as on the car); its action is written through
``NvidiaRacecar`` into the simulated PCA9685, like every other pilot here. The throttle half of the
action is mapped into [--throttle-min, --throttle-max], so the agent learns to steer and to pace
itself without first having to discover that standing still earns nothing.

Training stops as soon as the policy, driving deterministically from the start line, completes
--target-laps laps with no off-track event (checked every --eval-every steps), or at --timesteps.

    nice python examples/train_sb3_oval.py --timesteps 200000 --out /tmp/ppo_oval.zip
    python examples/train_sb3_oval.py --eval-only /tmp/ppo_oval.zip
"""

import argparse
import json
import time

import gymnasium
import numpy as np

from jetracer.sim.gym import JetRacerEnv


class ThrottleRange(gymnasium.ActionWrapper):
    """Action [steering, t] with t in [-1, 1] -> car throttle in [low, high]."""

    def __init__(self, env, low, high):
        super().__init__(env)
        self.low, self.high = float(low), float(high)

    def action(self, action):
        steering, t = float(action[0]), float(np.clip(action[1], -1.0, 1.0))
        return np.array([steering, self.low + (t + 1.0) / 2.0 * (self.high - self.low)], np.float32)


def make_env(args, seed, random_start=True, time_limit_s=None):
    def build():
        env = JetRacerEnv(track=args.track, seed=seed, image_size=(64, 64), random_start=random_start,
                          frame_skip=args.frame_skip, time_limit_s=time_limit_s or args.episode_s,
                          randomize=args.randomize)
        return ThrottleRange(env, args.throttle_min, args.throttle_max)

    return build


def evaluate(model, args, time_limit_s=60.0):
    """One deterministic drive from the start line: laps, lap times, |cte|, off track."""
    env = make_env(args, seed=10_000, random_start=False, time_limit_s=time_limit_s)()
    obs, info = env.reset(seed=10_000)
    ctes, terminated, truncated = [], False, False
    while not (terminated or truncated):
        action, _ = model.predict(obs, deterministic=True)
        obs, _, terminated, truncated, info = env.step(action)
        ctes.append(abs(info["cte_m"]))
        if info["lap"] >= args.target_laps:
            break
    env.close()
    return {"laps": info["lap"], "lap_times_s": [round(t, 2) for t in info["lap_times_s"]],
            "progress_m": round(info["progress_m"], 2), "off_track": bool(terminated),
            "mean_abs_cte_m": round(float(np.mean(ctes)), 3), "sim_time_s": round(info["sim_time_s"], 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=200000)
    parser.add_argument("--envs", type=int, default=4)
    parser.add_argument("--track", default="oval")
    parser.add_argument("--randomize", action="store_true", help="domain randomisation of the camera")
    parser.add_argument("--frame-skip", type=int, default=2, help="physics frames per decision (30 Hz / N)")
    parser.add_argument("--episode-s", type=float, default=30.0, help="training episode time limit")
    parser.add_argument("--throttle-min", type=float, default=0.15)
    parser.add_argument("--throttle-max", type=float, default=0.4)
    parser.add_argument("--target-laps", type=int, default=2)
    parser.add_argument("--eval-every", type=int, default=10000)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="ppo_jetracer_oval.zip")
    parser.add_argument("--eval-only", metavar="MODEL.zip")
    args = parser.parse_args()

    try:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.vec_env import DummyVecEnv
    except ImportError:
        raise SystemExit("this example needs stable-baselines3: pip install 'jetracer[rl]'") from None
    torch.set_num_threads(args.threads)

    if args.eval_only:
        print(json.dumps(evaluate(PPO.load(args.eval_only), args)))
        return 0

    start = time.monotonic()
    history = []

    class LapCheck(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next_eval = args.eval_every

        def _on_step(self):
            if self.num_timesteps < self.next_eval:
                return True
            self.next_eval += args.eval_every
            result = evaluate(self.model, args)
            result.update(timesteps=self.num_timesteps, wall_s=round(time.monotonic() - start, 1))
            history.append(result)
            print(json.dumps(result), flush=True)
            return not (result["laps"] >= args.target_laps and not result["off_track"])

    envs = DummyVecEnv([make_env(args, seed=args.seed + i) for i in range(args.envs)])
    model = PPO("CnnPolicy", envs, n_steps=256, batch_size=256, n_epochs=4, learning_rate=3e-4, gamma=0.98,
                gae_lambda=0.95, ent_coef=0.0, clip_range=0.2, seed=args.seed, verbose=0, device="cpu")
    model.learn(total_timesteps=args.timesteps, callback=LapCheck())
    model.save(args.out)
    final = evaluate(model, args)
    final.update(timesteps=model.num_timesteps, wall_s=round(time.monotonic() - start, 1), model=args.out)
    print(json.dumps({"final": final}))
    envs.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
