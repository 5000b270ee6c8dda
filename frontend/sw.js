// Parley service worker: the app shell offline, push messages, and receipts without the page open.
// Bump VERSION whenever a file of the shell changes: the new worker precaches the new set and
// removes the old caches when it activates.
const VERSION = "parley-shell-v9";
// What an officer needs with no signal. The command, comms, audit and admin screens are cached the
// first time they are opened instead, which keeps an officer's first load light.
const SHELL = [
  "/", "/index.html", "/manifest.webmanifest", "/css/app.css",
  "/js/main.js", "/js/api.js", "/js/dom.js", "/js/outbox.js", "/js/push.js", "/js/store.js",
  "/js/views/signin.js", "/js/views/home.js", "/js/views/escalate.js", "/js/views/replies.js",
  "/js/views/messages.js", "/js/views/briefing.js", "/js/views/outbox.js",
  "/icons/icon-192.png", "/icons/badge-96.png",
];

importScripts("/js/store.js");
const store = self.parleyStore;

self.addEventListener("install", (event) => {
  // awaited: the worker is not installed until every shell file is in the cache
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== VERSION) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  // Police data never goes into a cache: /api/* always goes to the network (and fails offline).
  if (url.pathname.startsWith("/api/") || ["/healthz", "/readyz", "/metrics", "/openapi.json"].includes(url.pathname)) return;
  if (event.request.mode === "navigate") {
    event.respondWith(networkFirstShell(event.request));
    return;
  }
  event.respondWith(cacheFirst(event.request));
});

async function networkFirstShell(request) {
  try {
    const response = await fetch(request);
    if (response.ok) return response;
    throw new Error(`status ${response.status}`);
  } catch {
    const cache = await caches.open(VERSION);
    return (await cache.match("/index.html")) || Response.error();
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(VERSION);
  const cached = await cache.match(request, { ignoreSearch: true });
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

// ---- push ---------------------------------------------------------------------------------------

self.addEventListener("push", (event) => {
  event.waitUntil(handlePush(event));
});

async function handlePush(event) {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { title: "Parley", body: event.data ? event.data.text() : "" };
  }
  const id = message.id;
  const title = message.title || message.notification?.title || "Message from command";
  const options = {
    body: message.body || message.notification?.body || "",
    // the same tag as the Declarative Web Push member: a newer message with the topic replaces the older one
    tag: message.notification?.tag || id || "parley",
    renotify: true,
    icon: "/icons/icon-192.png",
    badge: "/icons/badge-96.png",
    timestamp: Date.now(),
    requireInteraction: Boolean(message.require_ack),
    data: { id, url: message.url || (id ? `/#/messages/${id}` : "/#/messages"), receipt_token: message.receipt_token,
      require_ack: Boolean(message.require_ack) },
    actions: message.require_ack ? [{ action: "acknowledge", title: "Acknowledge" }] : [],
  };
  if (message.urgency === "high") options.vibrate = [300, 100, 300];
  // a push service may deliver the same message twice: show it again quietly, count it once
  const key = `${id}:${message.round || 0}`;
  const seen = (await store.get("kv", "seen-pushes").catch(() => null)) || [];
  if (id && seen.includes(key)) {
    await self.registration.showNotification(title, { ...options, renotify: false, silent: true });
    return;
  }
  await store.put("kv", [...seen.slice(-199), key], "seen-pushes").catch(() => {});
  await self.registration.showNotification(title, options);
  await bumpBadge();
  await tellClients({ type: "push", id });
  if (id) await sendReceipt(id, "delivered", message.receipt_token);
}

async function bumpBadge() {
  const unread = ((await store.get("kv", "badge").catch(() => 0)) || 0) + 1;
  await store.put("kv", unread, "badge").catch(() => {});
  if (self.navigator.setAppBadge) await self.navigator.setAppBadge(unread).catch(() => {});
}

async function tellClients(message) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) client.postMessage(message);
  return windows;
}

/**
 * Receipts from the worker use the per-message receipt_token from the push payload instead of a
 * Bearer token: the worker has no access token, and the token only allows receipts for this one
 * message by this one recipient. Offline, the receipt waits in the outbox like everything else.
 */
async function sendReceipt(id, event, receiptToken) {
  if (!receiptToken) return;
  const item = {
    client_id: `receipt:${id}:${event}`, kind: "receipt", method: "POST", auth: false,
    path: `/api/v1/notifications/${id}/receipts`, body: { event, receipt_token: receiptToken },
    label: event === "acknowledged" ? "Acknowledgement" : "Receipt",
  };
  try {
    const response = await fetch(item.path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.body),
    });
    if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) return;
  } catch { /* offline: queue below */ }
  await store.put("outbox", { ...item, seq: Date.now() * 1000, created_at: new Date().toISOString(),
    attempts: 0, next_at: 0, state: "waiting", error: null }).catch(() => {});
  await tellClients({ type: "outbox-changed" });
  if (self.registration.sync) await self.registration.sync.register("parley-outbox").catch(() => {});
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(onNotificationClick(event.notification.data || {}, event.action));
});

/** "Acknowledge" acknowledges without opening the app; a tap on the body opens the message. */
async function onNotificationClick(data, action) {
  if (action === "acknowledge") {
    await sendReceipt(data.id, "acknowledged", data.receipt_token);
    await tellClients({ type: "acknowledged", id: data.id });
    return;
  }
  await sendReceipt(data.id, "opened", data.receipt_token);
  const target = new URL(data.url || "/#/messages", self.location.origin).href;
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).origin === self.location.origin) {
      await client.focus().catch(() => {});
      client.postMessage({ type: "open", url: target, id: data.id });
      return;
    }
  }
  await self.clients.openWindow(target);
}

// Background Sync: the page flushes its outbox if it is open; receipts (which need no sign-in) go
// from here even when it is not.
self.addEventListener("sync", (event) => {
  if (event.tag !== "parley-outbox") return;
  event.waitUntil((async () => {
    const windows = await tellClients({ type: "flush-outbox" });
    if (windows.length) return;
    for (const item of await store.all("outbox")) {
      if (item.auth !== false || item.state !== "waiting") continue;
      const response = await fetch(item.path, {
        method: item.method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(item.body),
      });
      if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
        await store.delete("outbox", item.client_id);
      } else {
        throw new Error("retry later"); // the browser retries the sync with its own backoff
      }
    }
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "badge") store.put("kv", Number(event.data.count) || 0, "badge").catch(() => {});
});
