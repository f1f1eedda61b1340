"""A network that learns where to be fast: the throttle label from labels.json becomes a third output,
and the pilot takes its throttle from it; a dataset without labels.json trains as before."""

import numpy as np
import pytest

from jetracer.cli import main
from jetracer.data.sidecar import write_labels
from jetracer.data.xy import save_sample
from jetracer.models import load_model


@pytest.fixture(scope="module")
def dots(tmp_path_factory):
    """A bright blob marks the aim point; the throttle label is high when the blob is near the centre
    (a straight) and low when it is to the side (a corner): learnable in seconds by the tiny net."""
    root = tmp_path_factory.mktemp("dots")
    rng = np.random.default_rng(1)
    labels = {}
    for _ in range(120):
        x, y = (int(v) for v in rng.integers(20, 204, size=2))
        img = np.full((224, 224, 3), 40, np.uint8)
        img[y - 14:y + 15, x - 14:x + 15] = (0, 230, 255)
        path = save_sample(root, "apex", img, x, y)
        labels[path.name] = {"throttle": round(0.6 - 0.5 * abs(x - 112) / 92.0, 3)}
    write_labels(root / "apex", labels)
    return root


def _blob(x, y=112):
    img = np.full((224, 224, 3), 40, np.uint8)
    img[y - 14:y + 15, x - 14:x + 15] = (0, 230, 255)
    return img


def test_throttle_output_is_learned_and_drives_the_pilot(dots, tmp_path, bus, pca):
    out = tmp_path / "m.pth"
    assert main(["train", str(dots), "--arch", "tiny", "--epochs", "6", "--batch-size", "16", "--throttle",
                 "--out", str(out), "--no-augment", "--lr", "3e-3"]) == 0
    _, meta = load_model(out)
    assert meta["throttle_output"] is True and meta["categories"] == ["apex", "throttle"]

    from jetracer.engine import load_engine

    engine = load_engine(out, backend="torch")
    assert engine.meta["throttle_output"] is True
    centre, side = engine.predict(_blob(112))[-1, 0], engine.predict(_blob(195))[-1, 0]
    assert centre > side + 0.1  # faster on the straight than in the corner

    from helpers import FakeClock
    from test_pilot import ScriptedCamera

    from jetracer import NvidiaRacecar
    from jetracer.drive.pilot import Pilot

    clock = FakeClock(0.0)
    camera = ScriptedCamera(clock, frames=3)
    camera._grab = lambda: _blob(112)
    pilot = Pilot(NvidiaRacecar(i2c=bus), camera, engine=engine, clock=clock, mode="auto", throttle=0.05,
                  stale_frame_s=0.2)
    frame = camera.read_frame()
    rec = pilot.process(frame)
    # the network's throttle within the pilot's forward limit (the profile schema's 0.5 for a pilot built by hand)
    limit = pilot.law.throttle_forward_limit
    assert limit == 0.5
    assert rec["throttle"] == pytest.approx(min(rec["model_throttle"], limit), abs=1e-4)
    assert rec["throttle"] > 0.2  # the network's throttle, not the profile's 0.05
    plain = Pilot(NvidiaRacecar(i2c=bus), camera, engine=engine, clock=clock, mode="auto", throttle=0.05,
                  stale_frame_s=0.2, speed_from_model=False)
    assert plain.process(frame)["throttle"] == pytest.approx(0.05)

    # pilot.model_throttle_scale: the network's throttle scaled, then limited, as the ESC's pulse shows
    from jetracer.drive.control import ControlLaw

    car = NvidiaRacecar(i2c=bus)
    pulses, recs = [], []
    for scale in (1.0, 0.5):
        scaled = Pilot(car, camera, engine=engine, clock=clock, mode="auto", stale_frame_s=0.2,
                       law=ControlLaw(model_throttle_scale=scale))
        recs.append(scaled.process(frame))
        pulses.append(pca.pulse_us(car.throttle_channel) - 1500.0)
    assert recs[1]["throttle"] == pytest.approx(min(recs[1]["model_throttle"] * 0.5, limit), abs=1e-4)
    assert recs[1]["throttle"] < recs[0]["throttle"] - 0.05
    # the pulse's distance from neutral follows the scaled throttle (to the chip's tick)
    assert pulses[1] == pytest.approx(pulses[0] * recs[1]["throttle"] / recs[0]["throttle"], abs=2 * pca.tick_us)


def test_old_dataset_without_sidecar_still_trains_and_throttle_asks_for_labels(tmp_path, capsys):
    root = tmp_path / "old"
    for x in range(30, 200, 10):
        save_sample(root, "apex", _blob(x), x, 112)
    assert main(["train", str(root), "--arch", "tiny", "--epochs", "1", "--out", str(tmp_path / "a.pth")]) == 0
    _, meta = load_model(tmp_path / "a.pth")
    assert meta["categories"] == ["apex"] and not meta.get("throttle_output")
    capsys.readouterr()
    assert main(["train", str(root), "--arch", "tiny", "--epochs", "1", "--throttle",
                 "--out", str(tmp_path / "b.pth")]) != 0
    assert "throttle label" in capsys.readouterr().err
