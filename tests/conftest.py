"""Shared fixtures: a virtual I2C bus with a PCA9685 twin, and isolated simulator state."""

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
