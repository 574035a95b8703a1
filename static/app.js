// Guestgate's own script: small enhancements over pages that work without it.
(function () {
  "use strict";

  function announce(text) {
    var el = document.getElementById("live-announcer");
    if (el) { el.textContent = ""; setTimeout(function () { el.textContent = text; }, 50); }
  }

  // Confirmation before destructive plain forms (htmx controls use hx-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  }, true);

  // Copy buttons: copy the value of the field they point to; the field stays selectable as the
  // fallback when the clipboard isn't available.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) { return; }
    event.preventDefault();
    var field = document.getElementById(button.dataset.copyTarget);
    if (!field) { return; }
    var done = function () {
      var label = button.dataset.copiedLabel || "Copied";
      announce(label);
      var original = button.textContent;
      button.textContent = label;
      setTimeout(function () { button.textContent = original; }, 2000);
    };
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy"); done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  function localize(root) {
    // The browser's time zone, for the sign-in form (saved as the owner's zone).
    root.querySelectorAll("input[name=timezone][type=hidden]").forEach(function (input) {
      try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* keep */ }
    });
    // Times rendered in UTC by the server, shown in the reader's own zone.
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) { return; }
      el.textContent = date.toLocaleString(document.documentElement.lang || undefined, {
        weekday: "short", year: "numeric", month: "short", day: "numeric",
        hour: "2-digit", minute: "2-digit", timeZoneName: "short"
      });
    });
    // Focus the first field with an error, so keyboard and screen-reader users land on it.
    var summary = root.querySelector("[data-focus-first-error]");
    if (summary) {
      var invalid = root.querySelector("[aria-invalid=true]");
      (invalid || summary).focus();
    }
  }

  // Live countdowns: data-countdown holds the UTC start; at zero the page asks the server
  // whether the guest may go on (the server decides; the script only asks at the right moment).
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var target = new Date(el.dataset.countdown).getTime();
      var left = Math.max(0, Math.round((target - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600),
          m = Math.floor(left % 3600 / 60), s = left % 60;
      var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
      el.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      if (left === 0 && !el.dataset.fired) {
        el.dataset.fired = "1";
        var poll = document.querySelector("[data-status-poll]");
        if (poll && window.htmx) { window.htmx.trigger(poll, "gg:check"); }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", function (event) { localize(event.target); });
})();
