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

  // Live countdowns: data-countdown holds the UTC start; from zero on, the page asks the server
  // every two seconds whether the guest may go on (the server decides; the script only asks at
  // the right moment, and keeps asking in case this device's clock runs ahead of the server's).
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var target = new Date(el.dataset.countdown).getTime();
      var left = Math.max(0, Math.ceil((target - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600),
          m = Math.floor(left % 3600 / 60), s = left % 60;
      var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
      el.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      var last = Number(el.dataset.checkedAt || 0);
      if (left === 0 && Date.now() - last >= 2000) {
        el.dataset.checkedAt = String(Date.now());
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

// Owner's waiting room: the polled fragment carries data-waiting-count; the page title shows it
// ("(2 waiting) Room") so a new guest is noticed from another tab, and the count is announced.
(function () {
  "use strict";
  var PREFIX = /^\(\d+ waiting\) /;
  var last = null;

  function showWaiting() {
    var section = document.querySelector("[data-waiting-count]");
    if (!section) { return; }
    var count = parseInt(section.dataset.waitingCount, 10) || 0;
    var base = document.title.replace(PREFIX, "");
    document.title = count > 0 ? "(" + count + " waiting) " + base : base;
    if (last !== null && count > last) {
      var el = document.getElementById("live-announcer");
      if (el) { el.textContent = count + (count === 1 ? " guest" : " guests") + " waiting to be admitted"; }
    }
    last = count;
  }

  document.addEventListener("DOMContentLoaded", showWaiting);
  document.addEventListener("htmx:afterSwap", showWaiting);
})();

// Guests section (owner/_invitations.html): after an htmx answer, read its status out loud; the
// section was replaced, so its own live region may not be announced.
document.addEventListener("htmx:afterSwap", function (event) {
  var status = document.getElementById("invitations-status");
  var el = document.getElementById("live-announcer");
  var target = event.detail && event.detail.target;
  if (!status || !el || !target || target.id !== "invitations") { return; }
  var text = status.textContent.replace(/\s+/g, " ").trim();
  if (text) { el.textContent = ""; setTimeout(function () { el.textContent = text; }, 50); }
});

// An htmx answer redraws a section, and the control that had focus may be gone (the Admit button
// of a guest just admitted): htmx keeps focus only on an element with the same id. Otherwise
// keyboard users would be thrown back to the top of the page; keep them in the section, on the
// first field with an error, else its message, else its heading. Only when focus was in the
// section: a poll that redraws it must not pull focus there.
(function () {
  "use strict";
  var focusWasIn = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    var active = document.activeElement;
    focusWasIn = target && target.id && active && active !== document.body
      && target.contains(active) ? target.id : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var sectionId = focusWasIn;
    focusWasIn = null;
    var active = document.activeElement;
    if (!sectionId || (active && active !== document.body && document.contains(active))) { return; }
    var section = document.getElementById(sectionId);
    if (!section) { return; }
    var wanted = ["[aria-invalid=true]", "[role=alert]", "[role=status]", "h2"];
    for (var i = 0; i < wanted.length; i++) {
      var found = section.querySelectorAll(wanted[i]);
      for (var j = 0; j < found.length; j++) {
        var el = found[j];
        if (!el.textContent.trim() && !el.matches("input, select, textarea")) { continue; }
        if (!el.matches("input, select, textarea, button, a[href]")) { el.setAttribute("tabindex", "-1"); }
        el.focus();
        return;
      }
    }
  });
})();

// Tables stack on phones (app.css) and lose their header row: give each cell its column's name
// (not the first column, which names the row, nor columns whose header is only for readers).
(function () {
  "use strict";
  function labelCells(root) {
    root.querySelectorAll("table.table").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          var head = heads[i];
          if (i === 0 || !head || cell.hasAttribute("data-label") || cell.colSpan > 1) { return; }
          if (head.querySelector(".visually-hidden") && head.textContent.trim() ===
              head.querySelector(".visually-hidden").textContent.trim()) { return; }
          cell.setAttribute("data-label", head.textContent.trim());
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { labelCells(document); });
  document.addEventListener("htmx:afterSwap", function (event) { labelCells(event.target.parentNode || document); });
})();
