"""The Gymnasium environment: API conformance, the action's path through the PCA9685 twin, reward,
termination, laps, seeding, tracks and vector environments."""

import subprocess
import sys

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

import jetracer.sim.gym  # noqa: E402,F401  (registers JetRacer-v0)
from jetracer.sim.expert import ExpertDriver  # noqa: E402

SMALL = (48, 64)


def _make(**kwargs):
    kwargs.setdefault("image_size", SMALL)
    return gymnasium.make("JetRacer-v0", **kwargs)


def test_passes_gymnasiums_env_checker_and_makes_by_module_id():
    from gymnasium.utils.env_checker import check_env

    env = gymnasium.make("jetracer.sim.gym:JetRacer-v0", track="oval", seed=3, image_size=SMALL,
                         render_mode="rgb_array")
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (48, 64, 3) and obs.dtype == np.uint8
    assert np.array_equal(env.render(), obs[:, :, ::-1])  # observation BGR like the car, render RGB
    env.close()


def test_the_action_reaches_the_pca9685_twin_and_steers_the_car():
    env = _make()
    env.reset(seed=0)
    world = env.unwrapped.world
    channel = world.profile.car["steering_channel"]
    pulses, yaw0 = {}, world.vehicle.yaw
    for steer in (1.0, -1.0):
        env.reset(seed=0)
        for _ in range(10):
            _, _, terminated, _, info = env.step(np.array([steer, 0.3], np.float32))
        assert not terminated  # (off the track the env writes neutral)
        pulses[steer] = world.pwm.pulse_us(channel)
        assert info["pwm_us"]["steering"] == round(pulses[steer], 1)
        turned = world.vehicle.yaw - yaw0
        assert (turned < -0.05) if steer > 0 else (turned > 0.05)  # +1 turns right (clockwise)
    assert abs(pulses[1.0] - pulses[-1.0]) > 500
    env.close()


def test_reward_is_progress_termination_off_track_and_truncation_on_time():
    env = _make(time_limit_s=1.0)
    env.reset(seed=0)
    _, still, terminated, truncated, info = env.step(np.array([0.0, 0.0], np.float32))
    assert still == pytest.approx(0.0, abs=1e-6) and not terminated and not truncated
    total, steps = 0.0, 1
    while not truncated:
        _, reward, terminated, truncated, info = env.step(np.array([0.0, 0.3], np.float32))
        total += reward
        steps += 1
    assert steps == 30 and not terminated and total > 0.3 and info["progress_m"] > 0.3
    env = _make(time_limit_s=30.0)
    env.reset(seed=0)
    for _ in range(300):
        _, reward, terminated, truncated, info = env.step(np.array([1.0, 0.6], np.float32))
        if terminated:
            break
    assert terminated and info["off_track"] and reward < -4.0
    assert info["pwm_us"]["throttle"] == pytest.approx(env.unwrapped.world.final_pwm_us()["throttle"])
    _, _, _, _, info = env.step(np.array([np.nan, np.nan], np.float32))  # never a crash, never throttle
    env.close()


def test_an_expert_through_the_env_completes_a_lap_with_its_time_in_info():
    env = _make(time_limit_s=40.0)
    env.reset(seed=0)
    expert = ExpertDriver(env.unwrapped.world)
    info = {}
    for _ in range(1500):
        _, _, terminated, truncated, info = env.step(np.array(expert(), np.float32))
        assert not terminated
        if info["lap"] >= 1:
            break
    assert info["lap"] == 1 and 5.0 < info["lap_time_s"] < 30.0 and abs(info["cte_m"]) < 0.3
    assert info["speed_mps"] > 0.5
    env.close()


def test_seeds_repeat_episodes_and_randomisation_changes_them():
    env = _make(randomize=True, random_start=True)
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    c, _ = env.reset(seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    env.close()


def test_tracks_as_options():
    env = _make(track=["oval", "chicane"])
    seen = {env.reset(seed=s)[1]["track"] for s in range(8)}
    assert seen == {"oval", "chicane"}
    assert env.reset(options={"track": "figure8"})[1]["track"] == "figure8"
    env.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_environments(mode):
    envs = gymnasium.make_vec("jetracer.sim.gym:JetRacer-v0", num_envs=2, vectorization_mode=mode, image_size=SMALL)
    obs, _ = envs.reset(seed=[1, 2])
    for _ in range(5):
        obs, reward, terminated, truncated, info = envs.step(np.tile([0.0, 0.3], (2, 1)).astype(np.float32))
    assert obs.shape == (2, 48, 64, 3) and reward.shape == (2,) and (reward > 0).all()
    envs.close()


def test_importing_jetracer_does_not_need_gymnasium():
    code = "import sys, jetracer, jetracer.sim.world; assert 'gymnasium' not in sys.modules"
    subprocess.check_call([sys.executable, "-c", code])
