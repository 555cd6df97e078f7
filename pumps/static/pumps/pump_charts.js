// Pump page charts: daily dose over time and the projected reservoir volume.
// The numbers come from the server (pumps.dosing) through json_script; this file only draws.
(function () {
  "use strict";
  var source = document.getElementById("pump-chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);

  function toPoint(point) { return { x: Date.parse(point.x), y: point.y }; }
  function dateLabel(value) { return new Date(value).toISOString().slice(0, 10); }
  var timeAxis = {
    type: "linear",
    ticks: { callback: dateLabel, maxTicksLimit: 8 },
  };
  var common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    parsing: false,
    plugins: {
      legend: { display: true },
      tooltip: { callbacks: { title: function (items) { return items.length ? dateLabel(items[0].parsed.x) : ""; } } },
    },
  };

  var doseCanvas = document.getElementById("dose-chart");
  if (doseCanvas && data.dose.length) {
    new Chart(doseCanvas, {
      type: "line",
      data: { datasets: [{ label: "Daily dose (mcg/day)", data: data.dose.map(toPoint), stepped: "after", pointRadius: 3, borderColor: "#0d6efd" }] },
      options: Object.assign({}, common, { scales: { x: timeAxis, y: { beginAtZero: true } } }),
    });
  }

  var volumeCanvas = document.getElementById("volume-chart");
  if (volumeCanvas && data.volume.length) {
    var volume = data.volume.map(toPoint);
    var alarmLine = [
      { x: volume[0].x, y: data.alarm_ml },
      { x: volume[volume.length - 1].x, y: data.alarm_ml },
    ];
    new Chart(volumeCanvas, {
      type: "line",
      data: {
        datasets: [
          { label: "Projected volume (mL)", data: volume, pointRadius: 0, borderColor: "#198754" },
          { label: "Low-reservoir alarm (mL)", data: alarmLine, pointRadius: 0, borderColor: "#dc3545", borderDash: [6, 4] },
        ],
      },
      options: Object.assign({}, common, { scales: { x: timeAxis, y: { beginAtZero: true } } }),
    });
  }
})();
