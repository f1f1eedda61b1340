"""Telemetry sinks: everything that wants each frame's record registers with the pilot's
Telemetry instead of wrapping its ``record`` method."""

import json

import pytest

from jetracer.drive.telemetry import Telemetry


def test_sinks_get_every_record_in_order_after_the_timings_and_the_log(tmp_path):
    log_path = tmp_path / "drive.jsonl"
    telemetry = Telemetry(log_path=str(log_path), status_period_s=0)
    seen = []

    def video(rec):  # what the sink sees is already counted and logged
        seen.append(("video", rec["seq"], telemetry.stages["latency_ms"].summary()["p50"] is not None))

    telemetry.add_sink(video)
    telemetry.add_sink(lambda rec: seen.append(("plot", rec["seq"], None)))
    for seq in range(3):
        telemetry.record({"seq": seq, "latency_ms": 10.0 + seq})
    assert seen == [("video", 0, True), ("plot", 0, None), ("video", 1, True), ("plot", 1, None),
                    ("video", 2, True), ("plot", 2, None)]
    telemetry.remove_sink(video)
    telemetry.remove_sink(video)  # a no-op the second time
    telemetry.record({"seq": 3, "latency_ms": 9.0})
    assert seen[-1] == ("plot", 3, None) and len(seen) == 7
    telemetry.close()
    telemetry.record({"seq": 4})
    assert len(seen) == 7  # closed: no sinks any more
    telemetry.close()  # safe twice
    assert [json.loads(line)["seq"] for line in log_path.read_text().splitlines()] == [0, 1, 2, 3]


def test_a_sink_that_raises_stops_the_frame_and_a_non_callable_is_refused():
    telemetry = Telemetry(status_period_s=0)

    def broken(rec):
        raise OSError("disk full")

    telemetry.add_sink(broken)
    with pytest.raises(OSError):
        telemetry.record({"seq": 0})
    with pytest.raises(TypeError):
        telemetry.add_sink("not a function")
