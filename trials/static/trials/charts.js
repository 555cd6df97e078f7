/* Line charts from JSON data blocks (json_script), under the site's Content-Security-Policy.
 *
 * A <canvas data-chart-source="ID"> is drawn from the JSON in <script id="ID">:
 *   {"series": [{"label", "points": [{"x", "y"}], "overall"?}], "x_label", "y_label",
 *    and optional axis bounds "y_min", "y_max", "x_suggested_max", "y_suggested_min", …}
 * data-x-type="linear" (minutes) or "category" (dates). Charts are redrawn after htmx swaps,
 * so a grid entry updates the chart as soon as it is saved.
 */
(function () {
  "use strict";
  var PALETTE = ["#212529", "#0d6efd", "#dc3545", "#198754", "#fd7e14", "#6f42c1", "#20c997", "#d63384", "#0dcaf0"];

  function readData(canvas) {
    var source = document.getElementById(canvas.dataset.chartSource);
    return source ? JSON.parse(source.textContent) : null;
  }

  function datasets(data) {
    return data.series.map(function (series, index) {
      var colour = PALETTE[index % PALETTE.length];
      return {
        label: series.label,
        data: series.points,
        borderColor: colour,
        backgroundColor: colour,
        borderWidth: series.overall ? 4 : 2,
        pointRadius: series.overall ? 4 : 3,
        spanGaps: true,
        tension: 0
      };
    });
  }

  function axis(data, name, xType) {
    var scale = { title: { display: true, text: data[name + "_label"] } };
    if (xType) {
      scale.type = xType;
    }
    ["min", "max", "suggested_min", "suggested_max"].forEach(function (key) {
      var value = data[name + "_" + key];
      if (value !== undefined) {
        scale[key.replace("suggested_m", "suggestedM")] = value;
      }
    });
    return scale;
  }

  function options(data, xType) {
    return {
      animation: false,
      maintainAspectRatio: false,
      scales: { x: axis(data, "x", xType), y: axis(data, "y") },
      plugins: { legend: { position: "bottom" } }
    };
  }

  function draw(canvas) {
    var data = readData(canvas);
    if (!data || typeof Chart === "undefined") {
      return;
    }
    var xType = canvas.dataset.xType || "linear";
    var chart = Chart.getChart(canvas);
    if (chart) {
      chart.data.datasets = datasets(data);
      chart.update();
    } else {
      new Chart(canvas, { type: "line", data: { datasets: datasets(data) }, options: options(data, xType) });
    }
    canvas.dataset.rendered = "true";
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart-source]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  document.addEventListener("htmx:afterSettle", drawAll);
})();
