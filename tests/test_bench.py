"""`jetracer bench`: the reference and every backend in one run, per stage, written as JSON."""

import json

import torch

from jetracer.cli import main
from jetracer.engine.benchmark import STAGES
from jetracer.models import build_model, save_checkpoint


def test_bench_json_has_the_reference_row_every_backend_and_ratios(tmp_path, capsys):
    torch.manual_seed(0)
    model = tmp_path / "road.pth"
    save_checkpoint(model, build_model("resnet18"), {"arch": "resnet18", "input_size": [64, 64]})
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", str(model), "--frames", "4", "--warmup", "1", "--threads", "1",
                 "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "e2e p50" in captured.out and "reference" in captured.out
    assert "machine:" in captured.err and "torch" in captured.err and "4/4 frames" in captured.err

    report = json.loads(out.read_text())
    names = [row["name"] for row in report["rows"]]
    assert names[0] == "reference"
    assert {"torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"} <= set(names)
    assert report["machine"]["cores"] >= 1 and report["versions"]["torch"]
    for row in report["rows"]:
        assert set(row["stages"]) == set(STAGES)
        assert all(row["stages"][s]["p99_ms"] >= row["stages"][s]["p50_ms"] >= 0 for s in STAGES)
        assert row["end_to_end"]["p50_ms"] > 0 and row["fps"] > 0 and row["speedup_p50"] > 0
        assert 750 <= row["pwm_us"] <= 2250  # the steering pulse the emulated PCA9685 ended with
    reference = report["rows"][0]
    assert reference["speedup_p50"] == 1.0 and reference["parity_vs_reference"]["max_dx"] == 0.0
    fp32 = report["rows"][names.index("onnxruntime-fp32")]
    assert fp32["parity_vs_reference"]["max_dx"] < 1e-4  # same steering as JetRacer's pipeline
