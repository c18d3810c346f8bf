/* The eco-compensation agreement page: monthly indicator values per section (Apache ECharts, served by the project). */
(function () {
  "use strict";
  var el = document.getElementById("indicator-chart"); if (!el) return;
  var chart = echarts.init(el);
  window.addEventListener("resize", function () { chart.resize(); });
  fetch(el.dataset.src, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
    var months = {}, series = [];
    d.sections.forEach(function (s) {
      Object.keys(s.series).forEach(function (code) {
        var pts = s.series[code].points;
        pts.forEach(function (p) { months[p.month] = true; });
        series.push({name: s.code + " " + code + " (" + s.series[code].unit + ")", type: "line", showSymbol: true,
                     data: pts.map(function (p) { return [p.month, parseFloat(p.value)]; })});  // geometry only
      });
    });
    chart.setOption({
      animation: false, tooltip: {trigger: "axis"}, legend: {top: 0}, grid: {left: 50, right: 16, top: 40, bottom: 30},
      xAxis: {type: "category", data: Object.keys(months).sort()}, yAxis: {type: "value"}, series: series
    });
    el.dataset.drawn = String(series.length);
  });
})();
