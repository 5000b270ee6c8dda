// Push on the page side: register the service worker, ask for permission at a sensible moment (from a
// button the officer taps, never on first load), subscribe with the server's VAPID key, keep the app
// badge in step with the inbox, and follow the worker's "open this message" requests.
import { get, request } from "./api.js";

export const supported = () => "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

export async function registerWorker() {
  if (!("serviceWorker" in navigator)) return null;
  try {
    return await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  } catch (error) {
    console.warn("service worker not registered", error);
    return null;
  }
}

/** "default" (not asked yet), "granted", "denied" or "unsupported". */
export function permission() {
  return supported() ? Notification.permission : "unsupported";
}

function base64UrlToBytes(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

function sameKey(buffer, bytes) {
  if (!buffer) return false;
  const held = new Uint8Array(buffer);
  return held.length === bytes.length && held.every((value, index) => value === bytes[index]);
}

/** Subscribe this device and tell the server. Safe to repeat (the server keys on the endpoint). A
 * subscription made with an older VAPID key (the server rotated it) is replaced. */
export async function subscribe() {
  const registration = await navigator.serviceWorker.ready;
  const { public_key: publicKey } = await get("/push/vapid-public-key", { auth: false });
  const key = base64UrlToBytes(publicKey);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription.options?.applicationServerKey, key)) {
    await subscription.unsubscribe().catch(() => {});
    subscription = null;
  }
  if (!subscription) {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  await request("POST", "/push/subscriptions", { body: subscription.toJSON() });
  return subscription;
}

/** From a tap on "Turn on alerts": ask, then subscribe. Returns the resulting permission. */
export async function enable() {
  const answer = await Notification.requestPermission();
  if (answer === "granted") await subscribe();
  return answer;
}

/** On sign-out, after the session ended: the server drops the session's subscriptions with it; this stops
 * the browser's side, so the next person to sign in on this phone subscribes afresh. */
export async function unsubscribe() {
  if (!supported()) return;
  const registration = await navigator.serviceWorker.getRegistration();
  const subscription = await registration?.pushManager.getSubscription();
  await subscription?.unsubscribe().catch(() => {});
}

/** The app icon's badge shows the unread count; the worker counts on from here when pushes arrive. */
export function setBadge(count) {
  if (navigator.setAppBadge) (count ? navigator.setAppBadge(count) : navigator.clearAppBadge()).catch(() => {});
  navigator.serviceWorker?.controller?.postMessage({ type: "badge", count });
}

/** Messages from the worker: {type: "push"|"open"|"acknowledged", ...}. */
export function onWorkerMessage(handler) {
  navigator.serviceWorker?.addEventListener("message", (event) => handler(event.data || {}));
}
