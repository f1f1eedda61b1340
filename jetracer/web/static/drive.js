// Drive page: joystick, keys and the browser gamepad -> one steering/throttle pair, sent 20 times a
// second while this page has control (those messages are the dead-man's keep-alives).
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var keys = {}, joy = {x: 0, y: 0, active: false}, padStop = false;
  JR.attachVideo($("video"), $("age"));

  $("estop").onclick = function () { JR.send({t: "estop"}); };
  $("claim").onclick = function () {
    if (JR.control) JR.send({t: "unclaim"}); else JR.send({t: "claim"});
  };
  // the current stick goes first: the car clears the e-stop only with the throttle seen released
  $("release").onclick = function () { sendDrive(); JR.send({t: "release"}); };
  document.querySelectorAll("#modes button").forEach(function (b) {
    b.onclick = function () { JR.send({t: "mode", mode: b.dataset.mode}); };
  });
  $("cap").oninput = function () { JR.send({t: "cap", value: parseFloat($("cap").value)}); };

  var KEYMAP = {ArrowUp: "up", KeyW: "up", ArrowDown: "down", KeyS: "down", ArrowLeft: "left", KeyA: "left",
                ArrowRight: "right", KeyD: "right"};
  window.addEventListener("keydown", function (ev) {
    if (ev.code === "Space") { JR.send({t: "estop"}); ev.preventDefault(); return; }
    if (KEYMAP[ev.code]) { keys[KEYMAP[ev.code]] = true; ev.preventDefault(); }
  });
  window.addEventListener("keyup", function (ev) { if (KEYMAP[ev.code]) keys[KEYMAP[ev.code]] = false; });
  window.addEventListener("blur", function () { keys = {}; });

  var pad = $("joy"), knob = $("knob");
  function joyMove(ev) {
    var r = pad.getBoundingClientRect(), half = r.width / 2;
    var x = (ev.clientX - r.left - half) / half, y = (ev.clientY - r.top - half) / half;
    var n = Math.hypot(x, y); if (n > 1) { x /= n; y /= n; }
    joy.x = x; joy.y = y;
    knob.style.left = (58 + x * 58) + "px"; knob.style.top = (58 + y * 58) + "px";
  }
  pad.addEventListener("pointerdown", function (ev) { joy.active = true; pad.setPointerCapture(ev.pointerId); joyMove(ev); });
  pad.addEventListener("pointermove", function (ev) { if (joy.active) joyMove(ev); });
  function joyEnd() { joy.active = false; joy.x = joy.y = 0; knob.style.left = knob.style.top = "58px"; }
  pad.addEventListener("pointerup", joyEnd); pad.addEventListener("pointercancel", joyEnd);

  function gamepad() {
    var pads = navigator.getGamepads ? navigator.getGamepads() : [];
    for (var i = 0; i < pads.length; i++) {
      var g = pads[i];
      if (!g || !g.connected) continue;
      var dz = function (v) { return Math.abs(v) < 0.08 ? 0 : v; };
      var b = function (k) { return g.buttons[k] ? g.buttons[k].value : 0; };
      var stop = b(1) > 0.5;
      if (stop && !padStop) JR.send({t: "estop"});
      padStop = stop;
      var thr = g.mapping === "standard" ? b(7) - b(6) : -dz(g.axes[1] || 0);
      return {steering: dz(g.axes[0] || 0), throttle: thr};
    }
    return null;
  }

  function command() {
    var g = gamepad();
    if (joy.active) return {steering: joy.x, throttle: -joy.y};
    if (g && (g.steering || g.throttle)) return g;
    return {steering: (keys.right ? 1 : 0) - (keys.left ? 1 : 0), throttle: (keys.up ? 1 : 0) - (keys.down ? 1 : 0)};
  }

  function sendDrive() {
    if (!JR.control || document.hidden) return;
    var c = command();
    if (JR.frameTooOld()) c.throttle = 0;  // blind: no throttle from this page
    JR.send({t: "drive", steering: Math.max(-1, Math.min(1, c.steering)), throttle: Math.max(-1, Math.min(1, c.throttle))});
  }
  setInterval(sendDrive, 50);

  document.addEventListener("visibilitychange", function () {
    if (document.hidden && JR.control) { JR.send({t: "hidden"}); JR.control = false; }
  });
  window.addEventListener("pagehide", function () { if (JR.control) JR.send({t: "hidden"}); });

  JR.on("control", function (m) { if (m.reason) $("msg").textContent = m.reason; });
  JR.on("error", function (e) { $("msg").textContent = e; });
  JR.on("status", function (s) {
    $("claim").textContent = s.you_control ? "Give back control" : (s.controller ? "Watching (another page drives)" : "Drive");
    $("claim").classList.toggle("on", s.you_control);
    $("claim").disabled = !s.you_control && s.controller !== null;
    $("release").disabled = !s.estopped || !s.you_control;
    $("estop").textContent = s.estopped ? "STOPPED" : "STOP";
    document.querySelectorAll("#modes button").forEach(function (b) {
      b.classList.toggle("sel", b.dataset.mode === s.mode);
      b.disabled = !s.you_control || s.estopped || (b.dataset.mode !== "manual" && !s.can_steer);
    });
    $("cap").max = s.max_throttle; $("capv").textContent = s.cap.toFixed(2);
    if (document.activeElement !== $("cap")) $("cap").value = s.cap;
    $("r-mode").textContent = s.mode + (s.estopped ? " (E-STOP)" : "") + (s.deadman ? " (DEAD-MAN)" : "");
    $("r-control").textContent = s.you_control ? "this page" : (s.controller ? "page " + s.controller : "nobody");
    $("r-steering").textContent = s.steering.toFixed(2);
    $("r-throttle").textContent = s.throttle.toFixed(2);
    $("r-pwm").textContent = s.pwm_us ? "steering " + s.pwm_us.steering.toFixed(0) + ", throttle " + s.pwm_us.throttle.toFixed(0) : "no reading";
    $("r-fps").textContent = s.camera_fps.toFixed(0) + " fps";
    $("r-lat").textContent = s.latency_ms.toFixed(0) + " ms";
    $("r-bat").textContent = s.battery ? (s.battery.error ? "no reading" : s.battery.percent.toFixed(0) + "% " + s.battery.voltage.toFixed(1) + " V") : "-";
    $("r-rtt").textContent = JR.rtt === null ? "-" : (JR.rtt * 1000).toFixed(0) + " ms";
    $("warnings").textContent = (s.warnings || []).join(" · ");
    if (s.message) $("msg").textContent = s.message;
  });
  JR.start();
})();
