// opp console: expiry countdowns and the live queue. No inline scripts (CSP script-src 'self').
(function () {
  "use strict";

  function left(ms) {
    if (ms <= 0) { return "expired"; }
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600);
    var m = Math.floor(s % 3600 / 60), r = s % 60;
    if (d > 0) { return d + "d " + h + "h"; }
    if (h > 0) { return h + "h " + m + "m"; }
    return m + "m " + (r < 10 ? "0" : "") + r + "s";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (!isNaN(at)) {
        el.textContent = left(at - now);
        el.title = el.getAttribute("datetime");
        el.classList.toggle("soon", at - now < 15 * 60 * 1000);
      }
    });
  }

  function every(body) {
    var ms = parseInt(body.getAttribute("data-poll-ms"), 10);
    return isNaN(ms) || ms < 1000 ? 10000 : ms;
  }

  function poll(body) {
    var url = body.getAttribute("data-live");
    var status = document.getElementById("live-status");
    fetch(url, { credentials: "same-origin", redirect: "manual", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.type === "opaqueredirect" || !response.ok) { throw new Error("signed out"); }
        return response.text();
      })
      .then(function (html) {
        if (html !== body.getAttribute("data-last")) {
          body.innerHTML = html;
          body.setAttribute("data-last", html);
          tick();
        }
        if (status) { status.textContent = "Updated " + new Date().toLocaleTimeString() + "."; }
        window.setTimeout(function () { poll(body); }, every(body));
      })
      .catch(function () {
        if (status) { status.textContent = "Live updates stopped: reload the page (you may need to sign in again)."; }
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 1000);
    document.querySelectorAll("tbody[data-live]").forEach(function (body) {
      window.setTimeout(function () { poll(body); }, every(body));
    });
  });
})();
