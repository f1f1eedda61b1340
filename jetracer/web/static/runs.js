// Runs page: the pilot's telemetry logs as line plots on a <canvas> (no chart library).
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };

  function plot(canvas, t, series, colors, fixed) {
    var w = canvas.width = canvas.clientWidth, h = canvas.height = canvas.clientHeight;
    var ctx = canvas.getContext("2d"); ctx.clearRect(0, 0, w, h);
    var lo = fixed ? fixed[0] : Infinity, hi = fixed ? fixed[1] : -Infinity;
    if (!fixed) series.forEach(function (s) { s.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    if (!isFinite(lo) || !t.length) { ctx.fillStyle = "#888"; ctx.fillText("no data", 10, 20); return; }
    if (hi - lo < 1e-6) { hi = lo + 1; }
    var t0 = t[0], t1 = t[t.length - 1] - t0 || 1, pad = 28;
    var X = function (v) { return pad + (v - t0) / t1 * (w - pad - 4); }, Y = function (v) { return h - 14 - (v - lo) / (hi - lo) * (h - 24); };
    ctx.strokeStyle = "#333"; ctx.fillStyle = "#888"; ctx.font = "10px monospace";
    [lo, (lo + hi) / 2, hi].forEach(function (v) { ctx.beginPath(); ctx.moveTo(pad, Y(v)); ctx.lineTo(w, Y(v)); ctx.stroke(); ctx.fillText(v.toFixed(2), 0, Y(v) + 3); });
    ctx.fillText(t1.toFixed(1) + " s", w - 40, h - 2);
    series.forEach(function (s, k) {
      ctx.strokeStyle = colors[k]; ctx.beginPath(); var up = false;
      s.forEach(function (v, i) { if (v === null) { up = false; return; } if (up) ctx.lineTo(X(t[i]), Y(v)); else ctx.moveTo(X(t[i]), Y(v)); up = true; });
      ctx.stroke();
    });
  }

  function show(name) {
    if (!name) return;
    JR.api("/api/run?name=" + encodeURIComponent(name)).then(function (r) {
      $("summary").textContent = r.frames + " frames" + (r.bad_lines ? " · " + r.bad_lines + " unreadable lines skipped" : "");
      $("stop").textContent = r.stop_reason ? "stop reason: " + r.stop_reason : "";
      plot($("p-cmd"), r.t, [r.steering, r.throttle], ["#4aa3ff", "#ff9f40"], [-1, 1]);
      plot($("p-lat"), r.t, [r.latency_ms], ["#c0c0c0"]);
      plot($("p-fps"), r.t, [r.fps], ["#6fd36f"]);
      $("events").innerHTML = "";
      r.events.slice(-30).forEach(function (e) {
        var d = document.createElement("div"); d.textContent = JSON.stringify(e); $("events").appendChild(d);
      });
    }, function (e) { $("summary").textContent = e.message; });
  }

  function list() {
    JR.api("/api/runs").then(function (d) {
      var sel = $("run"), keep = sel.value; sel.innerHTML = "";
      d.runs.forEach(function (r) {
        var o = document.createElement("option"); o.value = r.name;
        o.textContent = r.name + " (" + Math.round(r.bytes / 1024) + " kB, " + new Date(r.mtime * 1000).toLocaleString() + ")";
        sel.appendChild(o);
      });
      if (keep) sel.value = keep;
      if (!d.runs.length) $("summary").textContent = "no telemetry logs yet: drive, or set [pilot] log_path";
      show(sel.value);
    });
  }
  $("run").onchange = function () { show($("run").value); };
  $("reload").onclick = list;
  list();
  JR.start();
})();
