"""JetRacer's import paths and car API: its notebooks' car cells run with this package installed."""

import pytest
import traitlets

from jetracer.i2c import PCA9685Twin, VirtualI2C


def test_jetracer_import_paths_give_our_car_classes():
    from jetracer.nvidia_racecar import NvidiaRacecar
    from jetracer.racecar import NvidiaRacecar as Ours
    from jetracer.racecar import Racecar

    assert NvidiaRacecar is Ours and issubclass(NvidiaRacecar, Racecar)
    assert issubclass(Racecar, traitlets.HasTraits)


def test_jetracer_notebook_car_cells_drive_the_pca9685():
    from jetracer.nvidia_racecar import NvidiaRacecar

    bus = VirtualI2C()
    pca = bus.attach(PCA9685Twin(0x40))
    car = NvidiaRacecar(i2c=bus)  # JetRacer's `car = NvidiaRacecar()`, on the simulator's bus
    try:
        # JetRacer's traits and defaults, as basic_motion.ipynb links them to sliders
        assert (car.i2c_address, car.steering_channel, car.throttle_channel) == (0x40, 0, 1)
        assert (car.steering_gain, car.steering_offset, car.throttle_gain) == (-0.65, 0.0, 0.8)
        car.steering = 0.5
        car.throttle = 0.2
        assert pca.pulse_us(0) == pytest.approx(1500 - 0.5 * 0.65 * 750, abs=4.0)  # 12-bit ticks, ~50 Hz
        assert pca.pulse_us(1) == pytest.approx(1500 + 0.2 * 0.8 * 750, abs=4.0)
        car.steering = 7.0  # JetRacer's Racecar clips to [-1, 1]
        assert car.steering == 1.0
    finally:
        car.close()
    assert pca.pulse_us(1) == pytest.approx(1500, abs=4.0)


def test_no_car_is_one_line_not_a_traceback(monkeypatch):
    from jetracer.errors import HardwareError
    from jetracer.nvidia_racecar import NvidiaRacecar

    with pytest.raises(HardwareError) as err:
        NvidiaRacecar(i2c=VirtualI2C())  # a bus with nothing at 0x40
    assert "0x40" in str(err.value) and "\n" not in str(err.value)
