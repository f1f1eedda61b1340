"""Engine edge cases found in review: multi-category torch engines round-trip, frames without
OpenCV, opset the Jetson's torch can export."""

import numpy as np

from jetracer.engine import load_engine
from jetracer.engine.loader import build_engine
from jetracer.models import build_model


def test_two_category_torch_engine_round_trips(tmp_path):
    model = build_model("tiny", num_categories=2).eval()
    engine = build_engine(model, {"arch": "tiny", "categories": ["apex", "slow"]}, backend="torch", precision="fp32")
    frame = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    before = engine.predict(frame)
    path = tmp_path / "two.engine"
    engine.save(path)
    again = load_engine(path)
    assert again.categories == ["apex", "slow"]
    np.testing.assert_allclose(again.predict(frame), before, atol=1e-5)


def test_frames_fall_back_to_synthetic_without_the_renderer(monkeypatch):
    from jetracer.engine import frames
    from jetracer.errors import BackendMissing

    def no_opencv(*args, **kwargs):
        raise BackendMissing("OpenCV is not installed: pip install opencv-python-headless")

    monkeypatch.setattr(frames, "sim_frames", no_opencv)
    got, what = frames.frame_source(3, (32, 32))
    assert what == "synthetic road frames" and len(got) == 3 and got[0].shape == (32, 32, 3)


def test_onnx_export_uses_an_opset_jetpack_torch_can_write():
    import onnx

    from jetracer.engine.loader import engine_meta, fold_model
    from jetracer.engine.onnx_engine import export_onnx

    model = build_model("tiny").eval()
    folded = fold_model(model, engine_meta({"arch": "tiny", "input_size": [64, 64]}))
    proto = onnx.load_from_string(export_onnx(folded))
    assert max(op.version for op in proto.opset_import if op.domain in ("", "ai.onnx")) <= 13
