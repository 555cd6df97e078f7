// Refill and dose-change forms with a live preview: a field's error from the last save goes
// as soon as the field is changed (the preview beside Save re-checks it at once, so a value
// still wrong is reported there). Fields the session guard marked "not saved" keep their mark.
(function () {
  "use strict";
  document.querySelectorAll("form[data-preview-form]").forEach(function (form) {
    function clearErrorOf(event) {
      var field = event.target;
      var wrapper = field && field.closest ? field.closest('[id^="div_id_"]') : null;
      if (!wrapper || field.classList.contains("not-saved")) {
        return;
      }
      wrapper.querySelectorAll(".invalid-feedback:not(.not-saved-message)").forEach(function (message) {
        message.remove();
      });
      wrapper.querySelectorAll(".is-invalid:not(.not-saved)").forEach(function (input) {
        input.classList.remove("is-invalid");
        input.removeAttribute("aria-invalid");
      });
    }
    form.addEventListener("input", clearErrorOf);
    form.addEventListener("change", clearErrorOf);
  });
})();
