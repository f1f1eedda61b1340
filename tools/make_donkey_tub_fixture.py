"""Make (or read back) a Donkeycar Tub v2 with Donkeycar's own code, for jetracer's tub tests.

Run it with a Python that has the ``donkeycar`` package (it pins numpy<2 and Python >= 3.11, so
give it a venv of its own; it is never imported by jetracer or its tests)::

    ~/.pyenv/versions/3.11.7/bin/python -m venv /tmp/dkvenv
    /tmp/dkvenv/bin/pip install donkeycar   # or --no-deps plus numpy<2 pillow pyfiglet and its base deps
    /tmp/dkvenv/bin/python tools/make_donkey_tub_fixture.py make tests/fixtures/donkey_tub_v2
    /tmp/dkvenv/bin/python tools/make_donkey_tub_fixture.py read some_tub    # JSON lines on stdout

``make`` writes two sessions of records (catalogs of 10 records, so there are several), deletes
three of them as the Donkeycar UI does, and closes the tub. Each image is 32x24 RGB: the left
third red, a white column where the steering points, so a test can check colour order and the
steering direction. ``read`` prints each record Donkeycar's iterator yields (deleted ones skipped),
with the image's size and its top-left pixel (RGB), as one JSON line.
"""

import json
import math
import os
import shutil
import sys

WIDTH, HEIGHT = 32, 24
INPUTS = ["cam/image_array", "user/angle", "user/throttle", "user/mode"]
TYPES = ["image_array", "float", "float", "str"]
DELETED = [3, 4, 17]


def _image(angle):
    import numpy as np

    img = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    img[:, : WIDTH // 3] = (255, 0, 0)  # RGB red on the left
    column = int(round((angle + 1.0) / 2.0 * (WIDTH - 1)))
    img[:, column] = (255, 255, 255)
    return img


def _session(tub, start, count):
    for i in range(start, start + count):
        angle = round(0.8 * math.sin(i / 3.0), 4)
        throttle = round(0.2 + 0.01 * i, 4)
        mode = "user" if i % 5 else "local_angle"
        tub.write_record({"cam/image_array": _image(angle), "user/angle": angle, "user/throttle": throttle,
                          "user/mode": mode})


def _tub_class():
    """Donkeycar's Tub, imported with its start-up banner kept off stdout (``read`` prints JSON)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        from donkeycar.parts.tub_v2 import Tub
    return Tub


def make(path):
    Tub = _tub_class()

    if os.path.exists(path):
        shutil.rmtree(path)
    tub = Tub(path, inputs=INPUTS, types=TYPES, metadata=["made_by:make_donkey_tub_fixture"], max_catalog_len=10)
    _session(tub, 0, 14)
    tub.close()
    tub = Tub(path, inputs=INPUTS, types=TYPES)  # a second driving session appends to the same tub
    _session(tub, 14, 10)
    tub.delete_records(DELETED)
    tub.close()


def read(path):
    from PIL import Image

    Tub = _tub_class()
    tub = Tub(path, read_only=True)
    for record in tub:
        out = dict(record)
        name = record.get("cam/image_array")
        if name:
            with Image.open(os.path.join(path, "images", name)) as img:
                out["_image_size"] = list(img.size)
                out["_top_left_rgb"] = list(img.convert("RGB").getpixel((0, 0)))
        print(json.dumps(out, sort_keys=True))
    print(json.dumps({"_len": len(tub), "_inputs": tub.manifest.inputs, "_types": tub.manifest.types}))


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "read"):
        sys.exit("usage: make_donkey_tub_fixture.py make|read TUB")
    (make if sys.argv[1] == "make" else read)(sys.argv[2])
