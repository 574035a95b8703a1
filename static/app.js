// Guestgate's own script: only what needs one, over pages that work without it — the countdown's
// ticking, Copy buttons, and times in the reader's own zone. Everything else comes from the
// server and htmx: confirmations (hx-confirm), the page title and announcements of the waiting
// room (out-of-band parts of its fragment), focus after a swap (autofocus), the countdown's
// check at the start (hx-trigger "load delay:"), table labels for phones (data-label).
// And the owner's opt-in alerts when someone new starts waiting (a sound, a notification).
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

  // Hosts notice who waits (owner/_view_live.html's #waiting-alerts): a sound, synthesised here (no
  // audio file, nothing from elsewhere), and a browser notification, each only when chosen;
  // the choice is kept in this browser. Only someone new rings: those listed when the page
  // loaded, and those a host moved back to the waiting room, don't (data-waiting-ids).
  var ALERTS = { sound: "guestgate.alert.sound", notify: "guestgate.alert.notify" };
  var knownWaiting = null, audio = null;

  function chosen(kind) {
    try { return localStorage.getItem(ALERTS[kind]) === "on"; } catch (e) { return false; }
  }
  function choose(kind, on) {
    try { localStorage.setItem(ALERTS[kind], on ? "on" : "off"); } catch (e) { /* private mode */ }
  }
  function canNotify() { return "Notification" in window && Notification.permission === "granted"; }
  function count(box, name) { box.dataset[name] = String(Number(box.dataset[name] || 0) + 1); }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      var tone = audio.createOscillator(), gain = audio.createGain(), t = audio.currentTime;
      tone.frequency.setValueAtTime(880, t);
      tone.frequency.setValueAtTime(660, t + 0.15);
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.4);
      tone.connect(gain);
      gain.connect(audio.destination);
      tone.start(t);
      tone.stop(t + 0.45);
    } catch (e) { /* no sound: the title and the list still say it */ }
  }

  function checkWaiting() {
    var box = document.getElementById("waiting-alerts");
    var section = document.getElementById("waiting-room");
    if (!box || !section || !section.hasAttribute("data-waiting-ids")) { return; }
    var ids = section.getAttribute("data-waiting-ids").split(" ").filter(Boolean);
    var fresh = knownWaiting === null ? [] : ids.filter(function (id) {
      return knownWaiting.indexOf(id) < 0;
    });
    knownWaiting = ids;
    if (!fresh.length) { return; }
    if (chosen("sound")) { chime(); count(box, "sounds"); }
    if (chosen("notify") && canNotify()) {
      try {
        new Notification(document.title, { tag: "guestgate-waiting",
          body: fresh.length === 1 ? "Someone started waiting to be admitted."
            : fresh.length + " people started waiting to be admitted." });
        count(box, "notifications");
      } catch (e) { /* not allowed here after all */ }
    }
  }

  // On the page's load, and when htmx swaps the Live view in (owner/_room_nav.html).
  function setUpAlerts() {
    var box = document.getElementById("waiting-alerts");
    if (!box || box.dataset.ready) { return; }
    box.dataset.ready = "yes";
    var status = document.getElementById("alert-status");
    var say = function (text) { if (status) { status.textContent = text; } };
    box.hidden = false;
    box.querySelectorAll("input[data-alert]").forEach(function (input) {
      var kind = input.dataset.alert;
      input.checked = chosen(kind) && (kind === "sound" || canNotify());
      input.addEventListener("change", function () {
        if (kind === "sound" || !input.checked) {
          choose(kind, input.checked);
          if (kind === "sound" && input.checked) { chime(); say("A sound plays when someone starts waiting."); }
          return;
        }
        if (!("Notification" in window)) {
          input.checked = false;
          say("This browser can't show notifications.");
          return;
        }
        Notification.requestPermission().then(function (answer) {
          var on = answer === "granted";
          input.checked = on;
          choose(kind, on);
          say(on ? "A notification shows when someone starts waiting."
            : "Notifications are blocked for this site in the browser's settings.");
        });
      });
    });
    checkWaiting();  // who waits already: no alert for them
  }

  document.addEventListener("DOMContentLoaded", function () {
    localize(document);
    tick();
    setInterval(tick, 1000);
    setUpAlerts();
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    localize(event.target);
    setUpAlerts();
    checkWaiting();
  });
  document.addEventListener("htmx:oobAfterSwap", checkWaiting);

  // Live news (guest/_push.html, portal/push.py): told to look, the page asks its status poll
  // (guest/_poll.html's "push" trigger) — the same one decision that the poll's timer asks. A
  // guest's own news at once; a room's (Admit all, the start) at a random moment within the
  // spread, so a crowd doesn't ask all in one instant. News older than the page is ignored.
  // When the push connection fails, the poll's timer goes on as it always did; EventSource
  // reconnects by itself, asking for what it missed (Last-Event-ID).
  var push = null, wakeTimer = null, grace = 5;

  function askNow() {
    wakeTimer = null;
    var poll = document.querySelector("[data-status-poll]");
    if (poll && window.htmx) { window.htmx.trigger(poll, "push"); }
  }

  function wake(within) {
    if (wakeTimer !== null) {  // a poll is on its way: it answers this news too ...
      if (within > 0) { return; }
      clearTimeout(wakeTimer);  // ... but a guest's own news doesn't wait for the room's turn
    }
    wakeTimer = setTimeout(askNow, Math.random() * within * 1000);
  }

  function listen() {
    var box = document.getElementById("push-news");
    if (!box || !window.EventSource) { return; }
    var since = Number(box.dataset.pushSince), spread = Number(box.dataset.pushSpread) || 0;
    grace = Number(box.dataset.pushGrace) || 5;
    push = new EventSource(box.dataset.pushUrl);
    push.onmessage = function (event) {
      var said = String(event.data).split(" ");
      if (Number(said[1]) < since) { return; }  // this page already shows it
      wake(said[0] === "room" ? spread : 0);
    };
    box.dataset.pushListening = "true";  // for tests: the page listens
  }

  // A countdown's own check at the start (data-check-at-start): with push, only for a page that
  // heard nothing of it — push down, or the news lost — `grace` seconds after the start.
  function checkAtStart() {
    var poll = document.querySelector("[data-status-poll][data-check-at-start]");
    if (!poll) { return; }
    var at = Number(poll.dataset.checkAtStart) * 1000;
    setTimeout(function () {
      var live = push && push.readyState === 1;
      setTimeout(askNow, live ? grace * 1000 : 0);
    }, at);
  }

  document.addEventListener("DOMContentLoaded", function () {
    listen();
    checkAtStart();
  });

  // A status poll answered while this page is already navigating away (Leave, a link) must not
  // reload it: the reload would cancel that navigation and show this page's URL again. If the
  // page is still here a while later (a download, a cancelled navigation), polls count again;
  // the poll keeps answering the change until the page has reloaded, so nothing is missed.
  var leavingUntil = 0;
  window.addEventListener("beforeunload", function () { leavingUntil = Date.now() + 10000; });
  window.addEventListener("pageshow", function () { leavingUntil = 0; });
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    if (Date.now() < leavingUntil && event.detail.elt.hasAttribute("data-status-poll")) {
      event.preventDefault();
    }
  });
})();
