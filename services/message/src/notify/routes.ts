import { problems, q, type Api, type Principal } from '@parley/common';
import { z } from 'zod';
import { messageProblems } from '../domain/errors.ts';
import { quietHoursError, type NotifyPrefs } from './decide.ts';
import type { PushEndpointPolicy } from './pushendpoint.ts';
import type { NotificationStore } from './store.ts';
import { checkUnsubscribeToken, ONE_CLICK, UNSUBSCRIBE_TOKEN } from './unsubscribe.ts';

export const MAX_SUBSCRIPTIONS = 20;
/** Mutes one preferences document holds (it stays well under the request body limit). */
const MAX_MUTED = 500;

const NotificationView = z.object({
  id: z.string(),
  conversationId: z.string(),
  messageId: z.string(),
  senderId: z.string(),
  text: z.string(),
  createdAt: z.string(),
  readAt: z.string().optional(),
});
const NotificationList = z.object({ items: z.array(NotificationView), unread: z.number().int() });
const ListQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  /** Older than this createdAt (ISO), for paging. */
  before: z.iso.datetime().optional(),
  unread: z.enum(['true', 'false']).optional(),
});
const ReadBody = z.union([
  z.strictObject({ ids: z.array(z.string().min(1).max(200)).min(1).max(500) }),
  z.strictObject({ all: z.literal(true) }),
]);
const Prefs = z.strictObject({
  email: z.enum(['off', 'instant', 'digest']),
  web: z.boolean(),
  mobile: z.boolean(),
  quietHours: z
    .strictObject({
      start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM'),
      end: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM'),
      timeZone: z.string().min(1).max(64),
    })
    .optional(),
  muted: z
    .array(z.strictObject({ conversationId: z.uuid(), until: z.iso.datetime().optional() }))
    .max(MAX_MUTED),
});
const DeviceParams = z.strictObject({ deviceId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });
const SubscriptionBody = z.union([
  z.strictObject({
    class: z.literal('web'),
    endpoint: z.url({ protocol: /^https$/ }).max(2048),
    keys: z.strictObject({
      p256dh: z.string().regex(/^[A-Za-z0-9_-]{86,88}$/, 'a base64url P-256 public key (65 bytes)'),
      auth: z.string().regex(/^[A-Za-z0-9_-]{22,24}$/, 'a base64url 16-byte secret'),
    }),
  }),
  z.strictObject({ class: z.literal('mobile'), token: z.string().min(1).max(4096) }),
]);
const SubscriptionView = z.object({
  deviceId: z.string(),
  class: z.enum(['web', 'mobile']),
  endpoint: z.string().optional(),
  createdAt: z.string(),
});
const TokenQuery = z.strictObject({ token: z.string().regex(UNSUBSCRIBE_TOKEN) });

/** What a one-click POST carries (RFC 8058 §3.1), form-encoded or as JSON. */
const OneClickBody = z.strictObject({ [ONE_CLICK.key]: z.literal(ONE_CLICK.value) });

const me = (p: Principal | undefined): string => {
  if (!p) throw problems.UNAUTHENTICATED();
  return p.userId;
};

/** Notifications over REST: the list, read marks, preferences, push subscriptions, unsubscribe. */
export function notificationRoutes(
  api: Api,
  started: () => {
    store: NotificationStore;
    vapidPublicKey: string;
    unsubscribeSecret: string;
    pushPolicy: PushEndpointPolicy;
  },
): void {
  const tags = ['notifications'];
  api.route({
    method: 'GET',
    url: '/v1/notifications',
    operationId: 'listNotifications',
    summary: 'Your notifications, newest first',
    description:
      'One per message that reached you while you were offline (never your own, muted or blocked ones).',
    tags,
    access: 'user',
    query: ListQuery,
    responses: {
      200: { description: 'A page of notifications and the unread count', schema: NotificationList },
    },
    handler: async (req) => {
      const userId = me(req.principal);
      const { store } = started();
      const filter = {
        userId,
        ...(req.query.before ? { createdAt: q.lt(req.query.before) } : {}),
        ...(req.query.unread === 'true' ? { readAt: q.exists(false) } : {}),
      };
      const [docs, unread] = await Promise.all([
        store.notifications.find(filter, { sort: [['createdAt', -1]], limit: req.query.limit }),
        store.notifications.count({ userId, readAt: q.exists(false) }),
      ]);
      return { items: docs.map(({ _id, userId: _u, ...n }) => ({ id: _id, ...n })), unread };
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/notifications/read',
    operationId: 'markNotificationsRead',
    summary: 'Mark notifications read (by id, or all)',
    tags,
    access: 'user',
    body: ReadBody,
    responses: { 200: { description: 'How many changed', schema: z.object({ updated: z.number().int() }) } },
    handler: async (req) => {
      const userId = me(req.principal);
      const filter = {
        userId,
        readAt: q.exists(false),
        ...('ids' in req.body ? { _id: q.in(req.body.ids) } : {}),
      };
      const updated = await started().store.notifications.updateMany(filter, {
        $set: { readAt: new Date().toISOString() },
      });
      return { updated };
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/notifications/preferences',
    operationId: 'getNotificationPreferences',
    summary: 'Your notification preferences',
    tags,
    access: 'user',
    responses: { 200: { description: 'Channels, quiet hours and muted conversations', schema: Prefs } },
    handler: async (req) => started().store.prefsOf(me(req.principal)),
  });

  api.route({
    method: 'PUT',
    url: '/v1/notifications/preferences',
    operationId: 'setNotificationPreferences',
    summary: 'Replace your notification preferences',
    description:
      'email: `off`, `instant` (one mail per conversation burst) or `digest` (one mail per NOTIFY_DIGEST_MINUTES). Quiet hours (HH:MM, IANA zone) hold pushes and move mail to the digest. A mute may end at `until`.',
    tags,
    access: 'user',
    body: Prefs,
    responses: { 200: { description: 'The stored preferences', schema: Prefs } },
    errors: ['INVALID_PREFERENCES'],
    handler: async (req) => {
      const userId = me(req.principal);
      const quiet = req.body.quietHours && quietHoursError(req.body.quietHours);
      if (quiet) throw messageProblems.INVALID_PREFERENCES(quiet);
      return started().store.setPrefs(userId, req.body as NotifyPrefs);
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/push/vapid-key',
    operationId: 'getVapidKey',
    summary: 'The VAPID public key browsers subscribe with (applicationServerKey)',
    tags,
    access: 'public',
    responses: {
      200: { description: 'base64url P-256 public key', schema: z.object({ publicKey: z.string() }) },
    },
    handler: async () => ({ publicKey: started().vapidPublicKey }),
  });

  api.route({
    method: 'GET',
    url: '/v1/push/subscriptions',
    operationId: 'listPushSubscriptions',
    summary: 'Your devices registered for push',
    tags,
    access: 'user',
    responses: {
      200: { description: 'One per device', schema: z.object({ items: z.array(SubscriptionView) }) },
    },
    handler: async (req) => {
      const subs = await started().store.subscriptionsOf([me(req.principal)]);
      return {
        items: subs.map((s) => ({
          deviceId: s.deviceId,
          class: s.class,
          ...(s.endpoint ? { endpoint: s.endpoint } : {}),
          createdAt: s.createdAt,
        })),
      };
    },
  });

  api.route({
    method: 'PUT',
    url: '/v1/push/subscriptions/:deviceId',
    operationId: 'putPushSubscription',
    summary: 'Register (or replace) this device’s push subscription',
    description:
      'Web Push: the PushSubscription (https endpoint, p256dh and auth keys) from PushManager.subscribe() with the key of GET /v1/push/vapid-key. The endpoint must be https on a known push service (WEB_PUSH_ALLOWED_HOSTS). Mobile: the FCM registration token. A subscription the push service reports gone (404/410, UNREGISTERED) is removed.',
    tags,
    access: 'user',
    params: DeviceParams,
    body: SubscriptionBody,
    responses: { 200: { description: 'Registered', schema: SubscriptionView } },
    errors: ['SUBSCRIPTION_LIMIT', 'PUSH_ENDPOINT_NOT_ALLOWED'],
    handler: async (req) => {
      const userId = me(req.principal);
      const { store, pushPolicy } = started();
      const refused = 'endpoint' in req.body ? pushPolicy.problem(req.body.endpoint) : undefined;
      if (refused) throw messageProblems.PUSH_ENDPOINT_NOT_ALLOWED(refused);
      const id = `${userId}:${req.params.deviceId}`;
      const existing = await store.subscriptions.findById(id);
      if (!existing && (await store.subscriptions.count({ userId })) >= MAX_SUBSCRIPTIONS)
        throw messageProblems.SUBSCRIPTION_LIMIT(`at most ${MAX_SUBSCRIPTIONS} devices; remove one first`);
      const createdAt = new Date().toISOString();
      await store.subscriptions.deleteMany({ _id: id });
      await store.subscriptions.insertOne({
        _id: id,
        userId,
        deviceId: req.params.deviceId,
        createdAt,
        ...req.body,
      });
      return {
        deviceId: req.params.deviceId,
        class: req.body.class,
        ...('endpoint' in req.body ? { endpoint: req.body.endpoint } : {}),
        createdAt,
      };
    },
  });

  api.route({
    method: 'DELETE',
    url: '/v1/push/subscriptions/:deviceId',
    operationId: 'deletePushSubscription',
    summary: 'Remove this device’s push subscription',
    tags,
    access: 'user',
    params: DeviceParams,
    responses: { 204: { description: 'Removed (or there was none)' } },
    handler: async (req, reply) => {
      await started().store.subscriptions.deleteMany({ _id: `${me(req.principal)}:${req.params.deviceId}` });
      reply.code(204);
    },
  });

  const tokenErrors = ['INVALID_UNSUBSCRIBE_TOKEN', 'UNSUBSCRIBE_LINK_EXPIRED'];
  const userOfToken = (token: string): string => {
    const r = checkUnsubscribeToken(started().unsubscribeSecret, token, Math.floor(Date.now() / 1000));
    if (r.ok) return r.userId;
    if (r.reason === 'expired')
      throw messageProblems.UNSUBSCRIBE_LINK_EXPIRED(
        'this unsubscribe link has expired; use the link in a newer mail, or turn mail off in your notification preferences',
      );
    throw messageProblems.INVALID_UNSUBSCRIBE_TOKEN();
  };

  // A GET changes nothing: link scanners and mail previews follow links. It answers a page whose
  // button makes the POST, the same one-click POST (RFC 8058) that mail providers send.
  api.route({
    method: 'GET',
    url: '/v1/notifications/unsubscribe',
    operationId: 'unsubscribeEmailLink',
    summary: 'The page behind the unsubscribe link in a mail: asks to confirm (no sign-in)',
    description:
      'Checks the signed token and answers an HTML page with a button that POSTs `List-Unsubscribe=One-Click` to the same URL. Following the link alone changes nothing, so a link scanner cannot turn mail off.',
    tags,
    access: 'public',
    query: TokenQuery,
    responses: {
      200: { description: 'A confirmation page', contentType: 'text/html', schema: z.string() },
    },
    errors: tokenErrors,
    handler: async (req, reply) => {
      userOfToken(req.query.token);
      reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store');
      return confirmPage(req.query.token);
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/notifications/unsubscribe',
    operationId: 'unsubscribeEmail',
    summary: 'Turn notification mail off: one-click List-Unsubscribe (RFC 8058, no sign-in)',
    description: `The target of every notification mail's \`List-Unsubscribe\` header (with \`List-Unsubscribe-Post: List-Unsubscribe=One-Click\`). The body is \`List-Unsubscribe=One-Click\`, form-encoded (what mail providers send) or as a JSON object, read by the same size-limited reader as every body (HTTP_BODY_LIMIT_BYTES). The token names the user and is signed by this installation; it only ever turns mail off.`,
    tags,
    access: 'public',
    query: TokenQuery,
    body: OneClickBody,
    formBody: true,
    responses: { 200: { description: 'Mail is off', schema: z.object({ email: z.literal('off') }) } },
    errors: tokenErrors,
    handler: async (req, reply) => {
      const userId = userOfToken(req.query.token);
      const { store } = started();
      await store.setPrefs(userId, { ...(await store.prefsOf(userId)), email: 'off' });
      // The page's button (a browser form) gets a page back; mail providers and clients get JSON.
      const form = /^application\/x-www-form-urlencoded/i.test(req.headers['content-type'] ?? '');
      if (form && /\btext\/html\b/.test(req.headers.accept ?? '')) {
        reply.header('content-type', 'text/html; charset=utf-8');
        return donePage;
      }
      return { email: 'off' as const };
    },
  });
}

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;

/** The confirmation page: the token is URL-safe base64 and base 36 only (TokenQuery), so it needs no escaping. */
function confirmPage(token: string): string {
  return page(
    'Stop notification mail?',
    `<p>Parley will stop mailing you about new messages. You can turn mail back on in your notification preferences.</p><form method="post" action="?token=${token}"><input type="hidden" name="${ONE_CLICK.key}" value="${ONE_CLICK.value}"><button type="submit">Stop notification mail</button></form>`,
  );
}

const donePage = page(
  'Notification mail is off',
  '<p>You will get no more notification mail from Parley.</p>',
);
