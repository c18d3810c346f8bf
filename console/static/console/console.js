/* Small behaviours of every console page (no inline scripts: the pages work under a strict CSP). */
(function () {
  "use strict";
  function countdowns() {
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var end = new Date(el.getAttribute("datetime")), label = el.textContent;
      function tick() {
        var s = Math.max(0, Math.floor((end - new Date()) / 1000));
        var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
        el.textContent = label + " (" + (s ? (d ? d + "d " : "") + h + "h " + m + "m " + r + "s" : "0s") + ")";
      }
      tick(); setInterval(tick, 1000);
    });
  }
  document.addEventListener("DOMContentLoaded", countdowns);
})();
