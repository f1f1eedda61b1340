"""The web app is guarded like a drive: a stuck control loop or a frozen `jetracer web` process ends at
neutral within the watchdog limit (read back from the PCA9685 twin, whose registers another process
shares through a file), `jetracer stop` stops it, and a drive cannot take the car from it.

A page is tornado's WebSocket client in a thread, driving as the Drive page does: it claims control,
then sends the stick (its keep-alives) every 50 ms."""

import asyncio
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("tornado")

from jetracer.i2c import PCA9685Twin  # noqa: E402
from jetracer.profile import load_profile  # noqa: E402
from jetracer.sim.devices import sim_state_dir  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = 1500.0
TICK = 1e6 / (25e6 / (4096 * 122)) / 4096
WATCHDOG_S = 0.5  # the default pilot.watchdog_s (the sim profile allows a loaded laptop 1 s)
LIMIT_S = WATCHDOG_S + 0.4  # plus what a loaded 2-core machine may add to wake a thread or a process
TIMES = {}  # fault -> measured seconds to neutral (printed at the end)


def is_neutral(us):
    return abs(us - NEUTRAL) <= TICK


def moving(us):
    return us > NEUTRAL + 20


def wait_pulse(chip, test, timeout):
    """Seconds until ``test(throttle pulse)`` held, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if test(chip.pulse_us(1)):
            return time.monotonic() - t0
        time.sleep(0.002)
    return None


def stays(chip, test, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not test(chip.pulse_us(1)):
            return False
        time.sleep(0.01)
    return True


# -- in this process: a control loop stuck in a call -------------------------------------------------
def test_a_stuck_control_loop_gets_neutral_within_the_limit_and_wakes_up_e_stopped():
    """The camera lock (or an engine call, an I2C write) blocks the control thread for 1.5 s while
    the page holds full throttle: the deadline thread writes neutral; when the loop wakes, the
    e-stop is latched and the held throttle does not drive; Release (throttle released) drives again."""
    from jetracer.web.session import WebSession, assemble
    from jetracer.web.watchdogs import LoopWatchdogs

    parts = assemble(load_profile("sim"), sim=True)
    watchdogs = LoopWatchdogs(parts.pilot, WATCHDOG_S, guardian=False)  # this layer alone
    session = WebSession(parts, deadman_s=5.0, max_throttle=0.5, throttle_cap=0.5, watchdogs=watchdogs).start()
    chip = PCA9685Twin(0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")
    try:
        assert session.claim("page")
        session.drive("page", 0.0, 0.0)
        session.drive("page", 0.0, 1.0)
        assert wait_pulse(chip, moving, 5.0) is not None
        stuck, real_latest = [], parts.camera.latest

        def latest():
            if not stuck:
                stuck.append(time.monotonic())
                time.sleep(1.5)
            return real_latest()

        parts.camera.latest = latest
        assert wait_pulse(chip, lambda us: bool(stuck), 2.0) is not None
        elapsed = wait_pulse(chip, is_neutral, LIMIT_S + 1.0)
        assert elapsed is not None, "still driving %.1f s into the hang" % (LIMIT_S + 1.0)
        TIMES["stuck control loop"] = elapsed = time.monotonic() - stuck[0]
        assert elapsed <= LIMIT_S, "neutral only after %.3f s" % elapsed
        deadline = stuck[0] + 2.0
        while time.monotonic() < deadline:  # the page keeps holding the throttle through the hang and after
            session.drive("page", 0.0, 1.0)
            assert is_neutral(chip.pulse_us(1))
            time.sleep(0.02)
        status = session.status()
        assert status["estopped"] and "watchdog" in status["message"], status
        session.drive("page", 0.0, 0.0)
        session.release_estop("page")
        session.drive("page", 0.0, 0.0)
        session.drive("page", 0.0, 1.0)
        assert wait_pulse(chip, moving, 2.0) is not None  # the trip does not wedge the session
    finally:
        session.close()
    assert is_neutral(chip.pulse_us(1))


def test_a_killed_guardian_e_stops_the_session_and_is_replaced_unless_it_died_young():
    """Killed after a useful life (the OOM killer, a person): e-stop, a new guardian, drive on after
    Release. Dead soon after its start (it cannot reach the board): no drive without it."""
    from jetracer.web.session import CommandError, WebSession, assemble
    from jetracer.web.watchdogs import LoopWatchdogs

    parts = assemble(load_profile("sim"), sim=True)
    watchdogs = LoopWatchdogs(parts.pilot, WATCHDOG_S)
    session = WebSession(parts, deadman_s=5.0, watchdogs=watchdogs).start()
    chip = PCA9685Twin(0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")
    try:
        assert session.claim("page")
        session.drive("page", 0.0, 0.0)
        session.drive("page", 0.0, 1.0)
        assert wait_pulse(chip, moving, 5.0) is not None
        first = watchdogs.guardian.process
        watchdogs.restart_min_life_s = 0.0
        first.kill()
        assert wait_pulse(chip, is_neutral, LIMIT_S) is not None
        assert session.status()["estopped"] and "guardian process is gone" in session.status()["message"]
        assert watchdogs.guardian is not None and watchdogs.guardian.process.pid != first.pid
        session.drive("page", 0.0, 0.0)
        session.release_estop("page")
        session.drive("page", 0.0, 0.0)
        session.drive("page", 0.0, 1.0)
        assert wait_pulse(chip, moving, 2.0) is not None
        watchdogs.restart_min_life_s = 60.0
        watchdogs.guardian.process.kill()
        assert wait_pulse(chip, is_neutral, LIMIT_S) is not None
        session.drive("page", 0.0, 0.0)
        with pytest.raises(CommandError, match="unguarded .*guardian process is gone"):
            session.release_estop("page")
        assert watchdogs.guardian is None and session.status()["estopped"]
    finally:
        session.close()
    assert is_neutral(chip.pulse_us(1))


def test_systemd_hears_ready_keepalives_from_the_control_loop_none_while_it_is_stuck_and_stopping(
        tmp_path, monkeypatch):
    """``Type=notify``/``WatchdogSec``: the keep-alives come from the loop itself, so a stuck loop
    goes silent and systemd kills the server (then ExecStopPost writes neutral)."""
    from jetracer.web.session import WebSession, assemble
    from jetracer.web.watchdogs import LoopWatchdogs

    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.0)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a keep-alive at least every 50 ms
    parts = assemble(load_profile("sim"), sim=True)
    session = WebSession(parts, watchdogs=LoopWatchdogs.from_profile(load_profile("sim"), parts.pilot))
    heard = []

    def listen(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                heard.append((time.monotonic(), sock.recv(4096).decode()))
            except BlockingIOError:
                time.sleep(0.005)

    try:
        session.start()
        listen(0.5)
        stuck, real_latest = [], parts.camera.latest

        def latest():
            if not stuck:
                stuck.append(time.monotonic())
                time.sleep(0.8)
                stuck.append(time.monotonic())
            return real_latest()

        parts.camera.latest = latest
        listen(1.2)
    finally:
        session.close()
        listen(0.1)
        sock.close()
    messages = [m for _, m in heard]
    assert messages[0].startswith("READY=1") and messages[-1] == "STOPPING=1", messages
    assert messages.count("WATCHDOG=1") >= 10
    assert len(stuck) == 2 and not [t for t, m in heard if m == "WATCHDOG=1" and stuck[0] + 0.01 < t < stuck[1]]
    assert [t for t, m in heard if m == "WATCHDOG=1" and t > stuck[1]]  # and again once it runs


# -- a real `jetracer web --sim` process -----------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`jetracer web --sim` with the car's watchdog limit, its chips, token and lock in ``root``."""

    def __init__(self, root):
        text = (ROOT / "hardware" / "profiles" / "sim.toml").read_text()
        (root / "sim.toml").write_text(re.sub(r"(?m)^watchdog_s = .*$", "watchdog_s = %g" % WATCHDOG_S, text))
        self.port = _free_port()
        self.env = dict(os.environ, JETRACER_SIM_STATE=str(root / "simstate"), XDG_CONFIG_HOME=str(root / "config"),
                        PYTHONPATH=str(ROOT))
        self.log = open(str(root / "server.log"), "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "jetracer", "web", "--sim", "--profile",
                                      str(root / "sim.toml"), "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=str(root), env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, "jetracer web exited: " + self.output()
            assert time.monotonic() < deadline, "jetracer web did not listen: " + self.output()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        self.token = (root / "config" / "jetracer" / "web-token").read_text().strip()
        self.chip = PCA9685Twin(0x40, backing_file=root / "simstate" / "pca9685-0x40.regs")

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cookie(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/login", body="token=" + self.token,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        cookie = response.getheader("Set-Cookie")
        conn.close()
        assert cookie, "login refused: %s" % response.status
        return cookie.split(";")[0]

    def close(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Page(threading.Thread):
    """A controlling page: claim, then ``(steering, throttle)`` every 50 ms; ``send`` for the rest."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.url = "ws://127.0.0.1:%d/ws" % server.port
        self.cookie = server.cookie()
        self.throttle = 1.0
        self.outbox = queue.Queue()
        self.done = threading.Event()
        self.error = None

    def run(self):
        from tornado.ioloop import IOLoop

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            IOLoop.current().run_sync(self._drive)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    async def _drive(self):
        from tornado import gen
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        ws = await websocket_connect(HTTPRequest(self.url, headers={"Cookie": self.cookie}))
        ws.write_message(json.dumps({"t": "claim"}))
        while not self.done.is_set():
            while not self.outbox.empty():
                ws.write_message(json.dumps(self.outbox.get()))
            for throttle in (0.0, self.throttle):  # released first: a claim never drives off a held stick
                ws.write_message(json.dumps({"t": "drive", "steering": 0.0, "throttle": throttle}))
            await gen.sleep(0.05)
        ws.close()

    def stop(self):
        self.done.set()
        self.join(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("webdog"))
    yield srv
    srv.close()


def test_a_drive_cannot_take_the_car_from_the_web_app(server, monkeypatch, capsys):
    from jetracer.cli import main

    monkeypatch.setenv("JETRACER_SIM_STATE", server.env["JETRACER_SIM_STATE"])
    assert main(["drive", "--sim", "--pilot", "expert", "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a web app is already running on this car (pid %d" % server.proc.pid in err
    assert "jetracer stop" in err


def freeze(server, what):
    """SIGSTOP the server while it drives: neutral within the limit, and still after SIGCONT."""
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        TIMES[what] = elapsed = wait_pulse(server.chip, is_neutral, LIMIT_S + 1.0)
        assert elapsed is not None and elapsed <= LIMIT_S, "throttle %.0f us after %s s" % (
            server.chip.pulse_us(1), elapsed)
        assert stays(server.chip, is_neutral, 0.3)
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert stays(server.chip, is_neutral, 0.6)  # the page still holds full throttle: e-stopped


def release(page):
    """Claim again (a freeze longer than the dead-man may have released the page's control, depending
    on whether its queued messages or the loop's gap check ran first after SIGCONT), send a released
    throttle, then Release the e-stop and hold full throttle again."""
    page.outbox.put({"t": "claim"})
    page.throttle = 0.0
    time.sleep(0.15)
    page.outbox.put({"t": "release"})
    time.sleep(0.15)
    page.throttle = 1.0


def test_sigstop_of_the_web_process_while_a_page_drives_ends_at_neutral(server):
    """Frozen whole (no thread runs): the guardian process writes neutral; after SIGCONT the page's
    held throttle does not drive (the e-stop latched) until Release; a fresh guardian guards again."""
    page = Page(server)
    page.start()
    try:
        assert wait_pulse(server.chip, moving, 10.0) is not None, server.output()[-2000:]
        freeze(server, "web process SIGSTOP")
        assert "jetracer guardian (web" in server.output() and "no heartbeat" in server.output()
        # the woken loop latches its e-stop from the lapse; a Release sent before that latch lands
        # would be overtaken by it (on a loaded machine the wake-up can take a few tenths of a second)
        deadline = time.monotonic() + 5.0
        while "E-STOP: watchdog" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "E-STOP: watchdog" in server.output(), server.output()[-2000:]
        release(page)
        assert wait_pulse(server.chip, moving, 3.0) is not None, server.output()[-2000:]
        freeze(server, "web process SIGSTOP, second guardian")
    finally:
        page.stop()
    assert page.error is None, page.error


def test_jetracer_stop_stops_the_web_app_at_neutral(server):
    page = Page(server)
    page.start()
    try:
        release(page)  # the e-stop an earlier test left
        assert wait_pulse(server.chip, moving, 10.0) is not None, server.output()[-2000:]
        stop = subprocess.Popen([sys.executable, "-m", "jetracer", "stop", "--sim"], env=server.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = stop.communicate(timeout=30)
        assert stop.returncode == 0, err.decode()
        assert "stopped the running web app (pid %d, SIGTERM)" % server.proc.pid in out.decode(), (
            out.decode() + server.output()[-2000:])
        assert server.proc.wait(timeout=5) == 0, server.output()[-2000:]
        assert "web stopped: car at neutral" in server.output()
        assert is_neutral(server.chip.pulse_us(1)) and stays(server.chip, is_neutral, 0.3)
    finally:
        page.stop()


def teardown_module(module):
    if TIMES:
        sys.stderr.write("\ntime to neutral: %s\n" % ", ".join("%s %.3f s" % kv for kv in sorted(TIMES.items())))
