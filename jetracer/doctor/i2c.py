"""What answers on each I2C bus, what it is, and whether it is what the profile expects.

Read-only by construction: the only bytes ever sent are one-byte register pointers (to read a
PCA9685's MODE1 or an INA219's configuration register), through :class:`ReadOnlyBus`, which refuses
anything longer. A pointer selects a register and changes no output, so the doctor cannot move
the car, wake a sleeping PWM chip, or clear an OLED. Addresses are found as ``i2cdetect -r`` finds
them, by reading one byte; an address a kernel driver holds is shown as ``UU`` and left alone.
"""

import errno
import os
import re

from .report import ok, problem, warning

__all__ = ["DevI2C", "ReadOnlyBus", "scan_bus", "i2c_checks", "KNOWN_ADDRESSES"]

_I2C_SLAVE = 0x0703
_FIRST, _LAST = 0x03, 0x77
_OSCILLATOR_HZ = 25000000.0
_INA219_RESET_CONFIG = 0x399F

#: What is usually found at an address on a JetRacer/JetBot/Donkeycar (a guess for unexpected ones).
KNOWN_ADDRESSES = {
    0x3C: "SSD1306 OLED?", 0x3D: "SSD1306 OLED?",
    0x40: "PCA9685 PWM or INA219?", 0x41: "INA219 battery monitor?", 0x42: "INA219 battery monitor?",
    0x43: "INA219 battery monitor?", 0x44: "INA219?", 0x45: "INA219?",
    0x60: "PCA9685 (motor board)?", 0x68: "IMU or RTC?", 0x70: "PCA9685 all-call address",
}


class DevI2C:
    """``/dev/i2c-N`` through ioctl and plain reads: no Blinka, no smbus, works on Python 3.6.

    Only what :class:`ReadOnlyBus` needs: read bytes, or send a one-byte pointer then read."""

    def __init__(self, path):
        self.path = path
        self._fd = os.open(path, os.O_RDWR)

    def _select(self, address):
        import fcntl

        fcntl.ioctl(self._fd, _I2C_SLAVE, address)

    def readfrom_into(self, address, buffer):
        self._select(address)
        data = os.read(self._fd, len(buffer))
        if len(data) != len(buffer):
            raise OSError(errno.EIO, "short read")
        buffer[:] = data

    def writeto_then_readfrom(self, address, out, into):
        self._select(address)
        os.write(self._fd, bytes(out))
        self.readfrom_into(address, into)

    def deinit(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class ReadOnlyBus:
    """Wraps a bus (real or virtual) so that only reads and one-byte register pointers get through."""

    def __init__(self, bus):
        self._bus = bus

    def read(self, address, count=1):
        buf = bytearray(count)
        self._bus.readfrom_into(address, buf)
        return bytes(buf)

    def read_register(self, address, register, count=1):
        if not 0 <= register <= 0xFF:
            raise ValueError("register pointer out of range")
        buf = bytearray(count)
        self._bus.writeto_then_readfrom(address, bytes([register]), buf)
        return bytes(buf)

    def writeto(self, *args, **kwargs):
        raise PermissionError("the doctor never writes to an I2C device")

    def close(self):
        deinit = getattr(self._bus, "deinit", None)
        if deinit is not None:
            deinit()


def scan_bus(bus):
    """{address: "ack" | "busy"} of every 7-bit address that answers a one-byte read."""
    found = {}
    for address in range(_FIRST, _LAST + 1):
        try:
            bus.read(address)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                found[address] = "busy"
            continue
        found[address] = "ack"
    return found


def _pulse_us(bus, address, channel, hz):
    """The pulse a channel puts out now, from its LEDn_ON/OFF registers (byte by byte: the chip's
    auto-increment may be off), or None when the output is off."""
    on_l, on_h, off_l, off_h = (bus.read_register(address, 0x06 + 4 * channel + i)[0] for i in range(4))
    if off_h & 0x10:
        return None  # full off
    if on_h & 0x10:
        return 1e6 / hz  # full on
    ticks = (((off_h & 0x0F) << 8) | off_l) - (((on_h & 0x0F) << 8) | on_l)
    return (ticks % 4096) * 1e6 / (hz * 4096.0)


def _pca9685(bus, address, channels=()):
    """(status, text) for a PCA9685: MODE1 (asleep or running), the PWM frequency, and the pulses
    on ``channels`` ({name: channel}) as a scope would see them."""
    mode1 = bus.read_register(address, 0x00)[0]
    prescale = bus.read_register(address, 0xFE)[0]
    hz = _OSCILLATOR_HZ / (4096.0 * (prescale + 1))
    state = "asleep (normal until jetracer starts)" if mode1 & 0x10 else "running"
    text = "PCA9685: MODE1 0x%02x %s, %.0f Hz" % (mode1, state, hz)
    if channels and not mode1 & 0x10 and prescale >= 3:
        pulses = []
        for name, channel in channels:
            us = _pulse_us(bus, address, channel, hz)
            pulses.append("%s %s" % (name, "off" if us is None else "%.0f us" % us))
        text += ", " + ", ".join(pulses)
    if prescale < 3:
        return "problem", text + " (PRE_SCALE 0x%02x is below the chip's minimum: not a PCA9685?)" % prescale
    return "ok", text


def _ina219(bus, address, cells=None):
    """(status, text) for an INA219: its configuration register and the bus voltage it reads."""
    raw = bus.read_register(address, 0x00, 2)
    config = (raw[0] << 8) | raw[1]
    vraw = bus.read_register(address, 0x02, 2)
    volts = (((vraw[0] << 8) | vraw[1]) >> 3) * 0.004
    rng = 32 if config & 0x2000 else 16
    what = "reset defaults" if config == _INA219_RESET_CONFIG else "configured"
    text = "INA219: config 0x%04x (%s, %d V range), bus %.2f V" % (config, what, rng, volts)
    if config & 0x8000:
        return "problem", text + " (reset bit stuck: not an INA219?)"
    if cells and volts < 2.5 * cells:
        return "warning", text + " (a %d-cell pack should read %.1f V or more: battery flat or not connected?)" % (
            cells, 3.0 * cells)
    return "ok", text


def _ssd1306(bus, address):
    bus.read(address)
    return "ok", "SSD1306: acks its address"


def _expected(profile):
    """{address: (chip, role)} the profile says are on its bus."""
    car = profile.car
    out = {car["i2c_address"]: ("pca9685", "steering/throttle PWM" if car["type"] == "nvidia" else "steering PWM")}
    if car["type"] == "waveshare":
        out[car["motor_i2c_address"]] = ("pca9685", "motor PWM")
    if profile.battery["enabled"]:
        out.setdefault(profile.battery["i2c_address"], ("ina219", "battery monitor"))
    if profile.display["enabled"]:
        out.setdefault(profile.display["i2c_address"], ("ssd1306", "OLED"))
    return out


def _channels(profile, address):
    """[(name, channel)] the profile drives on the PCA9685 at ``address`` (servo and ESC pins)."""
    car = profile.car
    if address != car["i2c_address"]:
        return []
    if car["type"] == "nvidia":
        return [("steering", car["steering_channel"]), ("throttle", car["throttle_channel"])]
    return [("steering", car["steering_channel"])]


def _bus_numbers(host):
    numbers = []
    for path in host.glob("/dev/i2c-*"):
        m = re.match(r"^/dev/i2c-(\d+)$", path)
        if m:
            numbers.append(int(m.group(1)))
    return sorted(numbers)


def _fix(bus_number, address):
    return ("check the wiring (SDA/SCL/3V3/GND) and the address jumpers, then `i2cdetect -y -r %d`; "
            "if it shows at another address or bus, set it in the profile (address 0x%02x expected)"
            % (bus_number, address))


def i2c_checks(host, profile, on_jetson, sim_bus=None):
    """Checks for every I2C bus; the profile's bus gets one line per expected chip.

    ``sim_bus``: a virtual bus standing in for the profile's bus (``--sim``). Off a Jetson the
    buses are not scanned: a PC's I2C buses are its monitors' and memory's, not a car's."""
    checks = []
    car_bus = profile.car["i2c_bus"]
    expected = _expected(profile)
    numbers = [car_bus] if sim_bus is not None else _bus_numbers(host)
    if not numbers:
        if on_jetson:
            return [problem("i2c", "no /dev/i2c-* devices",
                            "load the driver (`sudo modprobe i2c-dev`) and check the device tree")]
        return [ok("i2c", "no I2C buses (not a car: use --sim)")]
    if not on_jetson and sim_bus is None:
        return [ok("i2c", "buses %s found, not scanned: this is not a Jetson (a PC's I2C buses drive its "
                          "monitors; use --sim for the simulated car)" % ", ".join(str(n) for n in numbers))]
    if car_bus not in numbers:
        checks.append(problem("i2c-%d" % car_bus, "the profile's bus /dev/i2c-%d does not exist (buses: %s)" % (
            car_bus, ", ".join(str(n) for n in numbers)), "set [car] i2c_bus to the bus the car is wired to"))
    for number in numbers:
        name = "i2c-%d" % number
        try:
            raw = sim_bus if (sim_bus is not None and number == car_bus) else host.open_i2c(number)
        except PermissionError:
            checks.append(problem(name, "permission denied opening /dev/i2c-%d" % number,
                                  "sudo usermod -aG i2c %s, then log in again" % (host.user or "$USER")))
            continue
        except OSError as exc:
            checks.append(problem(name, "cannot open /dev/i2c-%d: %s" % (number, exc.strerror or exc),
                                  "check the kernel's i2c-dev driver"))
            continue
        bus = ReadOnlyBus(raw)
        try:
            checks.extend(_bus_checks(bus, number, expected if number == car_bus else {}, profile))
        finally:
            if raw is not sim_bus:
                bus.close()
    return checks


def _bus_checks(bus, number, expected, profile):
    name = "i2c-%d" % number
    found = scan_bus(bus)
    listing = ", ".join("0x%02x%s" % (a, " (UU)" if s == "busy" else "") for a, s in sorted(found.items()))
    checks = [ok(name, "answering: %s" % (listing or "nothing"))]
    for address, (chip, role) in sorted(expected.items()):
        where = "%s 0x%02x" % (name, address)
        if address not in found:
            strangers = [a for a in sorted(found) if a not in expected and a != 0x70]
            hint = "; answering instead: %s (an address jumper?)" % ", ".join("0x%02x" % a for a in strangers) \
                if strangers else ""
            checks.append(problem(where, "no %s (%s) answers at 0x%02x: the car gets [Errno 121] Remote I/O error%s"
                                  % (chip.upper(), role, address, hint), _fix(number, address)))
            continue
        if found[address] == "busy":
            checks.append(warning(where, "0x%02x is held by a kernel driver (UU): cannot read the %s" % (
                address, chip.upper()), "unbind the kernel driver or check the address"))
            continue
        try:
            if chip == "pca9685":
                status, text = _pca9685(bus, address, _channels(profile, address))
            elif chip == "ina219":
                status, text = _ina219(bus, address, profile.battery["cells"])
            else:
                status, text = _ssd1306(bus, address)
        except OSError as exc:
            checks.append(problem(where, "%s (%s) acks but a register read failed: %s" % (
                chip.upper(), role, exc.strerror or exc), _fix(number, address)))
            continue
        line = {"ok": ok, "warning": warning, "problem": problem}[status]
        fix = "" if status == "ok" else "check the chip at 0x%02x on bus %d" % (address, number)
        checks.append(line(where, "%s (%s)" % (text, role), *([fix] if fix else [])))
    others = [a for a in sorted(found) if a not in expected]
    for address in others:
        if address == 0x70 and any(chip == "pca9685" for chip, _ in expected.values()):
            continue  # every PCA9685 answers its all-call address too
        guess = KNOWN_ADDRESSES.get(address, "unknown device")  # never poked: a 1-byte write is a command to some chips
        if expected:
            checks.append(ok("%s 0x%02x" % (name, address), "%s, not in the profile" % guess))
    return checks
