"""Register-level twin of the Solomon SSD1306 OLED controller (128x32 and 128x64 modules).

Modelled on the datasheet (rev. 1.1): every I2C write starts with a control byte (Co bit 7, D/C#
bit 6); Co=1 means one byte follows and then another control byte, Co=0 means the rest of the
transaction is all data (D/C#=1) or all commands (D/C#=0). Multi-byte commands may be split over
transactions, as the Adafruit driver does (one ``0x80, byte`` write per command byte). Data goes
to the 128x64 GDDRAM at a pointer that moves as the addressing mode says: page mode (the reset
default) wraps within a page; horizontal and vertical modes walk the column/page window set by
0x21/0x22 and wrap back to its start. Page-mode commands (0xB0-0xB7, 0x00-0x1F) are ignored in
the other two modes, as the datasheet says.

:meth:`to_image` shows what a person sees on the glass: nothing while the display is off or the
charge pump is disabled (a module with no external VCC), the RAM through segment remap, COM scan
direction, start line, display offset and multiplex ratio, then entire-on and inverse.
"""

from .bus import RegisterDevice

__all__ = ["SSD1306Twin"]

RAM_COLUMNS, RAM_PAGES = 128, 8

HORIZONTAL, VERTICAL, PAGE = 0, 1, 2

# command -> number of argument bytes that follow it
_ARGS = {0x20: 1, 0x21: 2, 0x22: 2, 0x81: 1, 0x8D: 1, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1,
         0xDB: 1, 0xAD: 1, 0xA3: 2, 0x26: 6, 0x27: 6, 0x29: 5, 0x2A: 5}


class SSD1306Twin(RegisterDevice):
    """An SSD1306 at ``address`` driving a ``width`` x ``height`` panel; attach it to a VirtualI2C."""

    def __init__(self, address=0x3C, width=128, height=32):
        super().__init__(address)
        if width > RAM_COLUMNS or height not in (16, 32, 48, 64):
            raise ValueError("SSD1306 panels are at most 128 wide and 16/32/48/64 high, got %dx%d" % (width, height))
        self.width = width
        self.height = height
        self.writes = 0  #: write transactions seen, for tests that check traffic
        self.commands = []  #: every complete command as a tuple (opcode, args...), newest last
        self.power_on_reset()

    def power_on_reset(self):
        """Register values after RES# (datasheet section 8.9)."""
        self.ram = bytearray(RAM_COLUMNS * RAM_PAGES)
        self.display_on = False
        self.contrast = 0x7F
        self.inverted = False
        self.entire_on = False
        self.charge_pump = False
        self.multiplex = 63  # mux ratio - 1
        self.start_line = 0
        self.display_offset = 0
        self.segment_remap = False  # False: column 0 drives SEG0
        self.com_scan_reversed = False  # False: COM0 -> COM[N-1]
        self.com_pins = 0x12
        self.clock_div = 0x80
        self.precharge = 0x22
        self.vcomh = 0x20
        self.scrolling = False
        self.addressing_mode = PAGE
        self.column_window = (0, RAM_COLUMNS - 1)
        self.page_window = (0, RAM_PAGES - 1)
        self.column = 0
        self.page = 0
        self._pending = None  # a command still waiting for argument bytes: [opcode, args...]

    # -- bus side --------------------------------------------------------------------------------
    def write(self, data):
        if not data:
            return  # address probe
        self.writes += 1
        i = 0
        while i < len(data):
            control = data[i]
            i += 1
            is_data = bool(control & 0x40)
            if control & 0x80:  # Co=1: exactly one byte, then another control byte
                if i < len(data):
                    self._byte(data[i], is_data)
                    i += 1
                continue
            for value in data[i:]:  # Co=0: everything else in this transaction
                self._byte(value, is_data)
            break

    def read(self, count):
        """The status byte (I2C reads return it): bit 6 set while the display is off."""
        status = 0x00 if self.display_on else 0x40
        return bytes([status] * count)

    def _byte(self, value, is_data):
        if is_data:
            self._store(value)
        else:
            self._command_byte(value)

    # -- GDDRAM ----------------------------------------------------------------------------------
    def _store(self, value):
        self.ram[self.page * RAM_COLUMNS + self.column] = value
        c0, c1 = self.column_window
        p0, p1 = self.page_window
        if self.addressing_mode == PAGE:
            self.column = (self.column + 1) % RAM_COLUMNS
        elif self.addressing_mode == HORIZONTAL:
            if self.column >= c1:
                self.column = c0
                self.page = p0 if self.page >= p1 else self.page + 1
            else:
                self.column += 1
        else:  # VERTICAL
            if self.page >= p1:
                self.page = p0
                self.column = c0 if self.column >= c1 else self.column + 1
            else:
                self.page += 1

    # -- commands --------------------------------------------------------------------------------
    def _command_byte(self, value):
        if self._pending is not None:
            self._pending.append(value)
            if len(self._pending) - 1 == _ARGS[self._pending[0]]:
                cmd, self._pending = self._pending, None
                self._execute(cmd[0], cmd[1:])
            return
        if value in _ARGS:
            self._pending = [value]
            return
        self._execute(value, [])

    def _execute(self, op, args):
        self.commands.append(tuple([op] + list(args)))
        if len(self.commands) > 4096:
            del self.commands[:2048]
        if op == 0x81:
            self.contrast = args[0]
        elif op == 0x8D:
            self.charge_pump = bool(args[0] & 0x04)
        elif op in (0xA4, 0xA5):
            self.entire_on = op == 0xA5
        elif op in (0xA6, 0xA7):
            self.inverted = op == 0xA7
        elif op in (0xAE, 0xAF):
            self.display_on = op == 0xAF
        elif op == 0x20:
            if args[0] & 0x03 != 0x03:  # 11b is invalid and ignored
                self.addressing_mode = args[0] & 0x03
        elif op == 0x21:
            if self.addressing_mode != PAGE:
                self.column_window = (args[0] & 0x7F, args[1] & 0x7F)
                self.column = self.column_window[0]
        elif op == 0x22:
            if self.addressing_mode != PAGE:
                self.page_window = (args[0] & 0x07, args[1] & 0x07)
                self.page = self.page_window[0]
        elif 0xB0 <= op <= 0xB7:
            if self.addressing_mode == PAGE:
                self.page = op & 0x07
        elif op <= 0x0F:
            if self.addressing_mode == PAGE:
                self.column = (self.column & 0xF0) | op
        elif op <= 0x1F:
            if self.addressing_mode == PAGE:
                self.column = ((op & 0x07) << 4) | (self.column & 0x0F)
        elif 0x40 <= op <= 0x7F:
            self.start_line = op & 0x3F
        elif op in (0xA0, 0xA1):
            self.segment_remap = op == 0xA1
        elif op == 0xA8:
            if args[0] & 0x3F >= 15:  # mux ratios below 16 are invalid
                self.multiplex = args[0] & 0x3F
        elif op in (0xC0, 0xC8):
            self.com_scan_reversed = op == 0xC8
        elif op == 0xD3:
            self.display_offset = args[0] & 0x3F
        elif op == 0xDA:
            self.com_pins = args[0]
        elif op == 0xD5:
            self.clock_div = args[0]
        elif op == 0xD9:
            self.precharge = args[0]
        elif op == 0xDB:
            self.vcomh = args[0]
        elif op == 0x2E:
            self.scrolling = False
        elif op == 0x2F:
            self.scrolling = True
        # 0xE3 (NOP), 0xAD (IREF select on newer parts), scroll set-up: accepted, no visible effect

    # -- what a person would see -----------------------------------------------------------------
    def ram_pixel(self, column, row):
        """GDDRAM bit at RAM ``column`` (0-127) and ``row`` (0-63)."""
        return (self.ram[(row >> 3) * RAM_COLUMNS + column] >> (row & 7)) & 1

    @property
    def lit(self):
        """True when the panel emits any light at all (on, and powered by the charge pump)."""
        return self.display_on and self.charge_pump

    def to_image(self):
        """The panel as a ``width`` x ``height`` Pillow image (mode "1"), upright as mounted.

        Modules are mounted so that the Adafruit set-up (segment remap on, COM scan reversed)
        shows RAM column 0 / row 0 at the top left; other settings mirror the picture as the
        glass would.
        """
        from PIL import Image

        img = Image.new("1", (self.width, self.height), 0)
        if not self.lit:
            return img
        px = img.load()
        col_offset = (RAM_COLUMNS - self.width) // 2
        rows_driven = self.multiplex + 1
        for y in range(self.height):
            com = y if self.com_scan_reversed else self.height - 1 - y
            if com >= rows_driven:
                continue
            row = (com + self.start_line + self.display_offset) % 64
            for x in range(self.width):
                seg = x if self.segment_remap else self.width - 1 - x
                column = seg + col_offset
                on = 1 if self.entire_on else self.ram_pixel(column, row)
                if on ^ self.inverted:
                    px[x, y] = 1
        return img

    def save_png(self, path, scale=1):
        """Write :meth:`to_image` to ``path`` atomically; ``scale`` > 1 enlarges it (nearest
        neighbour, so pixels stay sharp) for documentation."""
        from PIL import Image

        from ..util.atomic import atomic_path

        img = self.to_image()
        if scale != 1:
            img = img.resize((self.width * scale, self.height * scale), Image.NEAREST)
        with atomic_path(path) as tmp:
            img.save(str(tmp), format="PNG")
        return path
