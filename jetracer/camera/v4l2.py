"""What a USB (UVC) camera can stream, and which of its modes to ask for.

A webcam lists its modes (pixel format, size, frame rates); caps negotiation fails for any other.
USB 2 carries about 24-40 MB/s of isochronous video, so raw YUYV (2 bytes a pixel) reaches 30 fps
only up to about 640x480; larger sizes at 30 fps come only as MJPEG. The modes are read from the
device with the V4L2 enumeration ioctls (no tools needed), or parsed from
``v4l2-ctl --list-formats-ext`` output; :func:`choose_mode` then picks one.
"""

import collections
import errno
import math
import os
import re
import struct

__all__ = ["Mode", "RAW_FOURCCS", "MJPEG_FOURCCS", "parse_list_formats_ext", "enumerate_modes", "choose_mode",
           "kind_of"]

#: one streamable mode: the V4L2 fourcc ("YUYV", "MJPG"), size and frame rate
Mode = collections.namedtuple("Mode", "fourcc width height fps")

#: uncompressed formats v4l2src hands on as video/x-raw (videoconvert takes them all)
RAW_FOURCCS = ("YUYV", "UYVY", "YVYU", "NV12", "YU12", "YV12", "RGB3", "BGR3", "GREY")
MJPEG_FOURCCS = ("MJPG", "JPEG")


def kind_of(fourcc):
    """"raw", "mjpeg" or None (H.264 and others this package does not decode)."""
    if fourcc in RAW_FOURCCS:
        return "raw"
    if fourcc in MJPEG_FOURCCS:
        return "mjpeg"
    return None


# ------------------------------------------------------------------ v4l2-ctl's text
_FOURCC = re.compile(r"'(\S{1,4})'")
_SIZE = re.compile(r"Size:\s*Discrete\s+(\d+)x(\d+)")
_STEPWISE = re.compile(r"Size:\s*(?:Stepwise|Continuous)\s+(\d+)x(\d+)\s*-\s*(\d+)x(\d+)")
_INTERVAL = re.compile(r"Interval:\s*Discrete\s+[\d.]+s\s*\(([\d.]+)\s*fps\)")
_INTERVAL_RANGE = re.compile(r"Interval:\s*(?:Stepwise|Continuous)\s+[\d.]+s\s*-\s*[\d.]+s"
                             r".*?\(([\d.]+)-([\d.]+)\s*fps\)")


def parse_list_formats_ext(text):
    """Modes from ``v4l2-ctl -d DEV --list-formats-ext`` (the v4l-utils 1.14 layout of Ubuntu
    18.04, "Pixel Format: 'YUYV'", and the 1.22 one, "[0]: 'YUYV' (YUYV 4:2:2)"). Stepwise sizes
    contribute their smallest and largest size."""
    modes = []
    fourcc = None
    sizes = []
    for line in text.splitlines():
        if "Pixel Format" in line or re.match(r"^\s*\[\d+\]:", line):
            match = _FOURCC.search(line)
            fourcc = match.group(1).strip() if match else None
            sizes = []
            continue
        if fourcc is None:
            continue
        match = _SIZE.search(line)
        if match:
            sizes = [(int(match.group(1)), int(match.group(2)))]
            continue
        match = _STEPWISE.search(line)
        if match:
            w0, h0, w1, h1 = (int(g) for g in match.groups())
            sizes = [(w0, h0), (w1, h1)]
            continue
        match = _INTERVAL.search(line)
        rates = [float(match.group(1))] if match else []
        match = _INTERVAL_RANGE.search(line)
        if match:
            rates = [float(match.group(1)), float(match.group(2))]
        for fps in rates:
            for width, height in sizes:
                modes.append(Mode(fourcc, width, height, fps))
    return _unique(modes)


def _unique(modes):
    seen, out = set(), []
    for mode in modes:
        if mode not in seen:
            seen.add(mode)
            out.append(mode)
    return out


# ------------------------------------------------------------------- V4L2 ioctls
def _iowr(nr, size):
    return (3 << 30) | (size << 16) | (ord("V") << 8) | nr  # _IOWR('V', nr, size)


_FMTDESC = struct.Struct("=III32sII12x")  # struct v4l2_fmtdesc: index, type, flags, description, pixelformat, mbus
_FRMSIZE = struct.Struct("=III6I8x")  # struct v4l2_frmsizeenum: index, pixel_format, type, union (6 x u32)
_FRMIVAL = struct.Struct("=IIIII6I8x")  # struct v4l2_frmivalenum: index, pixel_format, width, height, type, union
VIDIOC_ENUM_FMT = _iowr(2, _FMTDESC.size)
VIDIOC_ENUM_FRAMESIZES = _iowr(74, _FRMSIZE.size)
VIDIOC_ENUM_FRAMEINTERVALS = _iowr(75, _FRMIVAL.size)
_CAPTURE = 1  # V4L2_BUF_TYPE_VIDEO_CAPTURE
_DISCRETE = 1


def _fourcc(code):
    return struct.pack("<I", code).decode("ascii", "replace").strip()


def _enum(ioctl, fd, request, packer, first_fields, limit=64):
    """Each filled struct of an enumeration ioctl, index 0.. until the driver says EINVAL."""
    out = []
    for index in range(limit):
        buf = bytearray(packer.pack(index, *first_fields))
        try:
            ioctl(fd, request, buf)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                break
            raise
        out.append(packer.unpack(bytes(buf)))
    return out


def enumerate_modes(device, ioctl=None):
    """The modes ``device`` (/dev/videoN or an index) lists, from VIDIOC_ENUM_FMT,
    _FRAMESIZES and _FRAMEINTERVALS. ``ioctl`` defaults to ``fcntl.ioctl`` (tests pass a fake
    driver). Raises OSError when the device cannot be opened or queried."""
    if ioctl is None:
        import fcntl

        ioctl = fcntl.ioctl
    path = device if isinstance(device, str) else "/dev/video%d" % int(device)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    try:
        modes = []
        for fmt in _enum(ioctl, fd, VIDIOC_ENUM_FMT, _FMTDESC, (_CAPTURE, 0, b"", 0, 0)):
            pixelformat = fmt[4]
            for size in _enum(ioctl, fd, VIDIOC_ENUM_FRAMESIZES, _FRMSIZE, (pixelformat,) + (0,) * 7):
                if size[2] == _DISCRETE:
                    sizes = [(size[3], size[4])]
                else:  # stepwise/continuous: min_w, max_w, step_w, min_h, max_h, step_h
                    sizes = [(size[3], size[6]), (size[4], size[7])]
                for width, height in sizes:
                    ivals = _enum(ioctl, fd, VIDIOC_ENUM_FRAMEINTERVALS, _FRMIVAL,
                                  (pixelformat, width, height) + (0,) * 7)
                    for ival in ivals:
                        rates = [(ival[5], ival[6])] if ival[4] == _DISCRETE else [(ival[5], ival[6]),
                                                                                    (ival[7], ival[8])]
                        for num, den in rates:
                            if num > 0:
                                modes.append(Mode(_fourcc(pixelformat), width, height, round(den / float(num), 3)))
            if len(modes) > 512:
                break
        return _unique(modes)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------- choosing
def choose_mode(modes, width, height, fps, stream_format="auto"):
    """The listed mode to ask for: ``stream_format`` "raw", "mjpeg" or "auto" (either).

    Among the modes of that kind that reach ``fps`` (within 1 %), the size nearest the wanted
    ``width`` x ``height`` (by area, on a log scale, so 1280x720 is as far from 640x360 as from
    2560x1440); a tie goes to raw, which costs no decode. When no mode reaches ``fps``, the
    fastest. None when nothing of that kind is listed."""
    kinds = ("raw", "mjpeg") if stream_format == "auto" else (stream_format,)
    usable = [m for m in modes if kind_of(m.fourcc) in kinds and m.width > 0 and m.height > 0]
    if not usable:
        return None
    fast = [m for m in usable if m.fps >= fps * 0.99]
    if not fast:
        top = max(m.fps for m in usable)
        fast = [m for m in usable if m.fps == top]
    want = math.log(max(1, width * height))

    def cost(mode):
        distance = abs(math.log(mode.width * mode.height) - want)
        return (round(distance, 6), 0 if kind_of(mode.fourcc) == "raw" else 1, abs(mode.fps - fps),
                -mode.width)

    return min(fast, key=cost)
