"""Donkeycar Tub v2 <-> JetRacer XY dataset, against a tub written by Donkeycar's own code.

``tests/fixtures/donkey_tub_v2`` was made by ``tools/make_donkey_tub_fixture.py make`` with
donkeycar 5.3 (two sessions, three catalogs, three deleted records), and
``donkey_tub_v2_read_by_donkeycar.jsonl`` is what Donkeycar's own reader yields from it.
"""

import json
import math
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jetracer.cli import main
from jetracer.data.donkey_tub import read_tub
from jetracer.data.tub_convert import export_tub, import_tubs, read_extra_labels
from jetracer.data.xy import list_samples, load_rgb, save_sample
from jetracer.errors import DataError
from jetracer.teleop.recorder import steering_to_label

FIXTURES = Path(__file__).parent / "fixtures"
TUB = FIXTURES / "donkey_tub_v2"
TOOL = Path(__file__).parent.parent / "tools" / "make_donkey_tub_fixture.py"


def _donkey_view():
    lines = [json.loads(line) for line in (FIXTURES / "donkey_tub_v2_read_by_donkeycar.jsonl").read_text().splitlines()]
    return [r for r in lines if "_index" in r]


def test_our_reader_yields_exactly_the_records_donkeycars_reader_yields():
    records, info = read_tub(TUB)
    expected = _donkey_view()
    assert [r.index for r in records] == [e["_index"] for e in expected]
    assert 3 not in [r.index for r in records] and info["deleted"] == 3
    assert [(r.angle, r.throttle, r.mode, r.session) for r in records] == [
        (e["user/angle"], e["user/throttle"], e["user/mode"], e["_session_id"]) for e in expected]
    assert info["sessions"] == sorted(set(e["_session_id"] for e in expected))


def test_import_labels_like_teleop_record_and_keeps_throttle_in_the_sidecar(tmp_path):
    totals = import_tubs([TUB], tmp_path / "xy", category="apex", gain=0.75, lookahead=0.4)
    assert totals == {"imported": 21, "deleted": 3, "skipped": 0, "tubs": 1}
    samples, categories, _ = list_samples([tmp_path / "xy"])
    assert categories == ["apex"] and len(samples) == 21
    labels = read_extra_labels(tmp_path / "xy" / "apex")
    by_index = {e["_index"]: e for e in _donkey_view()}
    seen = set()
    for s in samples:
        entry = labels[s.path.name]
        index = int(entry["source"].rsplit("#", 1)[1])
        seen.add(index)
        record = by_index[index]
        assert (s.x, s.y) == steering_to_label(record["user/angle"], 32, 24, 0.75, 0.0, 0.4)
        assert entry["throttle"] == record["user/throttle"] and entry["mode"] == record["user/mode"]
        source = TUB / "images" / record["cam/image_array"]
        assert s.path.read_bytes() == source.read_bytes()  # the JPEG is copied, never re-encoded
    assert seen == set(by_index) and not seen & {3, 4, 17}
    red = load_rgb(samples[0].path).getpixel((0, 0))  # JetRacer's loader sees Donkeycar's RGB frame unchanged
    assert red[0] > 200 and red[1] < 60 and red[2] < 60
    raw = json.loads((tmp_path / "xy" / "apex" / "labels.json").read_text())
    assert raw["format"] == "jetracer-labels" and raw["version"] == 1


def test_export_round_trip_restores_angles_throttles_and_order(tmp_path):
    import_tubs([TUB], tmp_path / "xy")
    result = export_tub([tmp_path / "xy"], tmp_path / "tub", gain=0.75, max_len=8)
    assert result["exported"] == 21
    records, info = read_tub(tmp_path / "tub")
    expected = _donkey_view()
    assert [(r.angle, r.throttle, r.mode) for r in records] == [
        (e["user/angle"], e["user/throttle"], e["user/mode"]) for e in expected]
    assert [r.index for r in records] == list(range(21)) and info["deleted"] == 0
    manifest = (tmp_path / "tub" / "manifest.json").read_text().splitlines()
    assert len(manifest) == 5 and json.loads(manifest[4])["paths"] == ["catalog_0.catalog", "catalog_1.catalog",
                                                                       "catalog_2.catalog"]
    for k in range(3):  # Donkeycar seeks by these recorded line lengths: they must be exact
        meta = json.loads((tmp_path / "tub" / ("catalog_%d.catalog_manifest" % k)).read_text())
        lines = (tmp_path / "tub" / ("catalog_%d.catalog" % k)).read_text().splitlines(True)
        assert meta["line_lengths"] == [len(line) for line in lines] and meta["start_index"] == 8 * k
    assert sorted(os.listdir(str(tmp_path / "tub" / "images")))[0] == "0_cam_image_array_.jpg"


def test_export_of_a_plain_jetracer_dataset_inverts_the_label(tmp_path):
    import numpy as np

    image = np.zeros((224, 224, 3), np.uint8)
    save_sample(tmp_path / "xy", "apex", image, 168, 90)  # x_n = 0.5 -> steering 0.375 at gain 0.75
    save_sample(tmp_path / "xy", "apex", image, 0, 90)  # left edge -> -0.75
    export_tub([tmp_path / "xy"], tmp_path / "tub", gain=0.75, throttle=0.3)
    records, _ = read_tub(tmp_path / "tub")
    assert sorted(round(r.angle, 4) for r in records) == [-0.75, 0.375]
    assert all(r.throttle == 0.3 and r.mode == "user" for r in records)


def test_export_refuses_to_overwrite_and_bad_tubs_are_one_line_errors(tmp_path):
    import_tubs([TUB], tmp_path / "xy")
    (tmp_path / "tub").mkdir()
    (tmp_path / "tub" / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="already exists"):
        export_tub([tmp_path / "xy"], tmp_path / "tub")
    assert (tmp_path / "tub" / "keep.txt").read_text() == "mine"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tub")]  # no temp folder left behind
    with pytest.raises(DataError, match="no manifest.json"):
        read_tub(tmp_path / "xy")
    with pytest.raises(DataError, match="not a folder"):
        read_tub(tmp_path / "tub" / "keep.txt")
    with pytest.raises(DataError, match="is a Donkeycar tub"):
        export_tub([TUB], tmp_path / "t2")
    with pytest.raises(DataError, match="is a file, not a folder"):
        import_tubs([TUB], tmp_path / "tub" / "keep.txt")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_bytes(b"\xff\xfe not json")
    with pytest.raises(DataError):
        read_tub(tmp_path / "junk")


def test_torn_lines_nan_angles_and_missing_images_are_skipped(tmp_path):
    tub = tmp_path / "tub"
    shutil.copytree(str(TUB), str(tub))
    with open(str(tub / "catalog_0.catalog"), "a") as f:
        f.write('{"_index": 90, "cam/image_array": "0_cam_image_array_.jpg", "user/angle": NaN}\n')
        f.write('{"_index": 91, "cam/image_array": "nope.jpg", "user/angle": 0.1}\n')
    with open(str(tub / "catalog_2.catalog"), "a") as f:
        f.write('{"_index": 92, "cam/ima')  # power cut mid-write
    totals = import_tubs([tub], tmp_path / "xy")
    assert totals["imported"] == 21 and totals["skipped"] == 3


def test_cli_import_then_export(tmp_path, capsys):
    assert main(["import-tub", str(TUB), "--out", str(tmp_path / "xy")]) == 0
    assert "imported 21 records" in capsys.readouterr().out
    assert main(["export-tub", str(tmp_path / "xy"), "--out", str(tmp_path / "tub"), "--throttle", "0.3"]) == 0
    assert len(read_tub(tmp_path / "tub")[0]) == 21
    assert main(["export-tub", str(tmp_path / "xy"), "--out", str(tmp_path / "tub")]) != 0
    err = capsys.readouterr().err.strip()
    assert "already exists" in err and len(err.splitlines()) == 1
    with pytest.raises(SystemExit) as exc:
        main(["export-tub", str(tmp_path / "xy"), "--out", str(tmp_path / "t2"), "--throttle", "nan"])
    assert exc.value.code == 2


@pytest.mark.skipif(not os.environ.get("JETRACER_DONKEY_PYTHON"),
                    reason="set JETRACER_DONKEY_PYTHON to a Python with donkeycar installed")
def test_donkeycar_reads_our_export(tmp_path):
    import_tubs([TUB], tmp_path / "xy")
    export_tub([tmp_path / "xy"], tmp_path / "tub")
    out = subprocess.check_output([os.environ["JETRACER_DONKEY_PYTHON"], str(TOOL), "read", str(tmp_path / "tub")],
                                  stderr=subprocess.DEVNULL).decode()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    records = [r for r in rows if "_index" in r]
    assert rows[-1]["_len"] == 21 and len(records) == 21
    assert all(math.isclose(r["user/angle"], e["user/angle"]) for r, e in zip(records, _donkey_view()))
