/* Guestgate's service worker: shows a host alert sent by Web Push (portal/host_alerts.py), even
   with every Guestgate tab closed, and opens the waiting list when it is clicked. The payload is
   {title, body, url, tag}; a newer alert of the same room replaces the older one (tag). */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let alert = {};
  try {
    alert = event.data ? event.data.json() : {};
  } catch (e) {
    alert = {body: event.data ? event.data.text() : ""};
  }
  event.waitUntil(self.registration.showNotification(alert.title || "Guestgate", {
    body: alert.body || "",
    tag: alert.tag || "guestgate",
    renotify: Boolean(alert.tag),
    requireInteraction: true,
    data: {url: alert.url || "/"},
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/",
                      self.location.origin);
  if (url.origin !== self.location.origin) return;  // only ever our own pages
  event.waitUntil(self.clients.matchAll({type: "window", includeUncontrolled: true})
    .then((windows) => {
      const page = url.href.split("#")[0];
      for (const win of windows) {
        if (win.url.split("#")[0] === page && "focus" in win) {
          // navigate() brings the list into view; it works only on pages this worker controls
          return win.focus().then(() => win.navigate(url.href).catch(() => null));
        }
      }
      return self.clients.openWindow(url.href);
    }));
});
