"""A `jetracer drive --sim --pilot expert` with a fault injected after some frames (for the fault
suite's subprocess tests). Run as: python fault_drive.py KIND AFTER_FRAMES MARKER [drive args...]

Before the fault it writes MARKER (JSON: monotonic time, throttle pulse), so the test can measure the
time from the fault to neutral on the PCA9685 twin's shared registers.
"""

import json
import os
import signal
import sys
import threading
import time

#: how long the sleeping engine, the GIL-holding call and the stuck I2C write last
HANG_S = 1.5


def main():
    kind, after, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    from jetracer.cli import main as cli
    from jetracer.i2c import VirtualI2C
    from jetracer.sim import expert

    calls = [0]
    original = expert.ExpertDriver.command

    def mark():
        pulse = expert_world[0].pwm.pulse_us(1)
        with open(marker + ".tmp", "w") as f:
            json.dump({"t": time.monotonic(), "throttle_us": pulse, "pid": os.getpid()}, f)
        os.rename(marker + ".tmp", marker)

    expert_world = []

    def command(self):
        if not expert_world:
            expert_world.append(self.world)
        calls[0] += 1
        if calls[0] == after:
            if kind == "none":
                mark()
            elif kind == "sleep":
                mark()
                time.sleep(HANG_S)
            elif kind == "gil":
                import ctypes

                mark()
                ctypes.PyDLL(None).sleep(int(HANG_S + 0.5))  # a C call that keeps the GIL: no thread runs
            elif kind == "sigstop":
                mark()
                os.kill(os.getpid(), signal.SIGSTOP)
            elif kind == "i2c":
                hang = threading.Event()
                never = threading.Event()
                real = VirtualI2C.writeto

                def writeto(bus, address, buffer, **kw):
                    if len(buffer) > 1 and buffer[0] == 0x06 + 4 * 1 and not hang.is_set():  # ESC channel
                        hang.set()  # once
                        mark()
                        never.wait(HANG_S)  # a write that hangs, then lands late
                    return real(bus, address, buffer, **kw)
                VirtualI2C.writeto = writeto
        return original(self)

    expert.ExpertDriver.command = command
    return cli(["drive", "--sim", "--pilot", "expert"] + sys.argv[4:])


if __name__ == "__main__":
    sys.exit(main())
