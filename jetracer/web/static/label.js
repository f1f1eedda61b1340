// Label page: a click on the live picture saves that very frame (by its sequence number) with the
// clicked pixel as its label, JetRacer's XY dataset layout.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var video = $("video");
  JR.attachVideo(video, $("age"));

  function showCounts(counts) {
    var rows = Object.keys(counts).sort().map(function (k) { return "<tr><td>" + k + "</td><td>" + counts[k] + "</td></tr>"; });
    $("counts").innerHTML = rows.join("") || "<tr><td>no samples yet</td></tr>";
  }
  function setCategories(list, chosen) {
    var sel = $("category"), keep = chosen || sel.value;
    sel.innerHTML = "";
    list.forEach(function (c) { var o = document.createElement("option"); o.value = o.textContent = c; sel.appendChild(o); });
    if (keep) sel.value = keep;
  }
  function refresh(chosen) {
    JR.api("/api/data").then(function (d) {
      var cats = d.categories.slice();
      if (cats.indexOf(d.default_category) < 0) cats.push(d.default_category);
      setCategories(cats, chosen || $("category").value || d.default_category);
      showCounts(d.counts);
    });
  }
  $("addcat").onclick = function () {
    var name = $("newcat").value.trim(); if (!name) return;
    var opts = Array.prototype.map.call($("category").options, function (o) { return o.value; });
    if (opts.indexOf(name) < 0) opts.push(name);
    setCategories(opts, name); $("newcat").value = "";
  };
  video.addEventListener("click", function (ev) {
    if (!JR.seq) { $("msg").textContent = "no picture yet"; return; }
    var p = JR.pixelAt(video, ev, JR.frameWidth, JR.frameHeight);
    var r = video.getBoundingClientRect(), mark = $("mark");
    mark.style.left = (ev.clientX - r.left) + "px"; mark.style.top = (ev.clientY - r.top) + "px"; mark.style.display = "block";
    JR.api("/api/label", {seq: JR.seq, x: p.x, y: p.y, category: $("category").value}).then(function (d) {
      $("msg").textContent = "saved " + d.saved; showCounts(d.counts);
    }, function (e) { $("msg").textContent = e.message; });
  });
  $("undo").onclick = function () {
    JR.api("/api/undo", {}).then(function (d) { $("msg").textContent = "moved to the trash: " + d.undone; showCounts(d.counts); },
                                 function (e) { $("msg").textContent = e.message; });
  };
  refresh();
  JR.start();
})();
