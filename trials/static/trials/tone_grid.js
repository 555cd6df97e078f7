/* The tone grid: keyboard-first entry that saves each cell as it changes (htmx).
 *
 * - Tab moves across a row (the DOM order is row-major); Enter moves down a column,
 *   Shift+Enter up, which is how a team scores every muscle at one timepoint.
 * - Saves from one grid are queued (hx-sync on the table) so that the response summary of
 *   the last save always reflects every earlier one.
 * - A refused grade comes back as 422 with the cell and its message: swap it in so the
 *   message shows next to the cell (htmx does not swap 4xx answers by default).
 */
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 422) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (event.key !== "Enter" || !(input instanceof HTMLInputElement) || !input.classList.contains("grid-input")) {
      return;
    }
    event.preventDefault();
    var column = Array.prototype.slice.call(
      document.querySelectorAll('input.grid-input[data-column="' + input.dataset.column + '"]')
    );
    var next = column[column.indexOf(input) + (event.shiftKey ? -1 : 1)];
    if (next) {
      next.focus();
      next.select();
    } else {
      input.blur();
    }
  });
})();
