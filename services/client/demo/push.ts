/**
 * Web Push in the demo: a button asks for notification permission, registers the service worker
 * (/demo/sw.js), subscribes with the server's VAPID key and registers the subscription
 * (PUT /v1/push/subscriptions/{deviceId}), so the notifier can reach this browser when offline.
 */
import type { ParleyClient } from '@parley/client';

const DEVICE = 'parley.demo.pushDevice';

/** A base64url string as bytes (PushManager wants the key as a BufferSource). */
function bytes(b64url: string): Uint8Array<ArrayBuffer> {
  const b64 = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** This browser's stable device id for push (one subscription per device). */
function deviceId(): string {
  let id = localStorage.getItem(DEVICE);
  if (!id) {
    id = `web-${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
    localStorage.setItem(DEVICE, id);
  }
  return id;
}

function show(state: string, text: string): void {
  const el = document.getElementById('push-state')!;
  el.dataset.state = state;
  el.textContent = text;
}

function activated(reg: ServiceWorkerRegistration): Promise<void> {
  const worker = reg.installing ?? reg.waiting ?? reg.active;
  if (!worker || worker.state === 'activated') return Promise.resolve();
  return new Promise((resolve, reject) =>
    worker.addEventListener('statechange', () => {
      if (worker.state === 'activated') resolve();
      else if (worker.state === 'redundant') reject(new Error('the service worker failed to install'));
    }),
  );
}

export async function enablePush(client: ParleyClient): Promise<void> {
  if (!('serviceWorker' in navigator) || !('PushManager' in window) || !('Notification' in window))
    return show('unsupported', 'this browser has no Web Push');
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return show('denied', `notifications ${permission}`);
  show('subscribing', 'subscribing…');
  try {
    const reg = await navigator.serviceWorker.register('/demo/sw.js');
    // Not serviceWorker.ready: that waits for a worker whose scope covers this page, and the
    // worker's scope is /demo/. Subscribing needs it active.
    await activated(reg);
    const key = await client.notifications.vapidPublicKey();
    const sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) });
    const json = sub.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
    await client.notifications.registerPush(deviceId(), {
      class: 'web',
      endpoint: json.endpoint,
      keys: json.keys,
    });
    show('registered', 'notifications on');
  } catch (err) {
    show('failed', `push: ${err instanceof Error ? err.message : String(err)}`);
  }
}
