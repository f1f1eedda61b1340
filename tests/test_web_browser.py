"""`jetracer web --sim` in a real browser (Debian's headless Chromium driven by Playwright).

What a person at the page would notice, read where it lands: pulse widths on the simulated
PCA9685 (its registers live in a file the server process shares with this one), sample files on
disk, the trash. One server and one browser serve the whole module to keep it fast.
Chromium comes from apt (`make browser` installs it); Playwright never downloads a browser here.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from jetracer.i2c import PCA9685Twin

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("JETRACER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEUTRAL = 1500.0
DEADMAN_S = 0.5  # the profile default ([web] deadman_s)
SHOTS = os.environ.get("JETRACER_WEB_SCREENSHOTS")  # a folder: save a screenshot of each page there


def _need_browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail("headless Chromium not found at %s: run `make browser` (apt-get install chromium)" % CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[dev]'")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root):
        self.root = root
        self.port = _free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.env = dict(os.environ, JETRACER_SIM_STATE=str(root / "simstate"), XDG_CONFIG_HOME=str(root / "config"),
                        PYTHONPATH=str(Path(__file__).resolve().parent.parent))
        self.log = open(str(root / "server.log"), "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "jetracer", "web", "--sim", "--host", "127.0.0.1",
                                      "--port", str(self.port)], cwd=str(root), env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("jetracer web exited: " + self.output())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("jetracer web did not listen: " + self.output())
        self.token = (root / "config" / "jetracer" / "web-token").read_text().strip()
        self.chip = PCA9685Twin(0x40, backing_file=root / "simstate" / "pca9685-0x40.regs")
        self.data = root / "data" / "xy"

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def throttle_us(self):
        return self.chip.pulse_us(1)

    def wait_throttle(self, test, timeout=5.0):
        """Seconds until ``test(pulse)`` held, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if test(self.throttle_us()):
                return time.monotonic() - t0
            time.sleep(0.01)
        return None

    def stop(self):
        """SIGTERM, as systemd stops it; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()


def moving(pulse):
    return pulse > NEUTRAL + 20


def neutral(pulse):
    return abs(pulse - NEUTRAL) < 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _need_browser()
    srv = Server(tmp_path_factory.mktemp("web"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    profile_dir = tempfile.mkdtemp(prefix="jetracer-chromium-")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(profile_dir, executable_path=CHROMIUM, headless=True,
                                                        args=CHROMIUM_ARGS, viewport={"width": 900, "height": 620},
                                                        bypass_csp=True)  # its probes eval; pages do not
        yield context
        context.close()
    shutil.rmtree(profile_dir, ignore_errors=True)


def _login(page, server, token):
    page.goto(server.url + "/login")
    page.fill("#token", token)
    page.click("button[type=submit]")


@pytest.fixture
def logged_in(browser, server):
    """The browser with a session cookie (logging in when it has none)."""
    if not any(c["name"] == "jetracer_session" for c in browser.cookies()):
        page = browser.new_page()
        _login(page, server, server.token)
        page.wait_for_url("**/drive")
        page.close()
    return browser


def _drive_page(browser, server):
    page = browser.new_page()
    page.goto(server.url + "/drive")
    page.wait_for_function("JR.seq > 0")  # the camera is on the page
    page.click("#claim")
    page.wait_for_function("JR.status && JR.status.you_control")
    page.evaluate("JR.status.estopped && JR.send({t: 'release'})")  # a failed test before us may have left it
    page.wait_for_function("JR.status && JR.status.armed && !JR.status.estopped")  # saw a released throttle
    return page


def _shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_a_wrong_token_cannot_drive(browser, server):
    browser.clear_cookies()
    page = browser.new_page()
    try:
        _login(page, server, "not-the-token")
        page.wait_for_selector("#err:has-text('wrong token')")
        page.goto(server.url + "/drive")
        assert page.url.endswith("/login")  # no page without a login
        # a hand-made socket without the cookie gets closed; its commands move nothing
        code = page.evaluate("""() => new Promise(done => {
            const ws = new WebSocket('ws://' + location.host + '/ws');
            ws.onopen = () => { ws.send(JSON.stringify({t: 'claim'}));
                                ws.send(JSON.stringify({t: 'drive', steering: 0, throttle: 1})); };
            ws.onclose = ev => done(ev.code);
        })""")
        assert code == 4001
        status = page.evaluate("() => fetch('/api/status').then(r => r.status)")
        assert status == 401
        assert server.wait_throttle(moving, timeout=0.5) is None
        assert "wrong web login token" in server.output()  # counted and logged
    finally:
        page.close()


def test_arrow_key_moves_the_car_and_estop_latches(logged_in, server):
    page = _drive_page(logged_in, server)
    try:
        assert neutral(server.throttle_us())
        page.keyboard.down("ArrowUp")
        assert server.wait_throttle(moving) is not None, server.output()
        _shot(page, "web_drive.png")
        page.click("#estop")
        assert server.wait_throttle(neutral, timeout=1.0) is not None
        time.sleep(0.3)  # latched: the held key does not drive again
        assert neutral(server.throttle_us())
        page.keyboard.up("ArrowUp")
        page.wait_for_function("JR.status && JR.status.estopped")
        page.click("#release")
        page.wait_for_function("JR.status && !JR.status.estopped")
        page.keyboard.down("ArrowUp")  # released: drives again
        assert server.wait_throttle(moving) is not None
        page.keyboard.up("ArrowUp")
        assert server.wait_throttle(neutral, timeout=1.0) is not None
    finally:
        page.close()


def test_touch_joystick_and_browser_gamepad_drive(logged_in, server):
    page = logged_in.new_page()
    try:
        page.goto(server.url + "/drive")
        # a standard-mapped pad as the Gamepad API reports it; the test holds its buttons in window.pad
        page.evaluate("""() => { window.pad = {};
            navigator.getGamepads = () => [{connected: true, mapping: 'standard', axes: [0, 0, 0, 0],
                buttons: Array.from({length: 17}, (_, i) => ({value: window.pad[i] || 0}))}]; }""")
        page.wait_for_function("JR.seq > 0")
        page.click("#claim")
        page.wait_for_function("JR.status && JR.status.you_control && JR.status.armed")
        joy = page.locator("#joy").bounding_box()
        cx, cy = joy["x"] + joy["width"] / 2, joy["y"] + joy["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx, cy - joy["height"] * 0.4, steps=4)  # stick pushed up: forward
        assert server.wait_throttle(moving) is not None
        page.mouse.up()  # let go: the knob springs back
        assert server.wait_throttle(neutral, timeout=1.0) is not None
        page.evaluate("window.pad[7] = 1")  # right trigger
        assert server.wait_throttle(moving) is not None
        page.evaluate("window.pad[1] = 1")  # B: e-stop
        assert server.wait_throttle(neutral, timeout=1.0) is not None
        page.wait_for_function("JR.status && JR.status.estopped")
        page.evaluate("window.pad = {}")
        page.wait_for_timeout(150)  # the page has sent the released trigger: the e-stop may be cleared
        page.click("#release")
        page.wait_for_function("JR.status && !JR.status.estopped")
    finally:
        page.close()


def test_closing_the_tab_stops_the_car_within_the_deadman(logged_in, server):
    page = _drive_page(logged_in, server)
    page.keyboard.down("ArrowUp")
    assert server.wait_throttle(moving) is not None
    page.close()
    elapsed = server.wait_throttle(neutral, timeout=3.0)
    assert elapsed is not None and elapsed <= DEADMAN_S + 0.5, elapsed


def test_a_new_page_never_drives_off_on_a_held_key(logged_in, server):
    page = logged_in.new_page()
    try:
        page.goto(server.url + "/drive")
        page.wait_for_function("JR.seq > 0")
        page.keyboard.down("ArrowUp")  # held before the page has control
        page.click("#claim")
        page.wait_for_function("JR.control === true")
        time.sleep(0.4)
        assert neutral(server.throttle_us())
        page.keyboard.up("ArrowUp")
        time.sleep(0.15)
        page.keyboard.down("ArrowUp")
        assert server.wait_throttle(moving) is not None
        page.keyboard.up("ArrowUp")
    finally:
        page.close()
    assert server.wait_throttle(neutral, timeout=1.0) is not None


def test_label_click_writes_the_sample_relabel_renames_it_delete_moves_it_to_the_trash(logged_in, server):
    page = logged_in.new_page()
    try:
        page.goto(server.url + "/label")
        page.wait_for_function("JR.seq > 0 && document.querySelector('#category').value")
        box = page.locator("#video").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
        page.wait_for_selector("#msg:has-text('saved')")
        files = list((server.data / "apex").glob("*.jpg"))
        assert len(files) == 1
        x, y = (int(v) for v in re.match(r"^(\d+)_(\d+)_", files[0].name).groups())
        assert abs(x - 0.75 * 223) <= 2 and abs(y - 0.25 * 223) <= 2
        assert files[0].read_bytes()[:2] == b"\xff\xd8"  # a JPEG
        if SHOTS:  # a few more, along the road, for the pictures
            for fx, fy in ((0.5, 0.55), (0.47, 0.6), (0.53, 0.5), (0.45, 0.65), (0.55, 0.58)):
                page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                page.wait_for_timeout(120)
        _shot(page, "web_label.png")

        page.goto(server.url + "/data")
        cell = page.locator(".cell[data-path='apex/%s']" % files[0].name)
        cell.wait_for()
        _shot(page, "web_data.png")
        img = cell.locator("img").bounding_box()
        page.mouse.click(img["x"] + img["width"] * 0.5, img["y"] + img["height"] * 0.9)  # re-label
        page.wait_for_selector("#msg:has-text('re-labelled')")
        uuid_part = files[0].name.split("_", 2)[2]
        moved = [p for p in (server.data / "apex").glob("*_" + uuid_part)]
        assert len(moved) == 1 and not files[0].exists()
        x, y = (int(v) for v in re.match(r"^(\d+)_(\d+)_", moved[0].name).groups())
        assert abs(x - 0.5 * 223) <= 2 and abs(y - 0.9 * 223) <= 2
        page.locator(".cell[data-path='apex/%s'] button" % moved[0].name).click()
        page.wait_for_selector("#msg:has-text('trash')")
        assert not moved[0].exists()
        assert (server.data / ".trash" / "apex" / moved[0].name).is_file()
    finally:
        page.close()


def test_runs_page_plots_the_web_drives(logged_in, server):
    page = logged_in.new_page()
    try:
        page.goto(server.url + "/runs")
        page.wait_for_function("document.querySelector('#run').options.length > 0")
        page.wait_for_selector("#summary:has-text('frames')")
        _shot(page, "web_runs.png")
        frames = int(page.inner_text("#summary").split()[0])
        assert frames > 0
    finally:
        page.close()


def test_hiding_the_tab_stops_the_car(logged_in, server):
    page = _drive_page(logged_in, server)
    try:
        page.keyboard.down("ArrowUp")
        assert server.wait_throttle(moving) is not None
        # headless pages are never hidden: make this one report hidden, as a phone does on a home-screen swipe
        page.evaluate("""() => { Object.defineProperty(document, 'hidden', {value: true, configurable: true});
                                 document.dispatchEvent(new Event('visibilitychange')); }""")
        assert server.wait_throttle(neutral, timeout=1.0) is not None
        page.wait_for_function("JR.status && !JR.status.you_control")
        time.sleep(0.3)
        assert neutral(server.throttle_us())  # the key is still held: nothing resumes
    finally:
        page.close()


def test_a_frozen_page_trips_the_deadman(logged_in, server):
    """The socket stays open but the page goes quiet (a stalled phone, a link that drops without a close)."""
    page = _drive_page(logged_in, server)
    try:
        page.keyboard.down("ArrowUp")
        assert server.wait_throttle(moving) is not None
        cdp = logged_in.new_cdp_session(page)
        cdp.send("Debugger.enable")
        cdp.send("Debugger.pause")  # at its next timer the script stops: no keep-alives, the socket stays open
        elapsed = server.wait_throttle(neutral, timeout=3.0)
        assert elapsed is not None and DEADMAN_S - 0.2 <= elapsed <= DEADMAN_S + 0.5, elapsed  # the dead-man
        cdp.send("Debugger.resume")
        page.wait_for_function("JR.status && !JR.status.you_control")
        time.sleep(0.3)
        assert neutral(server.throttle_us())  # back, key still held: control must be taken again
    finally:
        page.close()


def test_sigterm_while_driving_exits_0_at_neutral(logged_in, server):
    page = _drive_page(logged_in, server)
    page.keyboard.down("ArrowUp")
    assert server.wait_throttle(moving) is not None
    assert server.stop() == 0, server.output()
    assert neutral(server.throttle_us()) and "web stopped: car at neutral" in server.output()
    page.close()
