// Titration visit form: shows the field of the chosen mode and edits flex steps on a 24-hour bar.
// It only edits the steps; the daily dose, the change % and the dates come from the server
// preview (pumps.dosing), never from arithmetic here.
(function () {
  "use strict";
  var form = document.getElementById("dose-form");
  if (!form) { return; }
  var editor = document.getElementById("flex-editor");
  var raw = document.getElementById(editor ? editor.dataset.target : "");
  var rowsBody = editor ? editor.querySelector("[data-flex-rows]") : null;
  var day = editor ? editor.querySelector("[data-flex-day]") : null;

  function currentMode() {
    var checked = form.querySelector("input[name=mode]:checked");
    return checked ? checked.value : "simple_continuous";
  }

  function showMode() {
    var mode = currentMode();
    form.querySelectorAll("[data-mode-panel]").forEach(function (panel) {
      panel.classList.toggle("d-none", panel.dataset.modePanel !== mode);
    });
    if (mode === "flex" && rowsBody && !rowsBody.children.length) {
      addRow("00:00", "");
    }
  }

  function readSteps() {
    try {
      var steps = JSON.parse(raw.value || "[]");
      return Array.isArray(steps) ? steps : [];
    } catch (error) {
      return [];
    }
  }

  function minutes(text) {
    var match = /^(\d{2}):(\d{2})$/.exec(text || "");
    return match ? parseInt(match[1], 10) * 60 + parseInt(match[2], 10) : null;
  }

  // Draw each step as a bar from its start to the next start, its height scaled to the
  // highest rate: a picture of the program, not a calculation of the dose.
  function drawDay(steps) {
    if (!day) { return; }
    day.replaceChildren();
    var rates = steps.map(function (s) { return parseFloat(s.rate_mcg_per_hour) || 0; });
    var top = Math.max.apply(null, rates.concat([1]));
    steps.forEach(function (step, index) {
      var start = minutes(step.start_time);
      var next = index + 1 < steps.length ? minutes(steps[index + 1].start_time) : 1440;
      if (start === null || next === null || next <= start) { return; }
      var bar = document.createElement("div");
      bar.className = "flex-bar";
      bar.style.left = (start / 1440) * 100 + "%";
      bar.style.width = ((next - start) / 1440) * 100 + "%";
      bar.style.height = Math.max(8, (rates[index] / top) * 70) + "%";
      var label = document.createElement("span");
      label.textContent = step.rate_mcg_per_hour + " mcg/h";
      bar.appendChild(label);
      day.appendChild(bar);
    });
  }

  function sync() {
    var steps = Array.prototype.map.call(rowsBody.querySelectorAll("tr"), function (row) {
      return {
        start_time: row.querySelector("[data-start]").value,
        rate_mcg_per_hour: row.querySelector("[data-rate]").value,
      };
    });
    raw.value = JSON.stringify(steps);
    drawDay(steps);
    raw.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function addRow(start, rate) {
    var row = document.createElement("tr");
    var startCell = document.createElement("td");
    var startInput = document.createElement("input");
    startInput.type = "time";
    startInput.step = "60";
    startInput.required = true;
    startInput.className = "form-control form-control-sm";
    startInput.value = start;
    startInput.dataset.start = "";
    startInput.setAttribute("aria-label", "Step start time");
    startCell.appendChild(startInput);
    var rateCell = document.createElement("td");
    var rateInput = document.createElement("input");
    rateInput.type = "number";
    rateInput.step = "any";
    rateInput.min = "0";
    rateInput.className = "form-control form-control-sm";
    rateInput.value = rate;
    rateInput.dataset.rate = "";
    rateInput.setAttribute("aria-label", "Rate in mcg per hour");
    rateCell.appendChild(rateInput);
    var removeCell = document.createElement("td");
    var remove = document.createElement("button");
    remove.type = "button";
    remove.className = "btn btn-sm btn-outline-danger";
    remove.textContent = "Remove";
    remove.addEventListener("click", function () { row.remove(); sync(); });
    removeCell.appendChild(remove);
    row.append(startCell, rateCell, removeCell);
    row.addEventListener("input", sync);
    rowsBody.appendChild(row);
  }

  if (editor && raw && rowsBody) {
    editor.hidden = false;
    var rawPanel = form.querySelector("[data-flex-raw]");
    if (rawPanel) { rawPanel.classList.add("d-none"); }
    readSteps().forEach(function (step) { addRow(step.start_time, step.rate_mcg_per_hour); });
    drawDay(readSteps());
    editor.querySelector("[data-flex-add]").addEventListener("click", function () { addRow("", ""); sync(); });
  }
  form.querySelectorAll("input[name=mode]").forEach(function (input) { input.addEventListener("change", showMode); });
  showMode();
})();
