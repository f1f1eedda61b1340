// jetracer web: the page's link to the car. One WebSocket carries camera frames (binary: 20-byte
// header then a JPEG), status (JSON, 5 Hz) and, from the controlling page, commands. Pings every
// 250 ms measure the round trip and the clock offset, so the page can show how old a frame is.
"use strict";
var JR = (function () {
  var ws = null, listeners = {status: [], frame: [], control: [], error: [], hello: []};
  var offset = 0, bestRtt = 1e9, lastPong = 0;
  var self = {you: null, control: false, status: null, ages: [], seq: 0, frameWidth: 0, frameHeight: 0,
              connected: false, rtt: null};

  function now() { return Date.now() / 1000; }
  function on(kind, fn) { listeners[kind].push(fn); }
  function emit(kind, data) { listeners[kind].forEach(function (fn) { fn(data); }); }
  function send(obj) { if (ws && ws.readyState === 1) { ws.send(JSON.stringify(obj)); return true; } return false; }

  function markNav() {
    var here = location.pathname.replace("/", "") || "drive";
    document.querySelectorAll("nav a").forEach(function (a) {
      if (a.getAttribute("href") === "/" + here) a.classList.add("here");
    });
  }

  function connect() {
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.binaryType = "arraybuffer";
    ws.onopen = function () { self.connected = true; setConn("connected"); };
    ws.onclose = function (ev) {
      self.connected = false; self.control = false;
      emit("control", {control: false, reason: "link lost"});
      if (ev.code === 4001) { location.href = "/login"; return; }
      setConn("link lost: reconnecting (press Drive again to drive)");
      setTimeout(connect, 1000);  // watch again; never resume driving by itself
    };
    ws.onmessage = function (ev) {
      if (typeof ev.data !== "string") { frame(ev.data); return; }
      var msg = JSON.parse(ev.data);
      if (msg.t === "pong") {
        var t = now(), rtt = t - msg.c;
        self.rtt = rtt; lastPong = t;
        if (rtt < bestRtt * 1.5) { bestRtt = Math.min(bestRtt, rtt); offset = msg.s - (msg.c + t) / 2; }
      } else if (msg.t === "status") {
        self.status = msg; self.control = msg.you_control; emit("status", msg);
      } else if (msg.t === "control") {
        self.control = msg.control; emit("control", msg);
      } else if (msg.t === "hello") {
        self.you = msg.you; emit("hello", msg);
      } else if (msg.t === "error") {
        emit("error", msg.error);
      }
    };
  }

  function frame(buf) {
    var view = new DataView(buf);
    var seq = view.getUint32(0, true), captured = view.getFloat64(4, true);
    var blob = new Blob([new Uint8Array(buf, 20)], {type: "image/jpeg"});
    createImageBitmap(blob).then(function (bitmap) {
      var age = (now() + offset - captured) * 1000;
      self.seq = seq; self.frameWidth = bitmap.width; self.frameHeight = bitmap.height;
      self.lastFrameAt = now(); self.lastAge = age;
      self.ages.push(age); if (self.ages.length > 2000) self.ages.shift();
      emit("frame", {bitmap: bitmap, seq: seq, age: age});
      if (bitmap.close) bitmap.close();
    }, function () {});
  }

  function setConn(text) { var el = document.getElementById("conn"); if (el) el.textContent = text; }

  // a frame older than this on the page: the person is blind, so the page sends no throttle
  self.frameTooOld = function () { return !self.lastFrameAt || now() - self.lastFrameAt > 1.0; };

  self.attachVideo = function (canvas, ageEl) {
    var ctx = canvas.getContext("2d");
    on("frame", function (f) {
      if (canvas.width !== f.bitmap.width) { canvas.width = f.bitmap.width; canvas.height = f.bitmap.height; }
      ctx.drawImage(f.bitmap, 0, 0);
      if (ageEl) { ageEl.textContent = "frame " + f.seq + " · " + Math.round(f.age) + " ms old"; }
    });
    setInterval(function () {
      if (!ageEl) return;
      var old = self.frameTooOld();
      ageEl.classList.toggle("old", old);
      if (old) ageEl.textContent = self.lastFrameAt ? "NO NEW FRAME for " +
        (now() - self.lastFrameAt).toFixed(1) + " s" : "waiting for the camera";
    }, 250);
  };

  // pixel in the frame under a click on ``el`` (the canvas or image showing it)
  self.pixelAt = function (el, ev, width, height) {
    var r = el.getBoundingClientRect();
    return {x: Math.round((ev.clientX - r.left) / r.width * (width - 1)),
            y: Math.round((ev.clientY - r.top) / r.height * (height - 1))};
  };

  self.api = function (path, body) {
    var opts = body === undefined ? {} : {method: "POST", headers: {"Content-Type": "application/json"},
                                          body: JSON.stringify(body)};
    opts.credentials = "same-origin";
    return fetch(path, opts).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw new Error(data.error || r.statusText);
        return data;
      });
    });
  };

  self.on = on; self.send = send; self.now = now;
  self.start = function () {
    markNav(); connect();
    setInterval(function () { send({t: "ping", c: now()}); }, 250);
  };
  return self;
})();
