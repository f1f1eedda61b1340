"""StatusDisplay through the real adafruit_ssd1306 driver onto the SSD1306 twin."""

import logging

import adafruit_ssd1306
import pytest
import traitlets
from PIL import Image, ImageDraw, ImageFont

from jetracer.cli import main
from jetracer.i2c import VirtualI2C
from jetracer.i2c.ssd1306 import SSD1306Twin
from jetracer.status.display import StatusDisplay


class FakeInfo:
    def __init__(self, ips=(("wlan0", "192.168.1.23"),), cpu=12.0, gpu=34.0, memory=(1 << 30, 4 << 30),
                 temperature=45.0):
        self.values = {"ips": list(ips), "cpu": cpu, "gpu": gpu, "memory": memory, "temperature": temperature}

    def snapshot(self):
        return dict(self.values)


class FakeBattery(traitlets.HasTraits):
    percent = traitlets.Float(78.0)
    voltage = traitlets.Float(11.64)
    state = traitlets.Unicode("ok")
    error = traitlets.Unicode("")


class FakePilot(traitlets.HasTraits):
    mode = traitlets.Unicode("auto")
    fps = traitlets.Float(29.7)
    stop_reason = traitlets.Unicode("")


class CountingBus(VirtualI2C):
    """Counts transactions addressed to the OLED, answered or not."""

    def __init__(self):
        super().__init__()
        self.oled_attempts = 0

    def writeto(self, address, buffer, **kw):
        if address == 0x3C:
            self.oled_attempts += 1
        return super().writeto(address, buffer, **kw)


def font():
    f = ImageFont
    return f.load_default_imagefont() if hasattr(f, "load_default_imagefont") else f.load_default()


def pillow_page(lines, width=128, height=32):
    """The expected screen, drawn with Pillow directly: 8-pixel rows, the bitmap font 2 px up."""
    img = Image.new("1", (width, height))
    draw = ImageDraw.Draw(img)
    for row, text in enumerate(lines):
        draw.text((0, 8 * row - 2), text, font=font(), fill=1)
    return img


def twin_display(height=32, **kw):
    bus = CountingBus()
    twin = bus.attach(SSD1306Twin(0x3C, width=128, height=height))
    options = dict(name="car1", sysinfo=FakeInfo(), clock=lambda: 0.0)
    options.update(kw)
    return bus, twin, StatusDisplay(bus, height=height, **options)


def test_text_lands_in_the_oled_framebuffer_as_pillow_draws_it():
    _, twin, display = twin_display()
    assert display.refresh(now=0.0)
    shown = twin.to_image()
    expected = pillow_page(["car1", "wlan0 192.168.1.23", "CPU 12%  GPU 34%", "MEM 25%  TEMP 45C"])
    assert shown.tobytes() == expected.tobytes()
    assert shown.tobytes() == display.last_image.tobytes()


def test_no_network_and_paging_on_a_128x32_screen():
    _, twin, display = twin_display(sysinfo=FakeInfo(ips=()), battery=FakeBattery(), page_s=4.0)
    display.refresh(now=0.0)
    first = twin.to_image()
    # rows 0-2 are text, row 3 is the battery footer
    assert first.crop((0, 0, 128, 24)).tobytes() == pillow_page(["car1", "no network"]).crop((0, 0, 128, 24)).tobytes()
    display.refresh(now=4.5)
    second = twin.to_image()
    page2 = pillow_page(["car1", "CPU 12%  GPU 34%", "MEM 25%  TEMP 45C"])
    assert second.crop((0, 0, 128, 24)).tobytes() == page2.crop((0, 0, 128, 24)).tobytes()


def test_battery_footer_text_and_bar():
    _, twin, display = twin_display(battery=FakeBattery(percent=50.0, voltage=11.52))
    display.refresh(now=0.0)
    img = twin.to_image()
    footer = pillow_page(["", "", "", "BAT 50% 11.5V"])
    text_width = 6 * len("BAT 50% 11.5V")
    assert img.crop((0, 24, text_width, 32)).tobytes() == footer.crop((0, 24, text_width, 32)).tobytes()
    bar = [img.getpixel((x, 27)) for x in range(90, 125)]
    filled = sum(1 for v in bar if v)
    assert 12 <= filled <= 22  # about half of the bar's inside, plus its outline


def test_warnings_come_first_inverted_and_the_pilot_shows_mode_and_fps():
    battery = FakeBattery(percent=15.0, state="low")
    _, twin, display = twin_display(battery=battery, pilot=FakePilot())
    rows, footer = display.compose(now=0.0, info=FakeInfo().snapshot())
    assert rows[0] == ("! BATTERY LOW 15%", True)
    assert rows[1] == ("car1 AUTO 30FPS", False)
    assert footer[0] == "BAT 15% 11.6V"
    display.refresh(now=0.0)
    img = twin.to_image()
    band = [img.getpixel((x, y)) for x in range(128) for y in range(8)]
    assert sum(1 for v in band if v) > 0.6 * len(band)  # white band, dark text
    battery.state, battery.percent = "critical", 5.0
    display.pilot.mode, display.pilot.stop_reason = "stopped", "battery"
    rows, _ = display.compose(now=0.0, info=FakeInfo(temperature=90.0).snapshot())
    assert [text for text, inverted in rows if inverted] == ["! BATTERY EMPTY 5%", "! STOP: battery", "! HOT 90C"]


def test_64_row_display_shows_everything_on_one_page():
    _, twin, display = twin_display(height=64, battery=FakeBattery(), pilot=FakePilot())
    display.refresh(now=0.0)
    lines = ["car1 AUTO 30FPS", "wlan0 192.168.1.23", "CPU 12%  GPU 34%", "MEM 25%  TEMP 45C"]
    top = (0, 0, 128, 32)
    assert twin.to_image().crop(top).tobytes() == pillow_page(lines, height=64).crop(top).tobytes()


def test_packed_frame_equals_the_drivers_own_image_path():
    bus, twin, display = twin_display(battery=FakeBattery(), pilot=FakePilot())
    display.refresh(now=0.0)
    ours = bytes(twin.ram)
    oled = adafruit_ssd1306.SSD1306_I2C(128, 32, bus)
    oled.image(display.last_image)  # the driver's slow pixel-by-pixel conversion
    oled.show()
    assert bytes(twin.ram) == ours


def test_missing_display_never_raises_logs_once_and_retries_with_backoff(caplog):
    bus = CountingBus()
    display = StatusDisplay(bus, name="car1", sysinfo=FakeInfo(), retry_min_s=1.0, retry_max_s=8.0)
    tries = []
    with caplog.at_level(logging.DEBUG, logger="jetracer.status.display"):
        for step in range(60):
            now = step * 0.5
            before = bus.oled_attempts
            assert display.refresh(now=now) is False
            if bus.oled_attempts > before:
                tries.append(now)
    assert tries == [0.0, 1.0, 3.0, 7.0, 15.0, 23.0]  # 1, 2, 4, 8, then capped at 8 s
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "0x3c" in warnings[0].getMessage()
    assert display.next_wait(now=24.0) == pytest.approx(7.0)  # sleeps until the next try, no busy loop
    twin = bus.attach(SSD1306Twin(0x3C, 128, 32))  # plugged in
    with caplog.at_level(logging.INFO, logger="jetracer.status.display"):
        assert display.refresh(now=31.0)
    assert twin.lit and twin.to_image().getbbox() is not None
    assert any("is back" in r.getMessage() for r in caplog.records)


def test_bus_error_mid_run_is_survived_and_the_display_reinitialised():
    bus, twin, display = twin_display()
    assert display.refresh(now=0.0)
    twin.power_on_reset()  # the OLED browned out
    bus.fail_writes = 1
    assert display.refresh(now=1.0) is False
    assert "stopped answering" in display.last_error
    assert display.refresh(now=1.5) is False  # waiting out the back-off
    assert display.refresh(now=2.0)
    assert twin.lit and twin.to_image().tobytes() == display.last_image.tobytes()


def test_thread_start_stop_with_no_display():
    display = StatusDisplay(VirtualI2C(), sysinfo=FakeInfo(), refresh_s=0.01, retry_min_s=0.01)
    display.start()
    display.close()
    assert display.last_error and not display.connected


def test_display_command_writes_a_snapshot(tmp_path, capsys):
    out = tmp_path / "status.png"
    assert main(["display", "--profile", "sim", "--sim", "--snapshot", str(out)]) == 0
    img = Image.open(out)
    assert img.size == (128, 32) and img.convert("1").getbbox() is not None
    assert "wrote" in capsys.readouterr().out
    big = tmp_path / "big.png"
    assert main(["display", "--profile", "sim", "--sim", "--snapshot", str(big), "--scale", "4"]) == 0
    assert Image.open(big).size == (512, 128)


def test_display_command_once_without_a_car_is_one_error_line(capsys, tmp_path, monkeypatch):
    profile = tmp_path / "car.toml"
    profile.write_text('[car]\nname = "x"\ni2c_bus = 250\n[display]\nenabled = true\n')
    assert main(["display", "--profile", str(profile), "--once"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "i2c-250" in err and len(err.strip().splitlines()) == 1


def test_jetson_sysfs_gpu_load_and_soc_temperature(tmp_path):
    from jetracer.status.sysinfo import SystemInfo

    (tmp_path / "sys/devices/gpu.0").mkdir(parents=True)
    (tmp_path / "sys/devices/gpu.0/load").write_text("537\n")
    zones = [("PMIC-Die", "100000"), ("CPU-therm", "45500"), ("GPU-therm", "47000"), ("thermal-fan-est", "46000")]
    for i, (kind, millideg) in enumerate(zones):
        zone = tmp_path / ("sys/class/thermal/thermal_zone%d" % i)
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(millideg + "\n")
    info = SystemInfo(root=str(tmp_path))
    assert info.gpu_percent() == pytest.approx(53.7)
    assert info.temperature_c() == pytest.approx(47.0)  # the Nano's PMIC zone always says 100 C: ignored
    _, _, display = twin_display(sysinfo=info)
    system_page = display.pages(info.snapshot())[1]
    assert system_page[0].endswith("GPU 54%") and system_page[1].endswith("TEMP 47C")


def test_snapshot_when_nothing_could_be_drawn_is_one_error_line(tmp_path, capsys, monkeypatch):
    import jetracer.status.display

    def no_font():
        raise OSError("cannot open resource")
    monkeypatch.setattr(jetracer.status.display, "load_font", no_font)
    out = tmp_path / "status.png"
    assert main(["display", "--profile", "sim", "--sim", "--snapshot", str(out)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: drawing failed: cannot open resource") and len(err.strip().splitlines()) == 1
    assert not out.exists()
