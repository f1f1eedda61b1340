"use strict";
document.getElementById("login").onsubmit = function (ev) {
  ev.preventDefault();
  var body = new URLSearchParams({token: document.getElementById("token").value});
  fetch("/login", {method: "POST", body: body, credentials: "same-origin"}).then(function (r) {
    if (r.ok) { location.href = "/drive"; return; }
    return r.json().then(function (d) { document.getElementById("err").textContent = d.error || r.statusText; });
  });
};
