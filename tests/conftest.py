"""Shared fixtures: a virtual I2C bus with a PCA9685 twin, isolated simulator state, and a small dataset
that trains in seconds."""

import pytest

from jetracer.i2c import PCA9685Twin, VirtualI2C


@pytest.fixture(autouse=True)
def _isolated_sim_state(tmp_path_factory, monkeypatch):
    """Each test gets its own folder for the simulated chips' persistent registers."""
    monkeypatch.setenv("JETRACER_SIM_STATE", str(tmp_path_factory.mktemp("simstate")))


@pytest.fixture
def bus():
    return VirtualI2C()


@pytest.fixture
def pca(bus):
    return bus.attach(PCA9685Twin(0x40))


@pytest.fixture
def closed_cars(monkeypatch):
    """Every NvidiaRacecar closed during the test (the real close still runs)."""
    from jetracer.racecar import NvidiaRacecar

    closed = []
    original = NvidiaRacecar.close

    def close(car):
        closed.append(car)
        original(car)

    monkeypatch.setattr(NvidiaRacecar, "close", close)
    return closed


@pytest.fixture(scope="session")
def dots(tmp_path_factory):
    """Images with one bright blob; the label is the blob: learnable in seconds by the tiny net."""
    import numpy as np

    from jetracer.data.xy import save_sample

    root = tmp_path_factory.mktemp("dots")
    rng = np.random.default_rng(0)
    for _ in range(160):
        x, y = (int(v) for v in rng.integers(20, 204, size=2))
        img = np.full((224, 224, 3), 40, np.uint8)
        img[y - 14:y + 15, x - 14:x + 15] = (0, 230, 255)
        save_sample(root, "apex", img, x, y)
    return root
