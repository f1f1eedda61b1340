"""`jetracer calibrate`: find steering centre, direction and travel, and throttle neutral and
direction, by watching the car; the results are saved back to the profile atomically.

Put the car on a stand, wheels off the ground, before starting. Each step moves one output and
asks a question; Enter accepts. Keys at a nudge prompt: `+`/`-` nudge (`++`/`--` nudge more), a
number sets the value, Enter accepts, `q` quits without saving. Throttle is neutral between steps.
"""

import sys

from ..drive.actuator import ActuatorMapping
from ._common import add_profile_argument, add_sim_argument, profile_from_args

NUDGE, BIG_NUDGE = 0.01, 0.05


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--no-save", action="store_true", help="print the values, do not write the profile")


class _Quit(Exception):
    pass


class Wizard:
    """The calibration dialogue over any input/output streams (a terminal, or a test)."""

    def __init__(self, car, ask=input, say=print):
        self.car, self.ask, self.say = car, ask, say

    def _read(self, prompt):
        answer = self.ask(prompt).strip().lower()
        if answer == "q":
            raise _Quit()
        return answer

    def yes(self, question):
        return self._read(question + " [Y/n] ") not in ("n", "no")

    def nudge(self, name, apply, value, low=-1.0, high=1.0):
        """Let the user move ``value`` until the car looks right; returns the accepted value."""
        while True:
            apply(value)
            answer = self._read("  %s = %+.3f  (+/- nudge, ++/-- more, a number, Enter to accept): " % (name, value))
            if answer == "":
                return value
            steps = {"+": NUDGE, "-": -NUDGE, "++": BIG_NUDGE, "--": -BIG_NUDGE}
            if answer in steps:
                value += steps[answer]
            else:
                try:
                    value = float(answer)
                except ValueError:
                    self.say("  ? type +, -, ++, --, a number, Enter or q")
                    continue
            value = max(low, min(high, value))

    def run(self):
        car = self.car
        car.throttle = 0.0
        self.say("1/4 steering centre: nudge until the front wheels point straight ahead.")
        car.steering = 0.0
        offset = self.nudge("steering_offset", lambda v: setattr(car, "steering_offset", v), car.steering_offset)
        self.say("2/4 steering direction: the wheels now turn for steering = +0.5 (should be RIGHT).")
        car.steering = 0.5
        gain = car.steering_gain
        if not self.yes("  Did the wheels turn right?"):
            gain = -gain
            car.steering_gain = gain
        self.say("3/4 steering travel: at steering = +1 the wheels should reach full lock without buzzing.")
        car.steering = 1.0
        gain = self.nudge("steering_gain", lambda v: setattr(car, "steering_gain", v), gain)
        car.steering = 0.0
        self.say("4/4 throttle: neutral, then direction. Wheels OFF the ground.")
        car.throttle = 0.0
        t_offset = self.nudge("throttle_offset", lambda v: setattr(car, "throttle_offset", v),
                              getattr(car, "throttle_offset", 0.0), -0.3, 0.3)
        car.throttle = 0.15
        t_gain = car.throttle_gain
        forward = self.yes("  Throttle 0.15: do the wheels spin FORWARD?")
        car.throttle = 0.0
        if not forward:
            t_gain = -t_gain
            car.throttle_gain = t_gain
        values = {"steering_offset": round(offset, 4), "steering_gain": round(gain, 4),
                  "throttle_offset": round(t_offset, 4), "throttle_gain": round(t_gain, 4)}
        found = ActuatorMapping.from_settings(dict(car.settings(), **values))
        if found.throttle_output == "esc":  # where the ESC stopped creeping is its neutral: the profile checks it
            values["esc_neutral_us"] = round(found.throttle.neutral, 1)
        return {"car": values}


def run(args):
    from ..drive.signals import install_signal_handlers
    from ..profile import save_profile_values
    from ..rig import Rig

    install_signal_handlers()
    profile = profile_from_args(args)
    with Rig(profile, sim=args.sim, world=False, camera=False, battery=False) as rig:  # neutral on every way out
        print("Calibrating %s (%s). Put the car on a stand, wheels off the ground. q quits." % (
            profile.name, profile.path))
        try:
            values = Wizard(rig.car, ask=_ask).run()
        except (_Quit, EOFError):
            print("quit: profile unchanged")
            return 1
    print("result: " + ", ".join("%s = %s" % kv for kv in values["car"].items()))
    if args.no_save or profile.path is None:
        return 0
    save_profile_values(profile.path, values)
    print("saved to %s" % profile.path)
    return 0


def _ask(prompt):
    sys.stdout.write(prompt)
    sys.stdout.flush()
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line
