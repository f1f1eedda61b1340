"""Collecting road-following data by clicking where the car should go, on the live image.

JetRacer's notebook needs ``jupyter_clickable_image_widget``, which stopped building with current
JupyterLab; here a plain ``ipywidgets.Image`` gets its clicks from ``ipyevents`` (maintained, on
PyPI), which reports them in image pixels (``dataX``/``dataY``) whatever size the page shows it.
Samples are saved in JetRacer's format, atomically (:func:`jetracer.data.xy.save_sample`).
"""

import math
import random
from pathlib import Path

from ..data.xy import parse_sample_name, save_sample
from ..models.convention import DEFAULT_CATEGORY
from .env import require

__all__ = ["XYCollector", "sim_aim_pixel", "random_track_pose", "count_samples"]


def count_samples(root):
    """``{category: number of samples}`` under ``root`` (empty when it does not exist yet)."""
    root = Path(root)
    if not root.is_dir():
        return {}
    counts = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        counts[folder.name] = sum(1 for f in folder.iterdir() if f.is_file() and parse_sample_name(f.name))
    return counts


def sim_aim_pixel(world):
    """Where the simulator's expert driver aims, as a pixel (x, y) in the camera image, or None
    (the point a careful person would click; CI uses it to play the person)."""
    from ..sim.expert import ExpertDriver

    uv = world.project_to_image(ExpertDriver(world).target_point())
    if uv is None:
        return None
    w, h = world.profile.camera["width"], world.profile.camera["height"]
    x, y = int(round(uv[0])), int(round(uv[1]))
    return (x, y) if 0 <= x < w and 0 <= y < h else None


def random_track_pose(track, rng=None, offset_fraction=0.3, yaw_jitter_rad=0.35):
    """A pose on the track, off the centreline and turned a little: the varied views a dataset needs
    (in the simulator you cannot push the car by hand)."""
    rng = rng or random.Random()
    s = rng.uniform(0.0, track.length)
    x, y = track.point_at(s)
    nx, ny = track.normal_at(s)
    offset = rng.uniform(-offset_fraction, offset_fraction) * track.width
    yaw = track.heading_at(s) + rng.uniform(-yaw_jitter_rad, yaw_jitter_rad)
    return x + nx * offset, y + ny * offset, math.atan2(math.sin(yaw), math.cos(yaw))


class XYCollector:
    """Click-to-label on a :class:`~jetracer.notebook.widgets.LiveView`.

    ``click(x, y)`` saves the frame the person saw with label (x, y) and returns its path;
    ``on_dom_event(event)`` is the same for an ipyevents click. ``delete_last()`` removes the
    newest sample saved here. ``move`` (simulator): a callable that puts the car somewhere new,
    behind a "new place" button. ``widget`` holds the dataset and category boxes, the counts,
    the live image (click it), the last snapshot with its mark, and the buttons.
    """

    def __init__(self, view, root="data/road_following", category=DEFAULT_CATEGORY, move=None):
        ipyevents = require("ipyevents")
        ipywidgets = require("ipywidgets")

        self.view = view
        self.move = move
        self.saved = []
        self.root_box = ipywidgets.Text(value=str(root), description="dataset")
        known = sorted(set(count_samples(root)) | {category})
        self.category_box = ipywidgets.Combobox(value=category, options=known, ensure_option=False,
                                                description="category", placeholder="type a new one")
        self.counts_label = ipywidgets.HTML()
        self.snapshot = ipywidgets.Image(format="jpeg", layout=ipywidgets.Layout(width="224px"))
        self.delete_button = ipywidgets.Button(description="delete last", icon="trash", button_style="warning")
        self.delete_button.on_click(lambda _b: self.delete_last())
        self.message = ipywidgets.Label()
        buttons = [self.delete_button]
        if move is not None:
            self.move_button = ipywidgets.Button(description="new place", icon="random")
            self.move_button.on_click(lambda _b: self.new_place())
            buttons.insert(0, self.move_button)
        self.events = ipyevents.Event(source=view.widget, watched_events=["click"], prevent_default_action=True)
        self.events.on_dom_event(self.on_dom_event)
        self.root_box.observe(lambda _c: self.refresh_counts(), names=["value"])
        self.category_box.observe(lambda _c: self.refresh_counts(), names=["value"])
        images = ipywidgets.HBox([ipywidgets.VBox([ipywidgets.Label("live: click where the car should go"),
                                                   view.widget]),
                                  ipywidgets.VBox([ipywidgets.Label("last saved"), self.snapshot])])
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.root_box, self.category_box]), self.counts_label,
                                       images, ipywidgets.HBox(buttons), self.message])
        self.refresh_counts()

    @property
    def root(self):
        return Path(self.root_box.value)

    @property
    def category(self):
        return self.category_box.value.strip()

    def counts(self):
        return count_samples(self.root)

    def refresh_counts(self):
        from html import escape

        counts = self.counts()
        parts = [("<b>%s</b>: %d" if c == self.category else "%s: %d") % (escape(c), n)
                 for c, n in sorted(counts.items())]
        self.counts_label.value = "samples in %s: %s (total %d)" % (
            escape(str(self.root)), ", ".join(parts) or "none yet", sum(counts.values()))
        return counts

    def on_dom_event(self, event):
        """An ipyevents click: ``dataX``/``dataY`` are image pixels (the page may scale the image)."""
        if event.get("type") != "click":
            return None
        if "dataX" in event:
            x, y = event["dataX"], event["dataY"]
        else:  # older ipyevents: scale the element-relative position back to pixels
            image = self.view.image
            w = float(event.get("boundingRectWidth") or (image.shape[1] if image is not None else 1))
            h = float(event.get("boundingRectHeight") or (image.shape[0] if image is not None else 1))
            x = event["relativeX"] * (image.shape[1] / w if image is not None else 1.0)
            y = event["relativeY"] * (image.shape[0] / h if image is not None else 1.0)
        return self.click(x, y)

    def click(self, x, y):
        """Save the frame last shown with the label (x, y) in its pixels; returns the file's path."""
        image = self.view.image
        if image is None:
            self.view.refresh()
            image = self.view.image
        if image is None:
            self.message.value = "no camera frame yet: wait for the live image, then click"
            return None
        h, w = image.shape[:2]
        x = min(max(int(round(x)), 0), w - 1)
        y = min(max(int(round(y)), 0), h - 1)
        path = save_sample(self.root, self.category, image, x, y)
        self.saved.append(path)
        self.show_snapshot(image, x, y)
        if self.category not in self.category_box.options:
            self.category_box.options = sorted(set(self.category_box.options) | {self.category})
        counts = self.refresh_counts()
        self.message.value = "saved %s (%d in %s)" % (path.name, counts.get(self.category, 0), self.category)
        return path

    def show_snapshot(self, image, x, y):
        from ..util.video import draw_prediction
        from .widgets import jpeg_bytes

        h, w = image.shape[:2]
        marked = draw_prediction(image, 2.0 * (x / float(w) - 0.5), 2.0 * (y / float(h) - 0.5))
        self.snapshot.value = jpeg_bytes(marked)

    def delete_last(self):
        """Remove the newest sample saved in this session; returns its path, or None."""
        while self.saved:
            path = self.saved.pop()
            if path.exists():
                path.unlink()
                self.refresh_counts()
                self.snapshot.value = b""
                self.message.value = "deleted %s" % path.name
                return path
        self.message.value = "nothing to delete"
        return None

    def new_place(self):
        if self.move is not None:
            self.move()
        self.view.refresh()

    def close(self):
        self.events.close()
