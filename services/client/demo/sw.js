// The demo's service worker: shows what the notifier pushes (see services/message/src/notify).
/* global self */
self.addEventListener('push', (event) => {
  const n = event.data ? event.data.json() : { title: 'Parley', body: 'New message' };
  event.waitUntil(
    self.registration.showNotification(n.title, {
      body: n.body,
      tag: n.tag,
      data: { conversationId: n.conversationId },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow('/'));
});
