// Draws the dashboard's charts with Apache ECharts (vendored under static/vendor/echarts).
// The figures come from the JSON block the server rendered (no inline script: strict CSP);
// clicking a bar, point or slice opens the records behind it (the same link as the table's).
(function () {
  "use strict";
  var source = document.getElementById("dashboard-charts");
  if (!source || typeof echarts === "undefined") {
    return;
  }
  var specs = JSON.parse(source.textContent);

  function option(spec) {
    // richText tooltips: ECharts' HTML tooltips use inline style attributes, which the
    // content security policy refuses.
    var base = {
      animation: false,
      tooltip: { trigger: spec.type === "pie" ? "item" : "axis", renderMode: "richText" },
      legend: { top: 0 },
    };
    if (spec.type === "pie") {
      base.series = [{
        type: "pie",
        radius: "60%",
        top: 30,
        name: spec.series[0].name,
        data: spec.categories.map(function (name, i) {
          return { name: name, value: spec.series[0].data[i] };
        }),
      }];
      return base;
    }
    base.grid = { left: 60, right: 20, top: 40, bottom: 60 };
    base.xAxis = { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } };
    base.yAxis = { type: "value" };
    base.series = spec.series.map(function (s) {
      return { type: spec.type, name: s.name, data: s.data };
    });
    return base;
  }

  specs.forEach(function (spec) {
    var node = document.querySelector('[data-chart="' + spec.id + '"]');
    if (!node) {
      return;
    }
    var chart = echarts.init(node);
    node.echartsInstance = chart;
    chart.setOption(option(spec));
    chart.on("click", function (params) {
      var link = spec.links[params.dataIndex];
      if (link) {
        window.location.assign(link);
      }
    });
    node.setAttribute("data-ready", "true");
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
