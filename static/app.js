// Guestgate's own script: only what needs one, over pages that work without it — the countdown's
// ticking, Copy buttons, and times in the reader's own zone. Everything else comes from the
// server and htmx: confirmations (hx-confirm), the page title and announcements of the waiting
// room (out-of-band parts of its fragment), focus after a swap (autofocus), the countdown's
// check at the start (hx-trigger "load delay:"), table labels for phones (data-label).
(function () {
  "use strict";

  // The page's one live region (base.html), which fragments also fill out of band.
  function announce(text) {
    var el = document.getElementById("live-announcer");
    if (el) { el.textContent = ""; setTimeout(function () { el.textContent = text; }, 50); }
  }

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
  }

  // Live countdowns: data-countdown holds the UTC start. Only the display: the status poll
  // (guest/_poll.html) asks the server just after the start, timed by the server.
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var target = new Date(el.dataset.countdown).getTime();
      var left = Math.max(0, Math.ceil((target - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600),
          m = Math.floor(left % 3600 / 60), s = left % 60;
      var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
      el.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSwap", function (event) { localize(event.target); });
})();
