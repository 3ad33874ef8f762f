import { randomUUID } from 'node:crypto';
import type { User } from '@parley/common/testing';

/**
 * The authorization matrix (#8): every REST operation of the served OpenAPI document and every
 * WebSocket client frame type, called by someone who is not allowed, gets the documented error
 * (exact status and `code`, listed in the document for that status) and no data. A new operation
 * or frame type without a row here fails the enumeration test.
 */

export type Who = 'alice' | 'bob' | 'carol' | 'mallory' | 'root';

/** Words that only the victims' data contains: no refused answer may carry one. */
export const SECRET = {
  title: 'Operation Nightjar',
  body: 'the vault code is quokka-7741',
  word: 'quokka',
  email: 'alice.private@example.com',
  device: 'alices-secret-laptop',
};
export const SECRETS = [SECRET.title, SECRET.body, SECRET.word, SECRET.email, SECRET.device];

export interface World {
  users: Record<Who, User>;
  group: string; // alice owns it; bob is a member; carol was removed; mallory never joined
  direct: string; // alice ↔ bob
  message: string; // alice's message in the group (body SECRET.body)
  seq: number;
  bobDevice: string;
  attachment: string; // alice's file, sent in the group message
  upload: string; // alice's multipart upload in progress, in the group
}

export interface Req {
  path: string;
  body?: unknown;
}
/** A refused call: who makes it, why it must fail, and the exact answer. */
export interface Denial {
  as: Who;
  why: string;
  status: number;
  code?: string;
  /** For 2xx "no data" rows: the answer succeeds but must not contain the secrets. */
  req?: (w: World) => Req;
}
export interface Op {
  /** The request with the victims' ids; denials reuse it unless they bring their own. */
  req: (w: World) => Req;
  denials: Denial[];
}

const nonMember = (code: string): Denial => ({ as: 'mallory', why: 'not a member', status: 404, code });
const removed = (code: string): Denial => ({ as: 'carol', why: 'removed from the group', status: 404, code });
const byRole = (as: Who, why: string): Denial => ({ as, why, status: 403, code: 'NOT_ALLOWED_BY_ROLE' });
const g = (w: World, rest = '') => ({ path: `/v1/conversations/${w.group}${rest}` });
const m = (w: World, rest = '') => ({ path: `/v1/messages/${w.message}${rest}` });
const THUMBS = encodeURIComponent('👍');

/** Operations that need a bearer token (the document's global security), keyed `METHOD path`. */
export const SECURED: Record<string, Op> = {
  // Membership on a real form upload is in services/message/src/media/media.embedded.int.test.ts; a JSON body is refused first.
  'POST /v1/media': { req: (w) => ({ path: '/v1/media', body: { conversationId: w.group } }), denials: [] },
  'POST /v1/media/uploads': {
    req: (w) => ({ path: '/v1/media/uploads', body: { conversationId: w.group, filename: 'x', size: 10 } }),
    denials: [nonMember('ATTACHMENT_NOT_FOUND'), removed('ATTACHMENT_NOT_FOUND')],
  },
  'PUT /v1/media/uploads/{id}/parts/{partNumber}': {
    req: (w) => ({ path: `/v1/media/uploads/${w.upload}/parts/1` }),
    denials: [{ as: 'bob', why: "someone else's upload", status: 404, code: 'ATTACHMENT_NOT_FOUND' }],
  },
  'POST /v1/media/uploads/{id}/complete': {
    req: (w) => ({
      path: `/v1/media/uploads/${w.upload}/complete`,
      body: { parts: [{ partNumber: 1, etag: 'x' }] },
    }),
    denials: [{ as: 'bob', why: "someone else's upload", status: 404, code: 'ATTACHMENT_NOT_FOUND' }],
  },
  'DELETE /v1/media/uploads/{id}': {
    req: (w) => ({ path: `/v1/media/uploads/${w.upload}` }),
    denials: [{ as: 'bob', why: "someone else's upload", status: 404, code: 'ATTACHMENT_NOT_FOUND' }],
  },
  'GET /v1/media/{id}': {
    req: (w) => ({ path: `/v1/media/${w.attachment}` }),
    denials: [nonMember('ATTACHMENT_NOT_FOUND'), removed('ATTACHMENT_NOT_FOUND')],
  },
  'GET /v1/media/{id}/content': {
    req: (w) => ({ path: `/v1/media/${w.attachment}/content` }),
    denials: [nonMember('ATTACHMENT_NOT_FOUND'), removed('ATTACHMENT_NOT_FOUND')],
  },
  'POST /v1/auth/logout': { req: () => ({ path: '/v1/auth/logout', body: {} }), denials: [] },
  'POST /v1/auth/logout-all': { req: () => ({ path: '/v1/auth/logout-all', body: {} }), denials: [] },
  'GET /v1/users/me': { req: () => ({ path: '/v1/users/me' }), denials: [] },
  'PATCH /v1/users/me': { req: () => ({ path: '/v1/users/me', body: { displayName: 'x' } }), denials: [] },
  'GET /v1/users/me/devices': { req: () => ({ path: '/v1/users/me/devices' }), denials: [] },
  'DELETE /v1/users/me/devices/{id}': {
    req: (w) => ({ path: `/v1/users/me/devices/${w.bobDevice}` }),
    denials: [{ as: 'alice', why: "someone else's device", status: 404, code: 'DEVICE_NOT_FOUND' }],
  },
  'PUT /v1/users/me/public-key': {
    req: () => ({ path: '/v1/users/me/public-key', body: { publicKey: 'a'.repeat(44) } }),
    denials: [],
  },
  'GET /v1/users/{username}': {
    req: (w) => ({ path: `/v1/users/${w.users.alice.username}` }),
    denials: [{ as: 'mallory', why: 'public profile carries no email, phone or devices', status: 200 }],
  },
  'GET /v1/users/{username}/public-key': {
    req: (w) => ({ path: `/v1/users/${w.users.alice.username}/public-key` }),
    denials: [],
  },
  'POST /v1/users/me/phone/verification': {
    // Only ever about the caller's own pending number.
    req: () => ({ path: '/v1/users/me/phone/verification', body: {} }),
    denials: [],
  },
  'POST /v1/users/me/phone/verify': {
    req: () => ({ path: '/v1/users/me/phone/verify', body: { code: '000000' } }),
    denials: [],
  },
  'POST /v1/users/me/email/verification': {
    // Only ever about the caller's own pending email: nobody can mail a code to alice's address.
    req: () => ({ path: '/v1/users/me/email/verification', body: {} }),
    denials: [
      { as: 'mallory', why: "no way to name someone else's address", status: 409, code: 'NOTHING_TO_VERIFY' },
    ],
  },
  'POST /v1/users/me/email/verify': {
    req: () => ({ path: '/v1/users/me/email/verify', body: { token: 'a'.repeat(43) } }),
    denials: [
      {
        as: 'mallory',
        why: "a code or link token proves only the caller's own pending email, never alice's",
        status: 409,
        code: 'NOTHING_TO_VERIFY',
      },
    ],
  },
  'POST /v1/auth/admin-bootstrap': {
    req: () => ({ path: '/v1/auth/admin-bootstrap', body: { secret: 'not the bootstrap secret' } }),
    denials: [
      { as: 'mallory', why: 'guesses the bootstrap secret', status: 403, code: 'ADMIN_BOOTSTRAP_REFUSED' },
    ],
  },
  'POST /v1/admin/users/{id}/block': {
    req: (w) => ({ path: `/v1/admin/users/${w.users.bob.id}/block`, body: {} }),
    denials: [{ as: 'alice', why: 'not an admin', status: 403, code: 'FORBIDDEN' }],
  },
  'POST /v1/admin/users/{id}/unblock': {
    req: (w) => ({ path: `/v1/admin/users/${w.users.bob.id}/unblock`, body: {} }),
    denials: [{ as: 'alice', why: 'not an admin', status: 403, code: 'FORBIDDEN' }],
  },
  'POST /v1/conversations': {
    req: (w) => ({ path: '/v1/conversations', body: { type: 'direct', members: [w.users.alice.username] } }),
    denials: [],
  },
  'GET /v1/conversations': {
    req: () => ({ path: '/v1/conversations' }),
    denials: [
      { as: 'mallory', why: 'lists only her own conversations', status: 200 },
      { as: 'carol', why: 'a removed member no longer lists the group', status: 200 },
    ],
  },
  'GET /v1/conversations/{id}': {
    req: (w) => g(w),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PATCH /v1/conversations/{id}': {
    req: (w) => ({ ...g(w), body: { title: 'pwned' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), byRole('bob', 'a plain member renames the group')],
  },
  'POST /v1/conversations/{id}/accept': {
    req: (w) => ({ ...g(w, '/accept') }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/members': {
    req: (w) => ({ ...g(w, '/members'), body: { members: [w.users.mallory.username] } }),
    denials: [
      { ...nonMember('CONVERSATION_NOT_FOUND'), why: 'adds herself to a foreign group' },
      removed('CONVERSATION_NOT_FOUND'),
      byRole('bob', 'a plain member adds someone'),
    ],
  },
  'DELETE /v1/conversations/{id}/members/{userId}': {
    req: (w) => g(w, `/members/${w.users.bob.id}`),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PUT /v1/conversations/{id}/members/{userId}/role': {
    req: (w) => ({ ...g(w, `/members/${w.users.bob.id}/role`), body: { role: 'admin' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), byRole('bob', 'a plain member promotes himself')],
  },
  'POST /v1/conversations/{id}/messages': {
    req: (w) => ({ ...g(w, '/messages'), body: { clientMsgId: randomUUID(), body: 'intrusion' } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'GET /v1/conversations/{id}/messages': {
    req: (w) => g(w, '/messages?after=0'),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/read': {
    req: (w) => ({ ...g(w, '/read'), body: { seq: w.seq } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'POST /v1/conversations/{id}/delivered': {
    req: (w) => ({ ...g(w, '/delivered'), body: { seq: w.seq } }),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'GET /v1/conversations/{id}/presence': {
    req: (w) => g(w, '/presence'),
    denials: [nonMember('CONVERSATION_NOT_FOUND'), removed('CONVERSATION_NOT_FOUND')],
  },
  'PATCH /v1/messages/{id}': {
    req: (w) => ({ ...m(w), body: { body: 'forged edit' } }),
    denials: [nonMember('MESSAGE_NOT_FOUND'), byRole('bob', 'only the sender edits')],
  },
  'DELETE /v1/messages/{id}': {
    req: (w) => m(w),
    denials: [nonMember('MESSAGE_NOT_FOUND'), byRole('bob', 'a plain member deletes for everyone')],
  },
  'GET /v1/messages/{id}/replies': {
    req: (w) => m(w, '/replies'),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'PUT /v1/messages/{id}/reactions/{emoji}': {
    req: (w) => m(w, `/reactions/${THUMBS}`),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'DELETE /v1/messages/{id}/reactions/{emoji}': {
    req: (w) => m(w, `/reactions/${THUMBS}`),
    denials: [nonMember('MESSAGE_NOT_FOUND')],
  },
  'PUT /v1/messages/{id}/star': {
    req: (w) => m(w, '/star'),
    denials: [nonMember('MESSAGE_NOT_FOUND'), removed('MESSAGE_NOT_FOUND')],
  },
  'DELETE /v1/messages/{id}/star': { req: (w) => m(w, '/star'), denials: [nonMember('MESSAGE_NOT_FOUND')] },
  'PUT /v1/users/me/blocks/{username}': {
    req: (w) => ({ path: `/v1/users/me/blocks/${w.users.alice.username}` }),
    denials: [],
  },
  'DELETE /v1/users/me/blocks/{username}': {
    req: (w) => ({ path: `/v1/users/me/blocks/${w.users.alice.username}` }),
    denials: [],
  },
  'GET /v1/search/messages': {
    req: (w) => ({ path: `/v1/search/messages?q=${SECRET.word}&conversationId=${w.group}` }),
    denials: [
      nonMember('CONVERSATION_NOT_FOUND'),
      removed('CONVERSATION_NOT_FOUND'),
      {
        as: 'mallory',
        why: 'a search over all her conversations finds nothing of the group',
        status: 200,
        req: () => ({ path: `/v1/search/messages?q=${SECRET.word}` }),
      },
    ],
  },
  'GET /v1/users/me/stars': {
    req: () => ({ path: '/v1/users/me/stars' }),
    denials: [{ as: 'carol', why: 'stars in a group she left are not served', status: 200 }],
  },
  // Notifications and push subscriptions are the caller's own: no id names someone else's.
  'GET /v1/notifications': {
    req: () => ({ path: '/v1/notifications' }),
    denials: [{ as: 'mallory', why: "lists only the caller's notifications", status: 200 }],
  },
  'POST /v1/notifications/read': {
    req: () => ({ path: '/v1/notifications/read', body: { all: true } }),
    denials: [],
  },
  'GET /v1/notifications/preferences': {
    req: () => ({ path: '/v1/notifications/preferences' }),
    denials: [],
  },
  'PUT /v1/notifications/preferences': {
    req: () => ({
      path: '/v1/notifications/preferences',
      body: { email: 'instant', web: true, mobile: true, muted: [] },
    }),
    denials: [],
  },
  'GET /v1/push/subscriptions': {
    req: () => ({ path: '/v1/push/subscriptions' }),
    denials: [{ as: 'mallory', why: "lists only the caller's devices", status: 200 }],
  },
  'PUT /v1/push/subscriptions/{deviceId}': {
    req: () => ({
      path: '/v1/push/subscriptions/authz-device',
      body: { class: 'mobile', token: 'fcm-token' },
    }),
    denials: [],
  },
  'DELETE /v1/push/subscriptions/{deviceId}': {
    req: () => ({ path: '/v1/push/subscriptions/authz-device' }),
    denials: [{ as: 'mallory', why: "a device id names only the caller's own subscription", status: 204 }],
  },
};

const forgedUnsubscribe = (w: World) => ({
  path: `/v1/notifications/unsubscribe?token=${Buffer.from(w.users.alice.id).toString('base64url')}.zzzzzz.${'A'.repeat(43)}`,
  status: 422,
  code: 'INVALID_UNSUBSCRIBE_TOKEN',
});

/** Operations open to anyone (`security: []`), each with the hostile call that must fail. */
export const PUBLIC: Record<
  string,
  { why: string; hostile?: (w: World) => Req & { status: number; code: string } }
> = {
  'GET /.well-known/jwks.json': { why: 'public keys only' },
  'POST /v1/auth/register': {
    why: 'sign-up',
    hostile: (w) => ({
      path: '/v1/auth/register',
      body: { username: w.users.alice.username, password: 'another long passphrase' },
      status: 409,
      code: 'USERNAME_TAKEN',
    }),
  },
  'POST /v1/auth/login': {
    why: 'sign-in',
    hostile: (w) => ({
      path: '/v1/auth/login',
      body: { login: w.users.alice.username, password: 'not her password at all' },
      status: 401,
      code: 'INVALID_CREDENTIALS',
    }),
  },
  'POST /v1/auth/refresh': {
    why: 'holds a refresh token instead',
    hostile: (w) => {
      const [, session, gen] = w.users.alice.refresh.split('.');
      return {
        path: '/v1/auth/refresh',
        body: { refreshToken: `rt1.${session}.${gen}.${'A'.repeat(43)}` },
        status: 401,
        code: 'INVALID_REFRESH_TOKEN',
      };
    },
  },
  'POST /v1/auth/otp/request': { why: 'SMS sign-in starts anonymous' },
  'POST /v1/auth/otp/verify': {
    why: 'SMS sign-in',
    hostile: () => ({
      path: '/v1/auth/otp/verify',
      body: { phone: '+4790000001', code: '000000' },
      status: 401,
      code: 'INVALID_OTP',
    }),
  },
  'GET /v1/auth/github/start': {
    why: 'OAuth starts anonymous',
    hostile: () => ({ path: '/v1/auth/github/start', status: 404, code: 'OAUTH_DISABLED' }),
  },
  'GET /v1/auth/github/callback': {
    why: 'OAuth redirect target',
    hostile: () => ({
      path: '/v1/auth/github/callback?code=x&state=forged',
      status: 404,
      code: 'OAUTH_DISABLED',
    }),
  },
  'GET /v1/push/vapid-key': { why: 'the VAPID public key browsers subscribe with' },
  'GET /v1/notifications/unsubscribe': { why: 'the signed link in a mail', hostile: forgedUnsubscribe },
  'POST /v1/notifications/unsubscribe': {
    why: 'one-click unsubscribe',
    hostile: (w) => ({ ...forgedUnsubscribe(w), body: { 'List-Unsubscribe': 'One-Click' } }),
  },
};
