"""The virtual bus and the PCA9685 twin behave like the hardware the Adafruit driver expects."""

import errno

import pytest
from adafruit_pca9685 import PCA9685

from jetracer.errors import HardwareError
from jetracer.i2c import PCA9685Twin, VirtualI2C, probe


def test_missing_address_is_remote_io_error_like_linux(bus):
    with pytest.raises(OSError) as info:
        bus.writeto(0x40, b"\x00")
    assert info.value.errno == errno.EREMOTEIO


def test_scan_lists_attached_devices(bus):
    bus.attach(PCA9685Twin(0x40))
    bus.attach(PCA9685Twin(0x60))
    assert bus.scan() == [0x40, 0x60]


def test_real_driver_sets_frequency_through_sleep_handshake(bus, pca):
    driver = PCA9685(bus, address=0x40)
    driver.frequency = 50
    # prescale = round(25 MHz / (4096 * 50)) - 1 = 121 -> 25e6 / (4096 * 122) Hz
    assert pca.regs[0xFE] == 121
    assert pca.frequency_hz == pytest.approx(25e6 / (4096 * 122))
    assert not pca.sleeping
    assert driver.frequency == pytest.approx(pca.frequency_hz)


def test_prescale_ignored_while_awake(bus, pca):
    pca.write(bytes([0x00, 0x20]))  # wake, auto-increment
    pca.write(bytes([0xFE, 50]))
    assert pca.regs[0xFE] == 0x1E  # still the power-on 200 Hz value


def test_duty_cycle_maps_to_pulse_width(bus, pca):
    driver = PCA9685(bus, address=0x40)
    driver.frequency = 50
    driver.channels[3].duty_cycle = 0x1000  # 256/4096 of the period
    period_us = 1e6 / pca.frequency_hz
    assert pca.pulse_us(3) == pytest.approx(period_us * 256 / 4096)
    driver.channels[3].duty_cycle = 0xFFFF
    assert pca.duty(3) == 1.0
    driver.channels[3].duty_cycle = 0
    assert pca.pulse_us(3) == 0.0


def test_all_led_register_writes_every_channel(pca):
    pca.write(bytes([0x00, 0x20]))
    pca.write(bytes([0xFA, 0, 0, 0x00, 0x10]))  # ALL_LED full off
    assert all(pca.duty(ch) == 0.0 for ch in range(16))


def test_probe_gives_one_line_fix(bus):
    with pytest.raises(HardwareError) as info:
        probe(bus, 0x40, "PCA9685 PWM board", "1")
    message = str(info.value)
    assert "0x40" in message and "i2cdetect -y -r 1" in message and "\n" not in message


def test_registers_outlive_the_process_with_a_backing_file(tmp_path):
    path = tmp_path / "pca.regs"
    first = PCA9685Twin(0x40, backing_file=path)
    first.write(bytes([0x00, 0x20]))
    first.write(bytes([0x06 + 4, 0, 0, 0x34, 0x01]))  # channel 1 off at 0x134
    second = PCA9685Twin(0x40, backing_file=path)
    assert second.counters(1)[1] == 0x134


def test_fault_injection_fails_writes(bus, pca):
    bus.fail_writes = 1
    with pytest.raises(OSError):
        bus.writeto(0x40, b"\x00\x00")
    bus.writeto(0x40, b"\x00\x20")
    assert pca.regs[0] == 0x20


def test_unknown_bus_number_is_one_line_error():
    from jetracer.i2c import open_bus

    with pytest.raises(HardwareError) as info:
        open_bus(97)
    assert "/dev/i2c-97" in str(info.value) and "\n" not in str(info.value)
    assert isinstance(VirtualI2C().scan(), list)
