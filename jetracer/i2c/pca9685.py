"""Register-level twin of the NXP PCA9685 16-channel, 12-bit PWM controller.

Modelled on the datasheet (rev. 4): MODE1/MODE2, the LEDn_ON/OFF 12-bit counters with their
full-on/full-off bits, ALL_LED, PRE_SCALE (only writable while asleep), auto-increment (AI bit) and
the SLEEP/RESTART handshake. Outputs are reported the way a scope would see them: the PWM
frequency from the 25 MHz oscillator and PRE_SCALE, and each channel's pulse width in microseconds.
"""

import mmap
import os

from .bus import RegisterDevice

__all__ = ["PCA9685Twin"]

MODE1, MODE2, PRE_SCALE = 0x00, 0x01, 0xFE
LED0, ALL_LED = 0x06, 0xFA
_SLEEP, _AI, _RESTART = 0x10, 0x20, 0x80
OSCILLATOR_HZ = 25_000_000


class PCA9685Twin(RegisterDevice):
    """A PCA9685 at ``address``; attach it to a :class:`VirtualI2C`."""

    def __init__(self, address=0x40, oscillator_hz=OSCILLATOR_HZ, backing_file=None):
        """``backing_file`` keeps the registers in a memory-mapped file, so they outlive the
        process that wrote them, as a real chip keeps its last pulse after a crash; another
        process (``jetracer stop``) can then open the same chip and write neutral."""
        super().__init__(address)
        self.oscillator_hz = oscillator_hz
        self.writes = 0  #: count of write transactions, for tests that check traffic
        self.backing_file = backing_file  #: where another process (guardian, `jetracer stop`) finds the registers
        if backing_file is None:
            self.regs = bytearray(256)
            self.power_on_reset()
        else:
            self.regs = _mapped_registers(backing_file, self)

    def power_on_reset(self):
        self.regs[0:256] = bytes(256)
        self.regs[MODE1] = 0x11  # SLEEP | ALLCALL, as after power-up
        self.regs[MODE2] = 0x04  # OUTDRV totem pole
        self.regs[PRE_SCALE] = 0x1E  # 200 Hz
        for ch in range(16):  # every LEDn_OFF_H has bit 4 (full off) set at reset
            self.regs[LED0 + 4 * ch + 3] = 0x10
        self.pointer = 0

    # -- bus side --------------------------------------------------------------------------------
    def write(self, data):
        if not data:
            return  # address probe
        self.writes += 1
        self.pointer = data[0]
        for value in data[1:]:
            self._store(self.pointer, value)
            self._advance()

    def read(self, count):
        out = bytearray()
        for _ in range(count):
            out.append(self.regs[self.pointer])
            self._advance()
        return bytes(out)

    def _advance(self):
        if self.regs[MODE1] & _AI:
            self.pointer = (self.pointer + 1) & 0xFF  # rolls over from 0xFF to MODE1

    def _store(self, reg, value):
        if reg == PRE_SCALE:
            if self.regs[MODE1] & _SLEEP:  # datasheet: writes ignored unless SLEEP is set
                self.regs[PRE_SCALE] = max(3, value)
            return
        if reg == MODE1:
            if value & _RESTART:  # writing 1 clears RESTART; the bit reads back 0 once restarted
                value &= ~_RESTART
            self.regs[MODE1] = value
            return
        if ALL_LED <= reg < ALL_LED + 4:
            for ch in range(16):
                self.regs[LED0 + 4 * ch + (reg - ALL_LED)] = value
            return
        self.regs[reg] = value

    # -- what a scope would show -----------------------------------------------------------------
    @property
    def sleeping(self):
        return bool(self.regs[MODE1] & _SLEEP)

    @property
    def frequency_hz(self):
        return self.oscillator_hz / (4096.0 * (self.regs[PRE_SCALE] + 1))

    @property
    def tick_us(self):
        """Length of one of the 4096 counter steps, in microseconds."""
        return 1e6 / self.frequency_hz / 4096.0

    def counters(self, channel):
        """(on, off, full_on, full_off) as programmed for ``channel``."""
        base = LED0 + 4 * channel
        on = self.regs[base] | (self.regs[base + 1] & 0x0F) << 8
        off = self.regs[base + 2] | (self.regs[base + 3] & 0x0F) << 8
        return on, off, bool(self.regs[base + 1] & 0x10), bool(self.regs[base + 3] & 0x10)

    def duty(self, channel):
        """Fraction of each period the output is high (0 while the oscillator sleeps)."""
        if self.sleeping:
            return 0.0
        on, off, full_on, full_off = self.counters(channel)
        if full_off:
            return 0.0
        if full_on:
            return 1.0
        return ((off - on) % 4096) / 4096.0

    def pulse_us(self, channel):
        """High time of ``channel`` per period in microseconds (0 when off or asleep)."""
        return self.duty(channel) * 1e6 / self.frequency_hz

    def pulses_us(self):
        return [self.pulse_us(ch) for ch in range(16)]


def _mapped_registers(path, twin):
    """256 registers in a shared file; a new file starts in the power-on state."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fresh = not os.path.exists(path) or os.path.getsize(path) != 256
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fresh:
            os.ftruncate(fd, 256)
        regs = mmap.mmap(fd, 256)
    finally:
        os.close(fd)
    if fresh:
        twin.regs = regs
        twin.power_on_reset()
    return regs
