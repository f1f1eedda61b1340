// Data page: the dataset as a grid with each label drawn; click to re-label, delete to the trash.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var LIMIT = 300;

  function cell(s, trash) {
    var div = document.createElement("div"); div.className = "cell"; div.dataset.path = s.path;
    var img = document.createElement("img");
    img.src = "/api/img?path=" + encodeURIComponent(s.path) + (trash ? "&trash=1" : "");
    var dot = document.createElement("span"); dot.className = "dot";
    function place(x, y) {
      if (!img.naturalWidth) return;
      dot.style.left = (x / img.naturalWidth * 150) + "px"; dot.style.top = (y / img.naturalHeight * 150) + "px";
    }
    img.onload = function () { place(s.x, s.y); };
    var bar = document.createElement("div"); bar.className = "bar";
    var label = document.createElement("span"); label.textContent = s.category + " " + s.x + "," + s.y;
    var btn = document.createElement("button"); btn.textContent = trash ? "Restore" : "Delete";
    btn.onclick = function () {
      JR.api(trash ? "/api/restore" : "/api/delete", {path: s.path}).then(function () {
        $("msg").textContent = (trash ? "restored " : "moved to the trash: ") + s.path; load();
      }, function (e) { $("msg").textContent = e.message; });
    };
    if (!trash) img.onclick = function (ev) {
      var p = JR.pixelAt(img, ev, img.naturalWidth, img.naturalHeight);
      JR.api("/api/relabel", {path: s.path, x: p.x, y: p.y}).then(function (d) {
        s.path = d.path; s.x = p.x; s.y = p.y; div.dataset.path = d.path;
        label.textContent = s.category + " " + p.x + "," + p.y; place(p.x, p.y);
        $("msg").textContent = "re-labelled: " + d.path;
      }, function (e) { $("msg").textContent = e.message; });
    };
    bar.appendChild(label); bar.appendChild(btn);
    div.appendChild(img); div.appendChild(dot); div.appendChild(bar);
    return div;
  }

  function load() {
    var trash = $("trash").checked, cat = $("filter").value;
    JR.api("/api/data?trash=" + (trash ? 1 : 0) + (cat ? "&category=" + encodeURIComponent(cat) : "")).then(function (d) {
      var sel = $("filter"), keep = sel.value;
      sel.innerHTML = '<option value="">all</option>';
      d.categories.forEach(function (c) { var o = document.createElement("option"); o.value = o.textContent = c; sel.appendChild(o); });
      sel.value = keep;
      var counts = Object.keys(d.counts).map(function (k) { return k + " " + d.counts[k]; }).join(", ");
      $("summary").textContent = d.samples.length + " samples" + (counts ? " (" + counts + ")" : "") + " · trash " +
        d.trash_count + (d.samples.length > LIMIT ? " · showing the newest " + LIMIT : "");
      $("warnings").textContent = d.warnings.slice(0, 10).join(" · ") + (d.warnings.length > 10 ? " …" : "");
      var grid = $("grid"); grid.innerHTML = "";
      d.samples.sort(function (a, b) { return b.mtime - a.mtime; }).slice(0, LIMIT).forEach(function (s) {
        grid.appendChild(cell(s, trash));
      });
    }, function (e) { $("msg").textContent = e.message; });
  }
  $("filter").onchange = load; $("trash").onchange = load;
  load();
  JR.start();
})();
