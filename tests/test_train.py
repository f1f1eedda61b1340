"""`jetracer train`: a model file that learns the labels, resumes, and trains under torchrun too."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from jetracer.cli import main
from jetracer.models import load_model
from jetracer.models.train import resume_path


def _predict(model, meta, image_bgr):
    import cv2

    h, w = meta["input_size"]
    rgb = cv2.resize(image_bgr, (w, h))[:, :, ::-1].astype(np.float32) / 255.0
    x = (torch.from_numpy(rgb.copy()).permute(2, 0, 1) - torch.tensor(meta["mean"])[:, None, None]) / torch.tensor(
        meta["std"])[:, None, None]
    with torch.no_grad():
        return model(x[None])[0].tolist()


def test_train_writes_a_model_that_learned_and_resumes(dots, tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "m.pth"
    assert main(["train", str(dots), "--arch", "tiny", "--epochs", "12", "--batch-size", "16", "--lr", "3e-3",
                 "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "epoch 12/12" in err and "saved best" in err
    model, meta = load_model(out)
    assert meta["arch"] == "tiny" and meta["input_size"] == [64, 64] and meta["categories"] == ["apex"]
    assert meta["channel_order"] == "RGB" and meta["dataset"]["samples"] == 160
    assert meta["dataset"]["roots"] == [str(dots)] and 1 <= meta["epochs"] <= 12
    assert meta["val_loss"] < 0.1  # predicting the centre every time would score about 0.22
    # A blob far left predicts far left; far right, far right (x negated by flips must not confuse it).
    for x, sign in ((40, -1), (184, 1)):
        img = np.full((224, 224, 3), 40, np.uint8)
        img[100:129, x - 14:x + 15] = (0, 230, 255)
        assert np.sign(_predict(model, meta, img)[0]) == sign
    assert resume_path(out).is_file()
    assert main(["train", str(dots), "--out", str(out), "--epochs", "14", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "2 epoch(s)" in err and "epoch 13/14" in err and "epoch 1/" not in err
    assert main(["train", str(dots), "--out", str(out), "--epochs", "14", "--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().err


def test_fine_tuning_a_finished_model_on_new_data_records_what_it_started_from(dots, tmp_path, capsys):
    from jetracer.util.digest import file_sha256

    torch.set_num_threads(1)
    base = tmp_path / "base.pth"
    assert main(["train", str(dots), "--arch", "tiny", "--epochs", "2", "--batch-size", "16", "--out", str(base)]) == 0
    _, base_meta = load_model(base)
    tuned = tmp_path / "tuned.pth"
    tuned.write_bytes(base.read_bytes())  # a finished model, no training state beside it
    base_sha = file_sha256(base)
    assert main(["train", str(dots), "--out", str(tuned), "--epochs", "1", "--batch-size", "16", "--lr", "5e-4",
                 "--resume"]) == 0
    assert "epoch 1/1" in capsys.readouterr().err  # a new run of 1 epoch from those weights
    _, meta = load_model(tuned)
    assert meta["started_from"] == {"sha256": base_sha, "epochs": base_meta["epochs"],
                                    "val_loss": base_meta["val_loss"], "dataset_roots": [str(dots)],
                                    "started_from": None}
    assert meta["training"]["lr"] == 5e-4 and file_sha256(tuned) != base_sha
    assert "started_from" not in base_meta


def test_resume_without_anything_to_resume_is_one_line(dots, tmp_path, capsys):
    assert main(["train", str(dots), "--out", str(tmp_path / "none.pth"), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --resume: neither") and err.count("\n") == 1


def test_bad_arguments_exit_2(dots, tmp_path):
    for bad in (["--arch", "resnet9000"], ["--epochs", "0"], ["--val-fraction", "2"], ["--input-size", "8"]):
        with pytest.raises(SystemExit) as exc:
            main(["train", str(dots), "--out", str(tmp_path / "m.pth")] + bad)
        assert exc.value.code == 2


def test_torchrun_two_cpu_processes(dots, tmp_path):
    out = tmp_path / "ddp.pth"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "jetracer", "train", str(dots), "--arch", "tiny", "--epochs", "1", "--batch-size", "16",
         "--device", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.count("epoch 1/1") == 1  # only rank 0 reports
    model, meta = load_model(out)
    assert meta["training"]["processes"] == 2 and meta["val_loss"] is not None
    assert sorted(os.listdir(tmp_path)) == ["ddp.pth", "ddp.pth.resume"]  # only rank 0 writes
