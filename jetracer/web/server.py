"""The web app's HTTP and WebSocket server (tornado: both in one, on every Python the package runs on).

Every page and API needs the session cookie a right token bought (:mod:`.auth`); the static
files (CSS, JS) are public and hold nothing secret. Requests that change something are JSON POSTs
checked here (numbers finite and in range, names known, paths inside the dataset folder); the
cookie is HttpOnly and SameSite=Strict, and a POST from another origin is refused. One
WebSocket per page carries the camera (binary, newest frame only: while a page is still taking one
frame, newer ones replace the pending one instead of queueing), the status (5 Hz) and the
controlling page's commands and keep-alives.
"""

import json
import logging
import time
from pathlib import Path

import tornado.ioloop
import tornado.web
import tornado.websocket

from ..models.convention import DEFAULT_CATEGORY
from .dataset import DatasetRequestError, check_category
from .runs import RunNotFound, list_runs, load_run
from .session import CommandError

__all__ = ["make_app", "WebApp", "STATIC_DIR", "COOKIE"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
COOKIE = "jetracer_session"
PAGES = ("drive", "label", "data", "runs")
STATUS_PERIOD_MS = 200
_CSP = ("default-src 'self'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'")


class WebApp:
    """Everything the handlers share: the driving session, the frame stream, the gate, the data."""

    def __init__(self, session, frames, gate, dataset, run_folders, category=DEFAULT_CATEGORY):
        self.session, self.frames, self.gate = session, frames, gate
        self.dataset, self.run_folders = dataset, list(run_folders)
        self.category = category
        self.sockets = {}
        self.saved = []  # relative paths labelled here, newest last (Undo)
        self._next_id = 1
        self.loop = None
        self.dropped_frames = 0

    def new_client_id(self):
        cid = self._next_id
        self._next_id += 1
        return cid

    def broadcast_status(self):
        if not self.sockets:
            return
        status = self.session.status()
        status["warnings"] = self.session.warnings()
        status["watchers"] = len(self.sockets)
        status["login_failures"] = self.gate.failures
        for cid, sock in list(self.sockets.items()):
            status["you"] = cid
            status["you_control"] = status["controller"] == cid
            sock.send_json(dict(status, t="status"))

    def on_release(self, client_id, reason):
        """Called from the control loop thread: tell the page on the IOLoop."""
        if self.loop is not None:
            self.loop.add_callback(self._tell_released, client_id, reason)

    def _tell_released(self, client_id, reason):
        sock = self.sockets.get(client_id)
        if sock is not None:
            sock.send_json({"t": "control", "control": False, "reason": reason})


class _Base(tornado.web.RequestHandler):
    def initialize(self, app):
        self.app = app

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Security-Policy", _CSP)
        self.set_header("Cache-Control", "no-store")

    def logged_in(self):
        return self.app.gate.valid(self.get_cookie(COOKIE))

    def client_address(self):
        return self.request.remote_ip or "?"

    def json_error(self, status, message):
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    def write_json(self, data):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def same_origin(self):
        origin = self.request.headers.get("Origin")
        if not origin:
            return True
        host = self.request.headers.get("Host", "")
        return origin.split("://", 1)[-1] == host

    def body_json(self):
        try:
            data = json.loads(self.request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise DatasetRequestError("the request body must be a JSON object") from None
        if not isinstance(data, dict):
            raise DatasetRequestError("the request body must be a JSON object")
        return data

    def write_error(self, status_code, **kwargs):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": self._reason}))


class PageHandler(_Base):
    def get(self, page=None):
        if not self.logged_in():
            self.redirect("/login")
            return
        page = page or "drive"
        if page not in PAGES:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC_DIR / ("%s.html" % page)).read_bytes())


class LoginHandler(_Base):
    def get(self):
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish((STATIC_DIR / "login.html").read_bytes())

    def post(self):
        if not self.same_origin():
            self.json_error(403, "cross-origin login refused")
            return
        address = self.client_address()
        wait = self.app.gate.locked_out(address)
        if wait:
            self.set_header("Retry-After", str(int(wait) + 1))
            self.json_error(429, "too many wrong tokens: wait %d s" % (int(wait) + 1))
            return
        token = self.get_body_argument("token", default="").strip()
        session = self.app.gate.login(address, token)
        if session is None:
            self.json_error(403, "wrong token (%d wrong so far)" % self.app.gate.failures)
            return
        # by hand: Python 3.6's http.cookies knows no SameSite attribute
        self.add_header("Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (COOKIE, session))
        self.redirect("/drive")


class LogoutHandler(_Base):
    def post(self):
        self.app.gate.logout(self.get_cookie(COOKIE))
        self.clear_cookie(COOKIE, path="/")
        self.redirect("/login")


class ApiHandler(_Base):
    """JSON API: GET reads, POST changes; both need a login, POST the same origin."""

    def prepare(self):
        if not self.logged_in():
            self.json_error(401, "log in first")
            return
        if self.request.method == "POST" and not self.same_origin():
            self.json_error(403, "cross-origin request refused")

    def get(self, what):
        try:
            handler = getattr(self, "read_" + what, None)
            if handler is None:
                raise tornado.web.HTTPError(404)
            handler()
        except (DatasetRequestError, RunNotFound, CommandError) as exc:
            self.json_error(400, str(exc))

    def post(self, what):
        try:
            handler = getattr(self, "do_" + what, None)
            if handler is None:
                raise tornado.web.HTTPError(404)
            handler(self.body_json())
        except (DatasetRequestError, RunNotFound, CommandError) as exc:
            self.json_error(400, str(exc))
        except OSError as exc:
            self.json_error(500, "could not write: %s" % (exc.strerror or exc))

    # -- reads ---------------------------------------------------------------------------------------
    def read_status(self):
        status = self.app.session.status()
        status["warnings"] = self.app.session.warnings()
        self.write_json(status)

    def read_data(self):
        category = self.get_query_argument("category", default="") or None
        trash = self.get_query_argument("trash", default="0") == "1"
        listing = self.app.dataset.scan(category=category, trash=trash)
        listing["categories"] = self.app.dataset.categories()
        listing["trash_count"] = len(self.app.dataset.scan(trash=True)["samples"]) if not trash else len(
            listing["samples"])
        listing["root"] = str(self.app.dataset.root)
        listing["default_category"] = self.app.category
        self.write_json(listing)

    def read_img(self):
        data = self.app.dataset.image_bytes(self.get_query_argument("path", default=""),
                                            trash=self.get_query_argument("trash", default="0") == "1")
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "private, max-age=60")
        self.finish(data)

    def read_runs(self):
        self.write_json({"runs": list_runs(self.app.run_folders)})

    def read_run(self):
        self.write_json(load_run(self.app.run_folders, self.get_query_argument("name", default="")))

    # -- changes -------------------------------------------------------------------------------------
    def _xy(self, data, width, height):
        from .session import check_number

        x = check_number(data.get("x"), "x", 0, width - 1)
        y = check_number(data.get("y"), "y", 0, height - 1)
        return int(round(x)), int(round(y))

    def do_label(self, data):
        category = check_category(data.get("category", self.app.category))
        seq = data.get("seq")
        if isinstance(seq, bool) or not isinstance(seq, int):
            raise DatasetRequestError("seq must be the frame number the page showed")
        frame = self.app.frames.frame(seq)
        if frame is None:
            raise DatasetRequestError("frame %d is no longer kept: click again" % seq)
        height, width = frame.image.shape[:2]
        x, y = self._xy(data, width, height)
        rel = self.app.dataset.save(frame.image, category, x, y)
        self.app.saved.append(rel)
        del self.app.saved[:-200]
        self.write_json({"saved": rel, "counts": self.app.dataset.scan()["counts"]})

    def do_undo(self, data):
        while self.app.saved:
            rel = self.app.saved.pop()
            try:
                self.app.dataset.delete(rel)
            except DatasetRequestError:
                continue  # deleted or re-labelled on the Data page meanwhile
            self.write_json({"undone": rel, "counts": self.app.dataset.scan()["counts"]})
            return
        raise DatasetRequestError("nothing to undo")

    def do_relabel(self, data):
        from PIL import Image

        path = self.app.dataset.resolve(data.get("path"))
        if not path.is_file():
            raise DatasetRequestError("%s not found" % data.get("path"))
        try:
            with Image.open(str(path)) as img:
                width, height = img.size
        except (OSError, ValueError, SyntaxError):
            raise DatasetRequestError("%s is not a readable image" % data.get("path")) from None
        x, y = self._xy(data, width, height)
        self.write_json({"path": self.app.dataset.relabel(data.get("path"), x, y)})

    def do_delete(self, data):
        self.write_json({"trashed": self.app.dataset.delete(data.get("path"))})

    def do_restore(self, data):
        self.write_json({"restored": self.app.dataset.restore(data.get("path"))})

    def do_estop(self, data):
        self.app.session.estop("web e-stop (HTTP)")
        self.write_json({"estopped": True})


class ControlSocket(tornado.websocket.WebSocketHandler):
    """One page: camera and status out; commands and keep-alives in."""

    def initialize(self, app):
        self.app = app
        self.client_id = None
        self._sending = False
        self._pending = None

    def open(self):
        if not self.app.gate.valid(self.get_cookie(COOKIE)):
            self.close(4001, "log in first")
            return
        self.set_nodelay(True)
        self.client_id = self.app.new_client_id()
        self.app.sockets[self.client_id] = self
        self.app.frames.subscribe(self._frame_ready)
        self.send_json({"t": "hello", "you": self.client_id, "deadman_s": self.app.session.deadman_s})
        if self.app.frames.latest_packet is not None:
            self._send_frame(self.app.frames.latest_packet)

    # -- out -------------------------------------------------------------------------------------------
    def _frame_ready(self, packet):
        loop = self.app.loop
        if loop is not None:
            loop.add_callback(self._send_frame, packet)

    def _send_frame(self, packet):
        if self.client_id not in self.app.sockets:
            return
        if self._sending:
            if self._pending is not None:
                self.app.dropped_frames += 1
            self._pending = packet  # the newest replaces the waiting one: never a queue
            return
        self._sending = True
        try:
            future = self.write_message(packet, binary=True)
        except tornado.websocket.WebSocketClosedError:
            self._sending = False
            return
        future.add_done_callback(self._sent)

    def _sent(self, future):
        self._sending = False
        if self._pending is not None:
            packet, self._pending = self._pending, None
            self._send_frame(packet)

    def send_json(self, data):
        try:
            self.write_message(json.dumps(data))
        except tornado.websocket.WebSocketClosedError:
            pass

    # -- in --------------------------------------------------------------------------------------------
    def on_message(self, message):
        if self.client_id is None or isinstance(message, bytes):
            return
        session = self.app.session
        session.heard(self.client_id)
        try:
            msg = json.loads(message)
            if not isinstance(msg, dict):
                raise CommandError("a message is a JSON object")
            kind = msg.get("t")
            if kind == "ping":
                self.send_json({"t": "pong", "c": msg.get("c"), "s": time.time()})
            elif kind == "drive":
                session.drive(self.client_id, msg.get("steering"), msg.get("throttle"))
            elif kind == "claim":
                ok = session.claim(self.client_id)
                self.send_json({"t": "control", "control": ok,
                                "reason": "" if ok else "another page has control: watching"})
            elif kind == "unclaim":
                session.release(self.client_id, "page gave control back")
            elif kind == "hidden":
                session.release(self.client_id, "page hidden")
            elif kind == "estop":
                session.estop("web e-stop (page %s)" % self.client_id)
            elif kind == "release":
                session.release_estop(self.client_id)
            elif kind == "mode":
                session.set_mode(self.client_id, msg.get("mode"))
            elif kind == "cap":
                session.set_cap(self.client_id, msg.get("value"))
            else:
                raise CommandError("unknown message type %r" % (kind,))
        except ValueError as exc:  # CommandError, bad JSON
            self.send_json({"t": "error", "error": str(exc)})

    def on_close(self):
        if self.client_id is None:
            return
        self.app.frames.unsubscribe(self._frame_ready)
        self.app.sockets.pop(self.client_id, None)
        self.app.session.release(self.client_id, "page closed")


def make_app(app):
    """The tornado Application over a :class:`WebApp`."""
    args = {"app": app}
    return tornado.web.Application([
        (r"/", tornado.web.RedirectHandler, {"url": "/drive"}),
        (r"/login", LoginHandler, args),
        (r"/logout", LogoutHandler, args),
        (r"/(drive|label|data|runs)", PageHandler, args),
        (r"/ws", ControlSocket, args),
        (r"/api/([a-z]+)", ApiHandler, args),
        (r"/static/(.*)", tornado.web.StaticFileHandler, {"path": str(STATIC_DIR)}),
    ], websocket_max_message_size=65536, websocket_ping_interval=5, xsrf_cookies=False, compress_response=False)


def serve(app, host, port):
    """Listen and run the IOLoop until a signal (raised in this thread) ends it."""
    loop = tornado.ioloop.IOLoop.current()
    app.loop = loop
    app.session.release_listeners.append(app.on_release)
    server = make_app(app).listen(port, address=host, max_body_size=1 << 20)  # labels and logins are small
    status = tornado.ioloop.PeriodicCallback(app.broadcast_status, STATUS_PERIOD_MS)
    status.start()
    try:
        loop.start()
    finally:
        status.stop()
        server.stop()
