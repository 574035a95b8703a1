/* The Alerts screen's "Notify this browser when someone waits" (templates/account/alerts.html):
   registers the service worker (/push-worker.js), subscribes this browser to Web Push with the
   server's VAPID key, and hands the subscription to the server; or the reverse. Every outcome
   is said in #push-status. Without JavaScript the screen says so, and the rest works. */
"use strict";

(function () {
  const section = document.getElementById("this-browser");
  if (!section) return;
  const status = document.getElementById("push-status");
  const enable = document.getElementById("push-enable");
  const disable = document.getElementById("push-disable");
  const known = (section.dataset.known || "").split(" ").filter(Boolean);

  function say(text) { status.textContent = text; }

  function show(subscribed) {
    enable.hidden = subscribed;
    disable.hidden = !subscribed;
  }

  function keyBytes(base64url) {
    const padded = base64url.replace(/-/g, "+").replace(/_/g, "/") +
      "=".repeat((4 - (base64url.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": section.dataset.csrf},
      body: JSON.stringify(data),
    });
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("This browser can't show notifications from websites. Alerts still come by email.");
    return;
  }

  let registration = null;
  navigator.serviceWorker.register(section.dataset.worker).then((reg) => {
    registration = reg;
    return reg.pushManager.getSubscription();
  }).then((subscription) => {
    const on = Boolean(subscription) && known.includes(subscription.endpoint);
    show(on);
    say(on ? "This browser is notified when guests wait unseen."
           : "This browser isn't notified yet.");
  }).catch((error) => {
    show(false);
    say("This browser isn't notified yet. (" + error.message + ")");
  });

  enable.addEventListener("click", async () => {
    enable.disabled = true;
    try {
      say("Asking the browser…");
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        say("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
        return;
      }
      const reg = registration || await navigator.serviceWorker.register(section.dataset.worker);
      await navigator.serviceWorker.ready;
      const subscription = await reg.pushManager.subscribe({
        userVisibleOnly: true, applicationServerKey: keyBytes(section.dataset.vapidKey)});
      const answer = await post(section.dataset.subscribe, subscription.toJSON());
      if (!answer.ok) {
        const why = await answer.json().catch(() => ({}));
        say("Guestgate couldn't keep this browser's subscription. " + (why.error || ""));
        return;
      }
      say("This browser is notified when guests wait unseen.");
      window.location.reload();  // the list of browsers shows it
    } catch (error) {
      say("This browser couldn't subscribe to notifications: " + error.message);
    } finally {
      enable.disabled = false;
    }
  });

  disable.addEventListener("click", async () => {
    disable.disabled = true;
    try {
      const subscription = registration && await registration.pushManager.getSubscription();
      if (subscription) {
        await post(section.dataset.forget, {endpoint: subscription.endpoint});
        await subscription.unsubscribe();
      }
      say("This browser is no longer notified.");
      window.location.reload();
    } catch (error) {
      say("Stopping didn't work: " + error.message);
    } finally {
      disable.disabled = false;
    }
  });
}());
