"""`make demo`: the best end-to-end run that exists (filled in as the simulator and pilot land)."""

import sys

from .profile import load_profile, make_car
from .sim.devices import make_sim_bus


def main():
    profile = load_profile("sim")
    bus = make_sim_bus(profile, persistent=False)
    chip = bus.device(profile.car["i2c_address"])
    with make_car(profile, i2c=bus) as car:
        for steering, throttle in ((0.0, 0.0), (0.5, 0.2), (-0.5, 0.2), (0.0, 0.0)):
            car.steering, car.throttle = steering, throttle
            print("steering %+.2f throttle %+.2f -> servo %.1f us, ESC %.1f us" % (
                steering, throttle, chip.pulse_us(car.steering_channel), chip.pulse_us(car.throttle_channel)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
