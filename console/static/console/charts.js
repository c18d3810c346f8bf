/* Charts of the market page and the regulator dashboard (Apache ECharts, served by the project). */
(function () {
  "use strict";
  var zh = document.documentElement.lang !== "en";
  function get(url) { return fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }); }
  function chart(id) { var el = document.getElementById(id); return el ? echarts.init(el) : null; }
  function resizeAll(charts) { window.addEventListener("resize", function () { charts.forEach(function (c) { c && c.resize(); }); }); }

  function marketPage() {
    var el = document.getElementById("candles"); if (!el) return;
    var candles = chart("candles"), depth = chart("depth");
    resizeAll([candles, depth]);
    function load() {
      get(el.dataset.src).then(function (d) {
        var days = d.candles.map(function (c) { return c.day; });
        candles.setOption({
          animation: false, tooltip: {trigger: "axis"}, grid: [{left: 60, right: 16, top: 16, height: "58%"}, {left: 60, right: 16, top: "78%", height: "14%"}],
          xAxis: [{type: "category", data: days}, {type: "category", data: days, gridIndex: 1, axisLabel: {show: false}}],
          yAxis: [{scale: true, name: zh ? "元" : "CNY"}, {gridIndex: 1, name: d.unit, splitNumber: 2}],
          series: [
            {name: zh ? "日K" : "OHLC", type: "candlestick", data: d.candles.map(function (c) { return [c.open, c.close, c.low, c.high]; }),
             itemStyle: {color: "#c0392b", color0: "#1e8449", borderColor: "#c0392b", borderColor0: "#1e8449"}},
            {name: zh ? "成交量" : "Volume", type: "bar", xAxisIndex: 1, yAxisIndex: 1, data: d.candles.map(function (c) { return c.volume; })}
          ]
        });
        function cumulative(levels, reverse) {
          var total = 0, out = levels.map(function (l) { total += parseFloat(l.quantity); return [parseFloat(l.price), total]; });
          return reverse ? out.reverse() : out;
        }
        depth.setOption({
          animation: false, tooltip: {trigger: "axis"}, grid: {left: 60, right: 16, top: 24, bottom: 30},
          xAxis: {type: "value", scale: true, name: zh ? "元" : "CNY"}, yAxis: {type: "value", name: d.unit},
          series: [
            {name: zh ? "买盘" : "Bids", type: "line", step: "end", areaStyle: {}, color: "#1e8449", data: cumulative(d.depth.bids, true)},
            {name: zh ? "卖盘" : "Asks", type: "line", step: "start", areaStyle: {}, color: "#c0392b", data: cumulative(d.depth.asks, false)}
          ]
        });
      });
    }
    load(); setInterval(load, 10000);
  }

  function regulatorPage() {
    var el = document.getElementById("sankey"); if (!el) return;
    var sankey = chart("sankey"), volume = chart("volume");
    resizeAll([sankey, volume]);
    get(el.dataset.src).then(function (d) {
      sankey.setOption({
        animation: false, tooltip: {trigger: "item"},
        series: [{type: "sankey", data: d.sankey.nodes, links: d.sankey.links, emphasis: {focus: "adjacency"},
                  nodeAlign: "justify", lineStyle: {color: "gradient", curveness: 0.5}, label: {fontSize: 12}}]
      });
      var table = document.getElementById("flow-table");
      if (table) {
        var rows = d.flows.map(function (f) {
          return "<tr><td>" + f.right_type + "</td><td>" + f.origin_name + "</td><td>" + f.destination_name +
            "</td><td class='num'>" + f.trades + "</td><td class='num'>" + f.quantity + "</td><td class='num'>" + f.value + "</td></tr>";
        });
        table.innerHTML = "<table class='data'><thead><tr><th>" + (zh ? "类型" : "type") + "</th><th>" + (zh ? "出让" : "from") +
          "</th><th>" + (zh ? "受让" : "to") + "</th><th class='num'>" + (zh ? "笔数" : "trades") + "</th><th class='num'>" +
          (zh ? "数量" : "quantity") + "</th><th class='num'>" + (zh ? "金额（元）" : "value (CNY)") + "</th></tr></thead><tbody>" + rows.join("") + "</tbody></table>";
      }
      var months = [], types = [], byKey = {};
      d.volume.forEach(function (v) {
        var m = String(v.period).slice(0, 7);
        if (months.indexOf(m) < 0) months.push(m);
        if (types.indexOf(v.right_type) < 0) types.push(v.right_type);
        var k = m + "|" + v.right_type, e = byKey[k] || (byKey[k] = {value: 0, volume: 0, vwap: null});
        e.value += parseFloat(v.value); e.volume += parseFloat(v.volume); e.vwap = v.vwap;
      });
      months.sort();
      var series = [];
      types.forEach(function (t) {
        series.push({name: t + (zh ? " 成交额" : " value"), type: "bar", stack: "value",
                     data: months.map(function (m) { var e = byKey[m + "|" + t]; return e ? e.value : 0; })});
        series.push({name: t + " VWAP", type: "line", yAxisIndex: 1,
                     data: months.map(function (m) { var e = byKey[m + "|" + t]; return e && e.vwap ? parseFloat(e.vwap) : null; })});
      });
      volume.setOption({
        animation: false, tooltip: {trigger: "axis"}, legend: {type: "scroll", bottom: 0},
        grid: {left: 70, right: 60, top: 40, bottom: 60}, xAxis: {type: "category", data: months},
        yAxis: [{type: "value", name: zh ? "成交额（元）" : "value (CNY)"}, {type: "log", name: "VWAP"}], series: series
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { marketPage(); regulatorPage(); });
})();
