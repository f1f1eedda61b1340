"""The notebooks and the helpers behind them.

The journey (basic motion -> teleoperation -> data collection -> training -> optimisation -> road
following) runs headless in a real Jupyter kernel against the simulator, top to bottom, with the
cells marked ``if CI:`` playing the person; each test checks what its notebook left behind. The
safety net is checked in a kernel too: an exception in a cell, "Interrupt kernel" between cells
and a page that stops answering must each bring a car driven by a background pilot to neutral, read
back from the emulated PCA9685's registers.
"""

import random
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import FakeClock

from jetracer.data.xy import parse_sample_name
from jetracer.errors import JetracerError
from jetracer.i2c import PCA9685Twin

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
JOURNEY = ["basic_motion", "teleoperation", "data_collection", "train_model", "optimize_model", "road_following"]
NEUTRAL_US = 1500.0


def chip(state_dir):
    """The simulated car's PCA9685 as its register file holds it (shared with the kernel's)."""
    return PCA9685Twin(0x40, backing_file=Path(state_dir) / "pca9685-0x40.regs")


def chip_pulse(state_dir, channel):
    return chip(state_dir).pulse_us(channel)


def assert_neutral(state_dir):
    twin = chip(state_dir)
    assert abs(twin.pulse_us(1) - NEUTRAL_US) <= 2 * twin.tick_us, "throttle not neutral"
    assert abs(twin.pulse_us(0) - NEUTRAL_US) <= 2 * twin.tick_us, "steering not centred"


def text_of(cell):
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out["text"])
        elif out.get("output_type") == "error":
            parts.append("%s: %s" % (out["ename"], out["evalue"]))
    return "".join(parts)


def kernel_env(monkeypatch, folder):
    """The kernel inherits the environment: simulator, CI mode, its own chip state, one thread."""
    monkeypatch.setenv("JETRACER_SIM", "1")
    monkeypatch.setenv("JETRACER_NOTEBOOK_CI", "1")
    monkeypatch.setenv("JETRACER_SIM_STATE", str(folder / "simstate"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    return folder / "simstate"


# -- the journey ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def journey_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("journey")


@pytest.fixture
def run_notebook(journey_dir, monkeypatch):
    import nbclient
    import nbformat

    state = kernel_env(monkeypatch, journey_dir)

    def run(name):
        nb = nbformat.read(str(NOTEBOOKS / (name + ".ipynb")), as_version=4)
        client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=240,
                                         resources={"metadata": {"path": str(journey_dir)}})
        client.execute()
        return nb, "".join(text_of(c) for c in nb.cells), state
    return run


@pytest.mark.slow
def test_notebooks_are_stored_without_outputs_and_start_with_the_sim_switch():
    import nbformat

    from tools.nbcheck import dirty_cells

    for name in JOURNEY:
        path = NOTEBOOKS / (name + ".ipynb")
        assert dirty_cells(path) == [], name
        nb = nbformat.read(str(path), as_version=4)
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert "SIM = jn.default_sim()" in first_code.source, name
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(JOURNEY)


@pytest.mark.slow
def test_basic_motion_moves_the_car_and_leaves_it_at_neutral(run_notebook):
    nb, out, state = run_notebook("basic_motion")
    assert "after STOP: throttle 0.0 | slider 0.0" in out  # the button set the car, the link moved the slider
    assert "offset 0.1 -> {'steering': 15" in out  # trim moved the servo pulse
    assert "session closed" in out
    assert_neutral(state)


@pytest.mark.slow
def test_teleoperation_drives_from_the_pad_and_the_estop_latches(run_notebook):
    nb, out, state = run_notebook("teleoperation")
    driving = next(line for line in out.splitlines() if line.startswith("driving:"))
    speed = float(driving.split(" m/s")[0].rsplit(", ", 1)[1])
    assert speed > 0.3  # the pad's trigger drove the simulated car
    assert "after B: stopped 0.0" in out
    assert_neutral(state)


@pytest.mark.slow
def test_data_collection_saves_jetracer_xy_samples(run_notebook, journey_dir):
    from PIL import Image

    run_notebook("data_collection")
    folder = journey_dir / "data" / "road_following" / "apex"
    files = sorted(folder.iterdir())
    assert len(files) >= 30
    assert not [f for f in files if f.name.startswith(".") or f.suffix != ".jpg"]  # no temp files left behind
    for f in files:
        x, y = parse_sample_name(f.name)
        with Image.open(str(f)) as img:
            assert img.size == (224, 224)
        assert 0 <= x < 224 and 0 <= y < 224
        assert (x, y) != (3, 3)  # the deleted slip is gone


@pytest.mark.slow
def test_train_model_saves_a_loadable_checkpoint(run_notebook, journey_dir):
    from jetracer.models import load_model

    nb, out, _ = run_notebook("train_model")
    model, meta = load_model(journey_dir / "models" / "road_following.pth")
    assert meta["arch"] == "tiny" and meta["categories"] == ["apex"]
    assert meta["epochs"] >= 1 and np.isfinite(meta["train_loss"])
    assert "mean error" in out


@pytest.mark.slow
def test_optimize_model_writes_an_engine_that_steers_like_the_model(run_notebook, journey_dir):
    from jetracer.engine import load_engine

    nb, out, _ = run_notebook("optimize_model")
    engine = load_engine(journey_dir / "models" / "road_following.engine")
    frame = np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8)
    x, y = engine(frame)
    assert np.isfinite(x) and np.isfinite(y)
    assert engine.meta["parity"]["max_dx"] <= 0.05
    assert "speed-up" in out  # the bench table


@pytest.mark.slow
def test_road_following_drives_then_stops_at_neutral(run_notebook):
    nb, out, state = run_notebook("road_following")
    assert "after STOP: stopped" in out
    ran = next(line for line in out.splitlines() if line.startswith("lockstep run ended:"))
    assert "duration" in ran
    assert float(ran.split("distance ")[1].split(" m")[0]) > 1.0
    assert_neutral(state)


# -- the safety net, in a real kernel ------------------------------------------------------------

class Kernel:
    """A live kernel to run cells in one at a time, and to interrupt between cells."""

    def __init__(self, folder):
        import nbclient
        from nbformat.v4 import new_notebook

        self.nb = new_notebook(cells=[])
        self.client = nbclient.NotebookClient(self.nb, kernel_name="python3", timeout=60, allow_errors=True,
                                              resources={"metadata": {"path": str(folder)}})

    def run(self, source):
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(source)
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return text_of(cell)

    def interrupt(self):
        from nbclient.util import run_sync

        run_sync(self.client.km.interrupt_kernel)()


DRIVE = """
import time
import jetracer.notebook as jn
session = jn.open_session(True, **%s)
pilot = session.make_pilot(mode="manual", manual_throttle=0.3)
runner = session.start_pilot(pilot)
deadline = time.monotonic() + 10
while session.pulses()["throttle"] < 1600 and time.monotonic() < deadline:
    time.sleep(0.05)
print("driving", session.pulses()["throttle"])
"""


def wait_for_neutral(state, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and chip_pulse(state, 1) > NEUTRAL_US + 10:
        time.sleep(0.05)


@pytest.mark.slow
def test_the_car_stops_on_an_exception_and_on_an_interrupt_between_cells(tmp_path, monkeypatch):
    state = kernel_env(monkeypatch, tmp_path)
    kernel = Kernel(tmp_path)
    with kernel.client.setup_kernel():
        assert kernel.run("import sys; print(sys.prefix)").strip() == sys.prefix  # the venv's kernel
        assert "driving" in kernel.run(DRIVE % "{}")
        assert chip_pulse(state, 1) > 1600

        assert "RuntimeError" in kernel.run("raise RuntimeError('a typo in some other cell')")
        assert_neutral(state)
        assert "stopped True" in kernel.run("print(pilot.mode, runner.running)")  # e-stopped, view still live

        kernel.run("pilot.mode = 'manual'; time.sleep(0.5)")
        assert chip_pulse(state, 1) > 1600  # driving again, and no cell is running now
        kernel.interrupt()
        wait_for_neutral(state)
        assert_neutral(state)
        out = kernel.run("print(pilot.mode, runner.running, session.guard.last_reason)")
        assert "stopped False kernel interrupted" in out

        assert "session closed" in kernel.run("session.close()")
        kernel.interrupt()  # after close the guard is gone: an idle interrupt is harmless again
        assert "alive" in kernel.run("print('alive')")


@pytest.mark.slow
def test_the_car_stops_when_the_page_stops_answering(tmp_path, monkeypatch):
    state = kernel_env(monkeypatch, tmp_path)
    kernel = Kernel(tmp_path)
    with kernel.client.setup_kernel():
        kernel.run(DRIVE % "dict(heartbeat=True, heartbeat_timeout_s=0.6, heartbeat_first_s=5.0)")
        # the page: echo the kernel's pings for a second, as the browser-side link does, then close the tab
        kernel.run("""
import threading
def page(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        session.heartbeat.echo.value = session.heartbeat.ping.value
        time.sleep(0.1)
threading.Thread(target=page, args=(1.0,), daemon=True).start()
time.sleep(0.5)
print("connected", session.heartbeat.beats > 0, session.pulses()["throttle"])
""")
        assert chip_pulse(state, 1) > 1600  # still driving while the page answers
        wait_for_neutral(state)
        assert_neutral(state)
        out = kernel.run("print(pilot.mode, session.heartbeat.lapses, session.stop_reason)")
        assert out.startswith("stopped 1 browser heartbeat lost")
        kernel.run("session.close()")


# -- the helpers, directly -------------------------------------------------------------------------

def test_sim_switch_from_the_environment():
    from jetracer.notebook import default_sim, in_ci

    assert default_sim({"JETRACER_SIM": "1"}) is True
    assert default_sim({"JETRACER_SIM": "0"}) is False
    with pytest.raises(JetracerError, match="JETRACER_SIM"):
        default_sim({"JETRACER_SIM": "perhaps"})
    if not list(Path("/dev").glob("i2c-*")):
        assert default_sim({}) is True  # no I2C bus: no car, so the simulator
    assert in_ci({"JETRACER_NOTEBOOK_CI": "1"}) and not in_ci({})


def test_heartbeat_trips_once_per_lapse_and_only_without_answers():
    from jetracer.notebook import Heartbeat

    clock, lapses = FakeClock(), []
    hb = Heartbeat(lapses.append, timeout_s=1.0, first_beat_s=5.0, clock=clock, start_timer=False)
    clock.t += 4.0
    assert not hb.check()  # the page is still loading
    clock.t += 1.5
    assert hb.check() and "no browser heartbeat" in lapses[0]
    assert not hb.check()  # once per lapse
    hb.echo.value = 7  # the page answers (the browser-side link copies ping into echo)
    assert hb.alive and hb.beats == 1
    clock.t += 0.9
    assert not hb.check()
    hb.pause()
    clock.t += 10.0
    assert not hb.check()  # a foreground loop cannot hear the page: not a lapse
    hb.resume()
    clock.t += 1.1
    assert hb.check() and "lost" in lapses[1]
    assert len(lapses) == 2
    hb.close()


def test_guard_stops_on_a_cell_error_and_halts_on_an_interrupt():
    from jetracer.notebook import Guard

    calls = []
    guard = Guard(lambda reason, halt: calls.append((reason, halt)))

    class Result:
        def __init__(self, error):
            self.error_in_exec = error

    guard.post_run_cell(Result(None))
    guard.post_run_cell(Result(ValueError("x")))
    guard.post_run_cell(Result(KeyboardInterrupt()))
    guard.on_idle_interrupt()
    assert calls == [("ValueError in a cell", False), ("kernel interrupted", True), ("kernel interrupted", True)]


def test_run_loop_ends_quietly_on_interrupt_and_always_stops():
    from jetracer.notebook import run_loop

    stops, steps = [], []

    def step():
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt

    assert run_loop(step, period_s=0.0, on_exit=lambda: stops.append(1)) == 3
    assert stops == [1]
    with pytest.raises(ZeroDivisionError):
        run_loop(lambda: 1 / 0, on_exit=lambda: stops.append(2))
    assert stops == [1, 2]


@pytest.fixture
def session():
    from jetracer.notebook import open_session

    s = open_session(True, live=False, guard=False)
    yield s
    s.close()


def test_session_stop_estops_pilots_and_a_new_session_closes_the_old(session):
    from jetracer.notebook import open_session

    pilot = session.make_pilot(mode="manual", manual_throttle=0.4)
    assert session.run_pilot(pilot, seconds=0.5) == "duration"
    assert session.world.vehicle.speed > 0.2
    pilot.mode = "manual"
    session.car.throttle = 0.4
    assert session.moving()
    assert session.stop("test") is True
    assert pilot.mode == "stopped" and session.car.throttle == 0.0
    assert abs(session.pulses()["throttle"] - NEUTRAL_US) < 5
    camera = session.camera
    camera.start()
    second = open_session(True, live=False, guard=False)
    try:
        assert session.closed and not camera.running  # re-running a cell never finds the camera taken
    finally:
        second.close()


def test_find_model_takes_the_first_file_that_exists(session, tmp_path):
    engine = tmp_path / "road_following.engine"
    engine.write_bytes(b"x")
    assert session.find_model(tmp_path / "missing.engine", engine, tmp_path / "other.pth") == engine


def test_collector_saves_the_frame_shown_with_the_clicked_pixel(session, tmp_path):
    from PIL import Image

    from jetracer.notebook import XYCollector, random_track_pose, sim_aim_pixel

    rng = random.Random(1)
    view = session.view()
    collector = XYCollector(view, root=tmp_path / "ds", category="apex",
                            move=lambda: session.world.reset(random_track_pose(session.world.track, rng)))
    collector.new_place()
    shown = view.image.copy()
    first = collector.click(50.4, 120.6)
    assert parse_sample_name(first.name) == (50, 121) and first.parent == tmp_path / "ds" / "apex"
    saved = np.asarray(Image.open(str(first)).convert("RGB"))[:, :, ::-1].astype(int)
    assert np.abs(saved - shown).mean() < 6  # the same frame (JPEG-close), not a newer one
    assert collector.snapshot.value  # last snapshot with its mark

    collector.category_box.value = "left"
    second = collector.on_dom_event({"type": "click", "dataX": 10, "dataY": 20})
    third = collector.on_dom_event({"type": "click", "relativeX": 224, "relativeY": 112,
                                    "boundingRectWidth": 448, "boundingRectHeight": 448})  # page shows it 2x
    assert parse_sample_name(second.name) == (10, 20) and second.parent.name == "left"
    assert parse_sample_name(third.name) == (112, 56)
    assert collector.counts() == {"apex": 1, "left": 2}
    assert collector.delete_last() == third and not third.exists()
    assert collector.counts() == {"apex": 1, "left": 1}
    assert "<b>left</b>: 1" in collector.counts_label.value  # the category being collected
    assert sim_aim_pixel(session.world) is None or all(0 <= v < 224 for v in sim_aim_pixel(session.world))
    collector.close()


def test_loss_plot_and_training_monitor():
    from jetracer.notebook import TrainingMonitor, loss_plot_png

    assert loss_plot_png([]).startswith(b"\x89PNG")
    monitor = TrainingMonitor(3)
    monitor.on_epoch({"epoch": 1, "epochs": 3, "train_loss": 0.5, "val_loss": 0.4, "improved": True})
    monitor.on_epoch({"epoch": 2, "epochs": 3, "train_loss": 0.2, "val_loss": None, "improved": False})
    assert monitor.progress.value == 2 and "train 0.2000" in monitor.status.value
    assert bytes(monitor.plot.value).startswith(b"\x89PNG")



def test_run_pilot_in_the_foreground_is_not_a_lost_page():
    """A cell driving in the foreground cannot hear the page: the heartbeat waits, then watches again."""
    from jetracer.notebook import open_session

    s = open_session(True, live=False, guard=False, heartbeat=True, heartbeat_timeout_s=0.1,
                     heartbeat_first_s=60.0)
    try:
        pilot = s.make_pilot(mode="manual", manual_throttle=0.3)
        s.heartbeat.beat()  # the page answers, then the cell runs for a while (the timer checks 4x a second)
        reason = s.run_pilot(pilot, seconds=1.0, should_stop=lambda: time.sleep(0.02))
        assert reason == "duration" and pilot.mode == "manual" and s.heartbeat.lapses == 0
        assert s.world.vehicle.speed > 0.2
    finally:
        s.close()


def test_starting_the_pilot_twice_leaves_one_loop_driving(session):
    import threading

    pilot = session.make_pilot(mode="stopped")
    first = session.start_pilot(pilot)
    second = session.start_pilot(pilot)  # the cell run again
    try:
        assert not first.running and second.running
        assert sum(t.name == "pilot" and t.is_alive() for t in threading.enumerate()) == 1
    finally:
        session.close()
    assert not second.running


def test_a_session_that_fails_after_building_the_car_releases_it(closed_cars):
    from jetracer.notebook import open_session

    with pytest.raises(ValueError):
        open_session(True, live=False, guard=False, heartbeat=True, heartbeat_timeout_s="soon")
    assert len(closed_cars) == 1


def test_pilots_of_a_session_watch_its_battery(session):
    assert session.battery is not None and session.battery.state == "ok"
    session.battery.smoothing_s = 0.0  # no filter: the next reading counts at once
    session.world.battery.percent = 3.0  # the simulated pack is nearly flat
    pilot = session.make_pilot(mode="manual", manual_throttle=0.3)
    assert session.run_pilot(pilot, seconds=1.0) == "battery"
    assert abs(session.pulses()["throttle"] - NEUTRAL_US) < 5
