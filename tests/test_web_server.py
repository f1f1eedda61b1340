"""The web server over real HTTP and WebSocket (tornado's own client, no browser: runs on every
Python the package supports): login cookie, lockout, API guards, and a socket that drives the
simulated car and stops it when it closes."""

import json
import time

import pytest

testing = pytest.importorskip("tornado.testing")  # the module, so pytest does not collect its base class

from tornado import gen  # noqa: E402
from tornado.httpclient import HTTPRequest  # noqa: E402
from tornado.testing import gen_test  # noqa: E402
from tornado.websocket import websocket_connect  # noqa: E402

from jetracer.profile import load_profile  # noqa: E402
from jetracer.web.auth import LoginGate  # noqa: E402
from jetracer.web.frames import HEADER, FrameStream  # noqa: E402
from jetracer.web.server import WebApp, make_app  # noqa: E402

TOKEN = "test-token-1234"
NEUTRAL = 1500.0


class WebServerTest(testing.AsyncHTTPTestCase):
    def runTest(self):  # tornado < 6.2 looks this up when pytest >= 8 builds the case for collection
        pass

    def get_app(self):
        import tempfile

        from jetracer.web.dataset import DatasetFolder
        from jetracer.web.session import WebSession, assemble

        self.parts = assemble(load_profile("sim"), sim=True)
        self.session = WebSession(self.parts, deadman_s=0.5, max_throttle=0.5, throttle_cap=0.5).start()
        self.frames = FrameStream(self.parts.camera).start()
        self.web = WebApp(self.session, self.frames, LoginGate(TOKEN, max_failures=3), DatasetFolder(
            tempfile.mkdtemp()), [])
        self.web.loop = self.io_loop
        self.session.release_listeners.append(self.web.on_release)
        return make_app(self.web)

    def tearDown(self):
        self.frames.stop()
        self.session.close()
        super().tearDown()

    def login(self, token=TOKEN):
        return self.fetch("/login", method="POST", body="token=" + token, follow_redirects=False)

    def cookie(self):
        response = self.login()
        header = response.headers["Set-Cookie"]
        return header.split(";")[0], header

    def test_login_sets_a_strict_httponly_cookie_and_wrong_tokens_are_locked_out(self):
        assert self.fetch("/api/status").code == 401
        assert self.fetch("/drive", follow_redirects=False).headers["Location"] == "/login"
        cookie, header = self.cookie()
        assert "HttpOnly" in header and "SameSite=Strict" in header
        status = json.loads(self.fetch("/api/status", headers={"Cookie": cookie}).body)
        assert status["mode"] == "manual" and status["controller"] is None
        for _ in range(3):
            assert self.login("guess-guess").code == 403
        assert self.login().code == 429  # locked out, even with the right token
        assert self.web.gate.failures == 3

    def test_cross_origin_posts_are_refused(self):
        cookie, _ = self.cookie()
        response = self.fetch("/api/estop", method="POST", body="{}",
                              headers={"Cookie": cookie, "Origin": "http://elsewhere.example"})
        assert response.code == 403 and not self.session.teleop.estopped

    @gen_test(timeout=20)
    def test_a_socket_drives_the_car_and_closing_it_stops_the_car(self):
        response = yield self.http_client.fetch(self.get_url("/login"), method="POST", body="token=" + TOKEN,
                                                follow_redirects=False, raise_error=False)
        cookie = response.headers["Set-Cookie"].split(";")[0]
        url = "ws://127.0.0.1:%d/ws" % self.get_http_port()
        ws = yield websocket_connect(HTTPRequest(url, headers={"Cookie": cookie}))
        hello = json.loads((yield ws.read_message()))
        assert hello["t"] == "hello" and hello["deadman_s"] == 0.5
        frame = None
        while frame is None:
            msg = yield ws.read_message()
            frame = msg if isinstance(msg, bytes) else None
        seq, captured, sent = HEADER.unpack(frame[:HEADER.size])
        assert frame[HEADER.size:HEADER.size + 2] == b"\xff\xd8" and seq > 0
        ws.write_message(json.dumps({"t": "claim"}))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.parts.car.pulse_widths_us()["throttle"] < NEUTRAL + 20:
            ws.write_message(json.dumps({"t": "drive", "steering": 0.0, "throttle": 0.0}))
            ws.write_message(json.dumps({"t": "drive", "steering": 0.0, "throttle": 1.0}))
            yield gen.sleep(0.05)
        assert self.parts.car.pulse_widths_us()["throttle"] > NEUTRAL + 20
        ws.write_message(json.dumps({"t": "drive", "steering": "left", "throttle": float("nan")}))
        ws.close()
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and abs(self.parts.car.pulse_widths_us()["throttle"] - NEUTRAL) > 3:
            yield gen.sleep(0.02)
        assert abs(self.parts.car.pulse_widths_us()["throttle"] - NEUTRAL) <= 3
        assert self.session.controller_id is None

    @gen_test(timeout=20)
    def test_a_hung_server_stops_the_car(self):
        """The dead-man runs in the control thread: a server loop that stops answering is a silent page."""
        import threading

        response = yield self.http_client.fetch(self.get_url("/login"), method="POST", body="token=" + TOKEN,
                                                follow_redirects=False, raise_error=False)
        cookie = response.headers["Set-Cookie"].split(";")[0]
        ws = yield websocket_connect(HTTPRequest("ws://127.0.0.1:%d/ws" % self.get_http_port(),
                                                 headers={"Cookie": cookie}))
        ws.write_message(json.dumps({"t": "claim"}))
        car = self.parts.car
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and car.pulse_widths_us()["throttle"] < NEUTRAL + 20:
            ws.write_message(json.dumps({"t": "drive", "steering": 0.0, "throttle": 0.0}))
            ws.write_message(json.dumps({"t": "drive", "steering": 0.0, "throttle": 1.0}))
            yield gen.sleep(0.05)
        assert car.pulse_widths_us()["throttle"] > NEUTRAL + 20
        stopped_at = []

        def watch():
            t0 = time.monotonic()
            while time.monotonic() - t0 < 1.5 and not stopped_at:
                if abs(car.pulse_widths_us()["throttle"] - NEUTRAL) <= 3:
                    stopped_at.append(time.monotonic() - t0)
                time.sleep(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        time.sleep(1.5)  # this test runs on the server's loop: the server hangs for 1.5 s
        watcher.join()
        assert stopped_at and stopped_at[0] < 0.5 + 0.3, stopped_at
        assert self.session.controller_id is None
        ws.close()

    @gen_test(timeout=10)
    def test_a_socket_without_a_login_is_closed(self):
        url = "ws://127.0.0.1:%d/ws" % self.get_http_port()
        ws = yield websocket_connect(url)
        assert (yield ws.read_message()) is None and ws.close_code == 4001
