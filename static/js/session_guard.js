/* Self-saving pages never lose a keystroke (the server's half is spasticity/session_guard.py).
 *
 * - Keep-alive: on a page that saves itself (an element with hx-post in <main>: the tone grid,
 *   the refill and dose-change previews), activity pings the server at most once a minute, so
 *   the idle timeout never ends a session that is being worked in. The server still ends it at
 *   its absolute limit; coming back to the tab pings at once, to say so before typing starts.
 * - A save refused because the session has ended (401, or a login page reached by a redirect)
 *   or by the form token (403 "csrf") is never swapped into the page: the cell or form turns
 *   red and says "Not saved: sign in again", the value stays, and a dialog offers to sign in.
 *   A token refusal is first retried once with the session's current token (signing in again
 *   in another tab rotates it).
 * - The unsaved values are kept in this tab's sessionStorage until the same user is back on
 *   the same page, which puts them back and sends them again (a grid cell with the version it
 *   was typed against, so an edit made meanwhile by someone else is reported, not overwritten).
 *   A different user signing in never receives them.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var PING_URL = script.dataset.pingUrl;
  var LOGIN_URL = script.dataset.loginUrl;
  var USER = script.dataset.user || "";
  var PAGE = location.pathname + location.search;
  var STORE_KEY = "itb-unsaved:" + PAGE;
  var PING_EVERY_MS = 60 * 1000;
  var RETURN_PING_AFTER_MS = 5 * 1000;
  var KEEP_UNSAVED_MS = 12 * 60 * 60 * 1000;
  var SIGNED_OUT_MESSAGE = "Not saved: sign in again.";
  var FIELD_TAGS = ["INPUT", "SELECT", "TEXTAREA"];
  var SKIPPED_TYPES = ["hidden", "file", "submit", "button", "password"];

  var lastPingAt = Date.now();
  var signedOut = false;
  var dialog = null;
  var banner = null;

  function selfSaving() {
    return document.querySelector("main [hx-post]") !== null;
  }

  function parseJson(text) {
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  // --- The session's form token ------------------------------------------------------
  function useCsrfToken(token) {
    if (!token) {
      return;
    }
    var headers = parseJson(document.body.getAttribute("hx-headers") || "{}") || {};
    headers["X-CSRFToken"] = token;
    document.body.setAttribute("hx-headers", JSON.stringify(headers));
    document.querySelectorAll('input[name="csrfmiddlewaretoken"]').forEach(function (input) {
      input.value = token;
    });
  }

  // --- Keep-alive ----------------------------------------------------------------------
  /* Resolves true while signed in, false once signed out, null when the server can't be reached. */
  function ping() {
    lastPingAt = Date.now();
    return fetch(PING_URL, { credentials: "same-origin", cache: "no-store", redirect: "manual" })
      .then(function (response) {
        if (response.status === 204) {
          signedOut = false;
          if (banner) {
            banner.remove();
            banner = null;
          }
          useCsrfToken(response.headers.get("X-CSRFToken"));
          return true;
        }
        if (response.status === 401) {
          showSignedOut();
          return false;
        }
        return null;
      })
      .catch(function () {
        return null;
      });
  }

  function onActivity() {
    if (USER && selfSaving() && Date.now() - lastPingAt > PING_EVERY_MS) {
      ping();
    }
  }

  ["keydown", "pointerdown", "input"].forEach(function (name) {
    document.addEventListener(name, onActivity, { passive: true, capture: true });
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && USER && selfSaving() && Date.now() - lastPingAt > RETURN_PING_AFTER_MS) {
      ping();
    }
  });

  // --- What was not saved --------------------------------------------------------------
  function readStore() {
    var stored = parseJson(sessionStorage.getItem(STORE_KEY) || "null");
    if (!stored || Date.now() - stored.savedAt > KEEP_UNSAVED_MS) {
      return null;
    }
    return stored;
  }

  function remember(entries) {
    var stored = readStore() || { user: USER, savedAt: Date.now(), entries: [] };
    entries.forEach(function (entry) {
      stored.entries = stored.entries.filter(function (kept) {
        return kept.id !== entry.id;
      });
      stored.entries.push(entry);
    });
    stored.savedAt = Date.now();
    sessionStorage.setItem(STORE_KEY, JSON.stringify(stored));
  }

  function forget(id) {
    var stored = readStore();
    if (!stored) {
      return;
    }
    stored.entries = stored.entries.filter(function (kept) {
      return kept.id !== id;
    });
    if (stored.entries.length) {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(stored));
    } else {
      sessionStorage.removeItem(STORE_KEY);
    }
  }

  function isField(element) {
    return FIELD_TAGS.indexOf(element.tagName) !== -1;
  }

  function fieldEntry(field, kind) {
    var entry = { id: field.id, kind: kind, value: field.value };
    if (field.type === "checkbox" || field.type === "radio") {
      entry.checked = field.checked;
    }
    if (kind === "cell") {
      var vals = parseJson(field.getAttribute("hx-vals") || "{}") || {};
      entry.version = vals.version;
    }
    return entry;
  }

  function formEntries(form) {
    return Array.prototype.filter
      .call(form.elements, function (field) {
        return isField(field) && field.id && field.name && SKIPPED_TYPES.indexOf(field.type) === -1;
      })
      .map(function (field) {
        return fieldEntry(field, "field");
      });
  }

  function includedForm(element) {
    var selector = element.getAttribute("hx-include");
    var included = selector ? document.querySelector(selector) : null;
    return included && included.tagName === "FORM" ? included : element.closest("form");
  }

  function notice(message) {
    var box = document.createElement("div");
    box.className = "invalid-feedback d-block not-saved-message";
    box.setAttribute("role", "alert");
    box.dataset.testid = "not-saved";
    box.textContent = message;
    return box;
  }

  /* Turn the field (or the form a preview reads) red, say why, and keep its values. */
  function markUnsaved(element, message) {
    if (isField(element)) {
      element.classList.add("is-invalid", "not-saved");
      element.setAttribute("aria-invalid", "true");
      var old = element.parentNode.querySelector(".not-saved-message");
      if (old) {
        old.remove();
      }
      element.insertAdjacentElement("afterend", notice(message));
      if (element.id) {
        remember([fieldEntry(element, "cell")]);
      }
      return;
    }
    var form = element.tagName === "FORM" ? element : includedForm(element);
    if (form) {
      form.classList.add("not-saved");
      remember(formEntries(form));
    }
    if (element.tagName !== "FORM") {
      element.replaceChildren(notice(message));
    } else {
      var existing = form.querySelector(":scope > .not-saved-message");
      if (existing) {
        existing.remove();
      }
      form.prepend(notice(message));
    }
  }

  function clearUnsaved(element) {
    if (isField(element) && element.classList.contains("not-saved")) {
      element.classList.remove("is-invalid", "not-saved");
      element.removeAttribute("aria-invalid");
      forget(element.id);
    }
    var form = isField(element) ? null : includedForm(element);
    if (form && form.classList.contains("not-saved")) {
      form.classList.remove("not-saved");
    }
  }

  // --- The sign-in dialog --------------------------------------------------------------
  function signInUrl() {
    return LOGIN_URL + "?next=" + encodeURIComponent(PAGE);
  }

  function buildDialog() {
    var box = document.createElement("dialog");
    box.className = "session-dialog";
    box.dataset.testid = "session-dialog";
    box.setAttribute("aria-labelledby", "session-dialog-title");
    var title = document.createElement("h2");
    title.className = "h5";
    title.id = "session-dialog-title";
    title.textContent = "Your session has ended";
    var text = document.createElement("p");
    text.textContent =
      SIGNED_OUT_MESSAGE +
      " What you typed stays on this page: sign in and you come back here with it, and it is sent again.";
    var actions = document.createElement("div");
    actions.className = "d-flex flex-wrap gap-2";
    var signIn = document.createElement("a");
    signIn.className = "btn btn-primary";
    signIn.textContent = "Sign in again";
    signIn.href = signInUrl();
    var close = document.createElement("button");
    close.type = "button";
    close.className = "btn btn-outline-secondary";
    close.textContent = "Not now";
    close.addEventListener("click", function () {
      box.dataset.dismissed = "true";
      box.close();
    });
    box.addEventListener("cancel", function () {
      box.dataset.dismissed = "true";
    });
    actions.append(signIn, close);
    box.append(title, text, actions);
    document.body.append(box);
    return box;
  }

  function buildBanner() {
    var box = document.createElement("div");
    box.className = "alert alert-danger signed-out-banner d-flex flex-wrap align-items-center gap-2";
    box.setAttribute("role", "alert");
    box.dataset.testid = "signed-out-banner";
    var text = document.createElement("span");
    text.textContent = SIGNED_OUT_MESSAGE + " What you type is kept on this page.";
    var signIn = document.createElement("a");
    signIn.className = "btn btn-sm btn-danger";
    signIn.textContent = "Sign in again";
    signIn.href = signInUrl();
    box.append(text, signIn);
    var main = document.querySelector("main");
    (main || document.body).prepend(box);
    return box;
  }

  /* The dialog, unless it was put aside ("Not now"): then a banner, so that each further
   * keystroke does not reopen it. Saving a form (force) always asks again. */
  function showSignedOut(force) {
    signedOut = true;
    dialog = dialog || buildDialog();
    if (dialog.open) {
      return;
    }
    if (dialog.dataset.dismissed && !force) {
      banner = banner || buildBanner();
      return;
    }
    dialog.showModal();
  }

  // --- Refused htmx requests -----------------------------------------------------------
  function reachedLoginPage(xhr) {
    try {
      return new URL(xhr.responseURL, location.href).pathname === LOGIN_URL;
    } catch (error) {
      return false;
    }
  }

  function resend(element, triggeringEvent) {
    if (triggeringEvent && triggeringEvent.target && triggeringEvent.type !== "load") {
      triggeringEvent.target.dispatchEvent(new Event(triggeringEvent.type, { bubbles: true }));
    } else {
      htmx.trigger(element, "change");
    }
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var config = event.detail.requestConfig || {};
    var element = config.elt || event.target;
    var status = xhr.status;
    var data = parseJson(xhr.responseText) || {};
    var signedOutNow = status === 401 || (status < 400 && reachedLoginPage(xhr));
    if (!signedOutNow && status !== 403) {
      if (status < 400) {
        element.itbRetried = false;
        clearUnsaved(element);
      }
      return;
    }
    // Never put a login or error page inside a fragment.
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    if (status === 403 && data.error === "csrf") {
      if (element.itbRetried) {
        signedOutNow = true;
      } else {
        element.itbRetried = true;
        ping().then(function (signedIn) {
          if (signedIn) {
            resend(element, config.triggeringEvent);
          } else {
            markUnsaved(element, SIGNED_OUT_MESSAGE);
          }
        });
        return;
      }
    }
    if (signedOutNow) {
      markUnsaved(element, SIGNED_OUT_MESSAGE);
      showSignedOut();
      return;
    }
    markUnsaved(element, data.detail || "Not saved: your role does not allow this.");
  });

  document.addEventListener("htmx:afterRequest", function () {
    lastPingAt = Date.now();
  });

  // A plain form posted once the session is known to have ended would land on the login page
  // and lose what was typed: keep it, and offer the sign-in instead.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!signedOut || !form.closest("main") || (form.getAttribute("method") || "").toLowerCase() !== "post") {
      return;
    }
    event.preventDefault();
    markUnsaved(form, SIGNED_OUT_MESSAGE);
    showSignedOut(true);
  });

  // --- Back on the page after signing in again -----------------------------------------
  function restore() {
    var stored = readStore();
    if (!stored || !USER) {
      return;
    }
    sessionStorage.removeItem(STORE_KEY);
    if (stored.user !== USER) {
      return; // Someone else's unsaved entries are never sent under this user's name.
    }
    var cells = [];
    var fields = 0;
    stored.entries.forEach(function (entry) {
      var field = entry.id ? document.getElementById(entry.id) : null;
      if (!field || field.disabled || field.readOnly) {
        return;
      }
      if (entry.checked !== undefined) {
        field.checked = entry.checked;
      } else {
        field.value = entry.value;
      }
      if (entry.kind === "cell") {
        var vals = parseJson(field.getAttribute("hx-vals") || "{}") || {};
        if (entry.version !== undefined) {
          vals.version = entry.version;
        }
        field.setAttribute("hx-vals", JSON.stringify(vals));
        cells.push(field);
      } else {
        fields += 1;
      }
    });
    if (!cells.length && !fields) {
      return;
    }
    var banner = document.createElement("div");
    banner.className = "alert alert-info";
    banner.setAttribute("role", "status");
    banner.dataset.testid = "restored-banner";
    banner.textContent = cells.length
      ? "Signed in again: what you typed before your session ended was put back and sent again."
      : "Signed in again: what you typed before your session ended was put back. Check it, then save.";
    var main = document.querySelector("main");
    if (main) {
      main.prepend(banner);
    }
    // After htmx has set up the page (its triggers listen from DOMContentLoaded on).
    document.addEventListener("DOMContentLoaded", function () {
      setTimeout(function () {
        cells.forEach(function (cell) {
          htmx.trigger(cell, "change");
        });
      }, 0);
    });
  }

  // Runs before htmx processes the page, so a preview's "load" request carries the values put back.
  restore();
})();
