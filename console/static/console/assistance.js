/* The paired-assistance page's chart (Apache ECharts, served by the project): paid against the annual
   minimum and the pro-rata expectation, per pair. Geometry only; the table beside it has the exact amounts. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("assistance-chart"); if (!el) return;
    var zh = document.documentElement.lang !== "en";
    var chart = echarts.init(el);
    window.addEventListener("resize", function () { chart.resize(); });
    fetch(el.dataset.src, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      var labels = d.pairs.map(function (p) { return p.label; });
      function col(key) { return d.pairs.map(function (p) { return p[key]; }); }
      chart.setOption({
        animation: false, tooltip: {trigger: "axis"}, legend: {bottom: 0},
        grid: {left: 90, right: 20, top: 20, bottom: 70}, xAxis: {type: "category", data: labels, axisLabel: {interval: 0, fontSize: 11}},
        yAxis: {type: "value", name: zh ? "元" : "CNY"},
        series: [
          {name: zh ? "已付" : "Paid", type: "bar", data: col("paid"), color: "#0b5cad"},
          {name: zh ? "按进度应付" : "Expected to date", type: "bar", data: col("expected"), color: "#f5a623"},
          {name: zh ? "年度应付" : "Annual minimum", type: "line", data: col("minimum"), color: "#c0392b", symbol: "diamond"}
        ]
      });
    });
  });
})();
