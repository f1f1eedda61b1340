"""Neutral throttle that needs nothing from the driving process: its own I2C handle, its own process.

Why a second process: a Python that is stuck cannot save itself. A C call that holds the GIL (a
long regex, a driver call), a process frozen by SIGSTOP or a debugger, an I2C transaction that never
returns: no thread of that interpreter runs, so no in-process watchdog can write neutral. The
guardian is a tiny stdlib-only process (``python -m jetracer.drive.guardian``) fed a heartbeat over a pipe.
When the beats stop for longer than its limit it writes the ESC's neutral pulse straight into the
PCA9685's registers over its own handle (``/dev/i2c-N`` on the car; the memory-mapped registers of
the simulator's twin, which outlive a process), and can switch the outputs fully off so the ESC's own
signal-loss failsafe takes over. When the parent closes cleanly (``Q`` on the pipe) it exits quietly;
when the pipe closes without ``Q`` (the parent died) it writes neutral first.

The same register writer serves the in-process watchdog (:mod:`jetracer.drive.watchdog`): it takes no lock
the driving thread may hold (``DRIVER_LOCK``, the bus lock), so it cannot deadlock behind a stuck write.

Usage (drive, teleop and notebook sessions, the web app)::

    guardian = Guardian.start(Guardian.plan_for(car), limit_s=0.5)
    ...each loop: guardian.beat()   # False once the guardian has acted (or died): stop driving
    guardian.close()

Python 3.6 compatible and stdlib only: it must start in a fraction of a second on a Nano.
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

__all__ = ["Guardian", "BeatThread", "RegisterWriter", "neutral_plan", "write_neutral", "open_registers"]

MODE1, PRE_SCALE, LED0 = 0x00, 0xFE, 0x06
_AI = 0x20
OSCILLATOR_HZ = 25000000.0
I2C_SLAVE = 0x0703  # linux/i2c-dev.h

BEAT, QUIT, TRIPPED = b"B", b"Q", b"T"


# -- register access without the Adafruit drivers or their locks -------------------------------------
class _MappedRegisters:
    """PCA9685 twins' registers: the live ``regs`` buffers (in-process) or their backing files."""

    def __init__(self, regs_by_address, owned=False):
        self._regs = regs_by_address
        self._owned = owned  # mapped here (close them) or the twins' own buffers (leave them)

    @classmethod
    def from_files(cls, files):
        import mmap

        regs = {}
        for address, path in files.items():
            fd = os.open(str(path), os.O_RDWR)
            try:
                regs[int(address)] = mmap.mmap(fd, 256)
            finally:
                os.close(fd)
        return cls(regs, owned=True)

    def peek(self, address, reg):
        return self._regs[address][reg]

    def poke(self, address, reg, data):
        self._regs[address][reg:reg + len(data)] = bytes(data)  # one slice store: atomic under the GIL

    def close(self):
        if not self._owned:
            return
        for regs in self._regs.values():
            if hasattr(regs, "close"):
                try:
                    regs.close()
                except (BufferError, ValueError):
                    pass


class _LinuxRegisters:
    """``/dev/i2c-N`` opened afresh: a file descriptor of our own, plain write()/read() per chip."""

    def __init__(self, bus_number):
        self.path = "/dev/i2c-%d" % int(bus_number)
        self._fd = os.open(self.path, os.O_RDWR)
        self._address = None

    def _select(self, address):
        import fcntl

        if address != self._address:
            fcntl.ioctl(self._fd, I2C_SLAVE, address)
            self._address = address

    def peek(self, address, reg):
        self._select(address)
        os.write(self._fd, bytes([reg]))
        return os.read(self._fd, 1)[0]

    def poke(self, address, reg, data):
        self._select(address)
        if self.peek(address, MODE1) & _AI:
            os.write(self._fd, bytes([reg]) + bytes(data))  # one transaction: the chip latches it at STOP
        else:
            for i, value in enumerate(data):
                os.write(self._fd, bytes([reg + i, value]))

    def close(self):
        os.close(self._fd)


def open_registers(bus):
    """A register handle for ``bus``: a plan's bus spec (dict) or, in-process, a VirtualI2C."""
    if isinstance(bus, dict):
        if bus.get("kind") == "linux":
            return _LinuxRegisters(bus["bus"])
        if bus.get("kind") == "files":
            return _MappedRegisters.from_files({int(a): p for a, p in bus["files"].items()})
        raise ValueError("unknown bus spec %r" % (bus,))
    devices = getattr(bus, "_devices", None)
    if devices is not None:  # a VirtualI2C: reach its twins' registers directly (own "fd")
        return _MappedRegisters({a: d.regs for a, d in devices.items() if hasattr(d, "regs")})
    number = getattr(bus, "bus_number", None)
    if number is None:
        raise ValueError("no second handle for bus %r" % (bus,))
    return _LinuxRegisters(number)


def write_neutral(registers, outputs, outputs_off=False):
    """Write each ``(address, channel, pulse_us)``: the pulse (``None``: full off). With
    ``outputs_off`` every listed channel goes fully off: an ESC then sees no signal at all and its
    own failsafe (neutral/brake) holds the car. Returns what was written, for the log."""
    done = []
    for address, channel, pulse_us in outputs:
        base = LED0 + 4 * int(channel)
        if pulse_us is None or outputs_off:
            registers.poke(address, base, (0, 0, 0, 0x10))
            done.append("0x%02x ch%d off" % (address, channel))
            continue
        prescale = max(3, registers.peek(address, PRE_SCALE))
        tick_us = 1e6 / (OSCILLATOR_HZ / (4096.0 * (prescale + 1))) / 4096.0
        ticks = max(1, min(4095, int(round(float(pulse_us) / tick_us))))
        registers.poke(address, base, (0, 0, ticks & 0xFF, ticks >> 8))
        done.append("0x%02x ch%d %.0f us" % (address, channel, ticks * tick_us))
    return done


class RegisterWriter:
    """``write_neutral`` bound to one register handle and one list of outputs (opened once: at the
    moment it is needed, opening a bus may be what hangs)."""

    def __init__(self, bus, outputs):
        self.outputs = [tuple(o) for o in outputs]
        self.registers = open_registers(bus)

    def __call__(self, outputs_off=False):
        return write_neutral(self.registers, self.outputs, outputs_off=outputs_off)

    def close(self):
        self.registers.close()


def neutral_plan(car):
    """What the guardian needs to know, as JSON-able data: how to reach the chips and which pulse
    is neutral on which channel. ``None`` when the car's bus has no second handle across processes
    (a virtual bus whose twins live only in this process's memory)."""
    outputs = [list(o) for o in car.neutral_outputs()]
    bus = car.i2c
    number = getattr(bus, "bus_number", None)
    if number is not None:
        return {"bus": {"kind": "linux", "bus": int(number)}, "outputs": outputs}
    devices = getattr(bus, "_devices", {})
    files = {}
    for address, _, _ in outputs:
        backing = getattr(devices.get(address), "backing_file", None)
        if backing is None:
            return None
        files[str(address)] = str(backing)
    return {"bus": {"kind": "files", "files": files}, "outputs": outputs}


# -- the parent's side ---------------------------------------------------------------------------------
class Guardian:
    """Handle on a running guardian process. ``beat()`` each loop; ``close()`` on a clean exit."""

    def __init__(self, process, beat_fd, status_fd, limit_s):
        self.process = process
        self.limit_s = limit_s
        self._beat_fd = beat_fd
        self._status_fd = status_fd
        self.tripped = False
        self.reason = ""
        self.lapsed = False  #: it wrote neutral because the beats stopped (else: it is gone)
        self.started_at = time.monotonic()

    @classmethod
    def plan_for(cls, car):
        return neutral_plan(car)

    @classmethod
    def start(cls, plan, limit_s=0.5, outputs_off=False, name="drive"):
        """Spawn the guardian for ``plan`` (see :func:`neutral_plan`); ``None`` if there is no plan."""
        if plan is None:
            return None
        beat_r, beat_w = os.pipe()
        status_r, status_w = os.pipe()
        config = dict(plan, limit_s=float(limit_s), outputs_off=bool(outputs_off), beat_fd=beat_r,
                      status_fd=status_w, parent=os.getpid(), name=name)
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
        try:
            process = subprocess.Popen([sys.executable, "-m", "jetracer.drive.guardian", json.dumps(config)],
                                       pass_fds=(beat_r, status_w), env=env, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL)  # stderr stays: the journal hears it
        finally:
            os.close(beat_r)
            os.close(status_w)
        os.set_blocking(status_r, False)
        return cls(process, beat_w, status_r, float(limit_s))

    def beat(self):
        """Tell the guardian the loop is alive. False when it has acted or is gone: stop driving."""
        if self.tripped:
            return False
        try:
            if os.read(self._status_fd, 64):
                self.lapsed = True
                return self._trip("the guardian process wrote neutral (heartbeat lapsed)")
        except BlockingIOError:
            pass
        except OSError:
            return self._trip(self._gone())
        else:  # end of file: the guardian exited
            return self._trip(self._gone())
        try:
            os.write(self._beat_fd, BEAT)
        except OSError:
            return self._trip(self._gone())
        return True

    def _gone(self):
        code = self.process.poll()
        return "the guardian process is gone (%s)" % ("still closing" if code is None else "exit status %d" % code)

    def _trip(self, reason):
        self.tripped, self.reason = True, reason
        return False

    def close(self, timeout=2.0):
        """Clean exit: the guardian leaves the outputs alone and ends."""
        if self._beat_fd is None:
            return
        try:
            os.write(self._beat_fd, QUIT)
        except OSError:
            pass
        for fd in (self._beat_fd, self._status_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        self._beat_fd = self._status_fd = None
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BeatThread:
    """A guardian beaten from a thread, for sessions whose loop belongs to the user (notebooks, the
    web app): it catches a frozen, stopped or dead interpreter and a C call holding the GIL, not a
    slow cell (the pilot's own deadline thread watches its loop). After a trip ``on_trip(reason)``
    runs and a fresh guardian takes over, so the session stays guarded."""

    def __init__(self, plan, limit_s=0.5, on_trip=None, outputs_off=False, name="session"):
        import threading

        self.plan, self.limit_s, self.on_trip = plan, float(limit_s), on_trip
        self.outputs_off, self.name = outputs_off, name
        self.guardian = Guardian.start(plan, limit_s=limit_s, outputs_off=outputs_off, name=name)
        self.trips = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="guardian-beat", daemon=True)

    def start(self):
        if self.guardian is not None:
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.limit_s / 4.0):
            if self.guardian.beat():
                continue
            self.trips += 1
            reason = self.guardian.reason
            self.guardian.close()
            if self.on_trip is not None:
                try:
                    self.on_trip("watchdog: %s" % reason)
                except Exception as exc:  # noqa: BLE001 - the beat must go on
                    sys.stderr.write("guardian on_trip failed: %s\n" % exc)
            if not self._stop.is_set():
                self.guardian = Guardian.start(self.plan, limit_s=self.limit_s, outputs_off=self.outputs_off,
                                               name=self.name)

    def close(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)
        if self.guardian is not None:
            self.guardian.close()


# -- the guardian's side -------------------------------------------------------------------------------
def _say(config, text):
    sys.stderr.write("jetracer guardian (%s, pid %d): %s\n" % (config.get("name"), config.get("parent"), text))
    sys.stderr.flush()


def guard(config, clock=time.monotonic):
    """The guardian's loop: armed by the first beat; neutral when beats stop for ``limit_s`` or the
    parent vanishes without saying goodbye. Returns the process exit status."""
    beat_fd, status_fd, limit = config["beat_fd"], config["status_fd"], float(config["limit_s"])
    try:
        writer = RegisterWriter(config["bus"], config["outputs"])
    except (OSError, ValueError, KeyError) as exc:
        _say(config, "cannot reach the PWM board (%s): not guarding" % exc)
        return 3
    armed, tripped, last = False, False, clock()

    def act(why):
        try:
            done = writer(outputs_off=bool(config.get("outputs_off")))
        except OSError as exc:
            _say(config, "%s, but writing neutral failed: %s" % (why, exc))
            return
        _say(config, "%s: wrote %s" % (why, ", ".join(done)))
        try:
            os.write(status_fd, TRIPPED)
        except OSError:
            pass

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's; it writes neutral itself
    signal.signal(signal.SIGTERM, lambda *a: (act("stopped by SIGTERM"), os._exit(0)))
    while True:
        timeout = max(0.0, last + limit - clock()) if armed and not tripped else None
        ready, _, _ = select.select([beat_fd], [], [], timeout)
        if not ready:
            tripped = True
            act("no heartbeat for %.2f s" % limit)
            continue
        data = os.read(beat_fd, 4096)
        if not data:  # every write end closed without a goodbye: the parent died
            act("the driving process ended without stopping")
            return 1
        if QUIT in data:
            return 0
        armed, last = True, clock()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        config = json.loads(argv[0])
    except (IndexError, ValueError):
        sys.stderr.write("usage: python -m jetracer.drive.guardian CONFIG_JSON (started by jetracer itself)\n")
        return 2
    return guard(config)


if __name__ == "__main__":
    sys.exit(main())
