"""The SSD1306 twin driven by the real adafruit_ssd1306 driver (and by raw command streams)."""

import adafruit_ssd1306
import pytest
from PIL import Image

from jetracer.i2c import VirtualI2C
from jetracer.i2c.ssd1306 import HORIZONTAL, PAGE, VERTICAL, SSD1306Twin


def make(width=128, height=32):
    bus = VirtualI2C()
    twin = bus.attach(SSD1306Twin(0x3C, width=width, height=height))
    return bus, twin, adafruit_ssd1306.SSD1306_I2C(width, height, bus, addr=0x3C)


def lit(img):
    return {(x, y) for y in range(img.height) for x in range(img.width) if img.getpixel((x, y))}


@pytest.mark.parametrize("height", [32, 64])
def test_driver_init_leaves_a_lit_blank_panel(height):
    _, twin, _ = make(height=height)
    assert twin.display_on and twin.charge_pump and twin.lit
    assert twin.multiplex == height - 1
    assert twin.addressing_mode == HORIZONTAL
    assert twin.page_window == (0, height // 8 - 1) and twin.column_window == (0, 127)
    assert twin.segment_remap and twin.com_scan_reversed and twin.contrast == 0xFF
    assert lit(twin.to_image()) == set()


@pytest.mark.parametrize("height", [32, 64])
def test_pixels_drawn_by_the_driver_appear_where_drawn(height):
    _, twin, oled = make(height=height)
    oled.pixel(0, 0, 1)
    oled.pixel(127, height - 1, 1)
    oled.fill_rect(10, 9, 3, 2, 1)
    oled.show()
    expected = {(0, 0), (127, height - 1)} | {(x, y) for x in range(10, 13) for y in (9, 10)}
    assert lit(twin.to_image()) == expected
    oled.show()  # a second frame lands in the same place (the window restarts at its origin)
    assert lit(twin.to_image()) == expected


def test_power_invert_contrast_and_rotation_show_on_the_glass():
    _, twin, oled = make()
    oled.pixel(0, 0, 1)
    oled.show()
    oled.poweroff()
    assert lit(twin.to_image()) == set()
    assert twin.read(1) == b"\x40"  # status byte: display off
    oled.poweron()
    oled.invert(True)
    assert len(lit(twin.to_image())) == 128 * 32 - 1
    oled.invert(False)
    oled.contrast(0x10)
    assert twin.contrast == 0x10
    oled.rotate(False)  # 180 degrees: the top-left pixel moves to the bottom-right
    oled.show()
    assert lit(twin.to_image()) == {(127, 31)}


def test_co_bit_chains_single_bytes_and_co0_streams_the_rest():
    bus, twin, _ = make()
    twin.power_on_reset()
    # Co=1 command, Co=1 command, then Co=0 data: every remaining byte is display data
    bus.writeto(0x3C, bytes([0x80, 0xAF, 0x80, 0xA7, 0x40, 0x01, 0x02, 0x80]))
    assert twin.display_on and twin.inverted
    assert twin.addressing_mode == PAGE
    assert bytes(twin.ram[:3]) == b"\x01\x02\x80"
    # a two-byte command split over two transactions, as the Adafruit driver sends it
    bus.writeto(0x3C, bytes([0x80, 0x81]))
    bus.writeto(0x3C, bytes([0x80, 0x42]))
    assert twin.contrast == 0x42


def test_page_addressing_mode_commands_position_the_pointer():
    bus, twin, _ = make()
    bus.writeto(0x3C, bytes([0x00, 0x20, 0x02, 0xB2, 0x05, 0x11]))  # page mode, page 2, column 0x15
    bus.writeto(0x3C, bytes([0x40, 0xFF, 0x81]))
    assert twin.ram[2 * 128 + 0x15] == 0xFF and twin.ram[2 * 128 + 0x16] == 0x81
    bus.writeto(0x3C, bytes([0x00, 0xB3, 0x0F, 0x17]))  # column 127, then wrap within the page
    bus.writeto(0x3C, bytes([0x40, 0x11, 0x22]))
    assert twin.ram[3 * 128 + 127] == 0x11 and twin.ram[3 * 128 + 0] == 0x22


def test_horizontal_and_vertical_windows_wrap_to_their_start():
    bus, twin, _ = make()
    bus.writeto(0x3C, bytes([0x00, 0x20, 0x00, 0x21, 10, 11, 0x22, 1, 2]))
    assert twin.addressing_mode == HORIZONTAL
    bus.writeto(0x3C, bytes([0x40, 1, 2, 3, 4, 5]))
    assert [twin.ram[p * 128 + c] for p, c in ((1, 10), (1, 11), (2, 10), (2, 11))] == [5, 2, 3, 4]
    bus.writeto(0x3C, bytes([0x00, 0x20, 0x01, 0x21, 20, 21, 0x22, 4, 5]))
    assert twin.addressing_mode == VERTICAL
    bus.writeto(0x3C, bytes([0x40, 6, 7, 8, 9]))
    assert [twin.ram[p * 128 + c] for p, c in ((4, 20), (5, 20), (4, 21), (5, 21))] == [6, 7, 8, 9]
    bus.writeto(0x3C, bytes([0x00, 0xB7]))  # a page-mode command: ignored in vertical mode
    assert twin.page == 4


def test_charge_pump_off_means_a_dark_panel():
    bus, twin, oled = make()
    oled.fill(1)
    oled.show()
    assert len(lit(twin.to_image())) == 128 * 32
    bus.writeto(0x3C, bytes([0x80, 0x8D, 0x80, 0x10]))
    assert not twin.lit and lit(twin.to_image()) == set()


def test_save_png_writes_the_screen(tmp_path):
    _, twin, oled = make()
    oled.fill_rect(0, 0, 4, 4, 1)
    oled.show()
    twin.save_png(tmp_path / "screen.png")
    twin.save_png(tmp_path / "big.png", scale=4)
    small, big = Image.open(tmp_path / "screen.png"), Image.open(tmp_path / "big.png")
    assert small.size == (128, 32) and big.size == (512, 128)
    assert lit(small.convert("1")) == {(x, y) for x in range(4) for y in range(4)}
    assert big.convert("1").getpixel((15, 15)) and not big.convert("1").getpixel((16, 16))
