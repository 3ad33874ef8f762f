import type { Api, ApiRequest, Principal } from '@parley/common';
import { problems } from '@parley/common';
import type { Accounts } from './accounts.ts';
import type { ClientContext } from './accounts/context.ts';
import { ownView, publicView } from './accounts/views.ts';
import { authProblems } from './errors.ts';
import type { GithubOAuth } from './github/oauth.ts';
import type { KeyRing } from './keys.ts';
import * as S from './schemas.ts';

export interface AuthRouteDeps {
  accounts: () => Accounts;
  github: () => GithubOAuth | undefined;
  keys: () => KeyRing;
}

function client(
  req: ApiRequest<unknown, unknown, unknown>,
  device?: { name: string; platform: string },
): ClientContext {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua : '', device };
}

const me = (req: { principal: Principal | undefined }): Principal => {
  if (!req.principal) throw problems.UNAUTHENTICATED();
  return req.principal;
};

/** The auth service's public contract (see /v1/openapi.json). */
export function authRoutes(api: Api, d: AuthRouteDeps): void {
  const tags = ['auth'];

  api.route({
    method: 'GET',
    url: '/.well-known/jwks.json',
    operationId: 'getJwks',
    summary: 'Public keys that verify access tokens (current and previous)',
    description:
      'Cached by every verifier: answers with `Cache-Control` (five minutes) and an `ETag`, and `304` to a matching `If-None-Match`. Not rate limited.',
    tags,
    access: 'public',
    unlimited: true,
    responses: {
      200: {
        description: 'JSON Web Key Set',
        schema: S.Jwks,
        headers: { ETag: 'Changes when the key set changes.', 'Cache-Control': '`public, max-age=300`' },
      },
      304: { description: 'Not modified: the `If-None-Match` ETag is current.' },
    },
    handler: async (req, reply) => {
      const { jwks, etag } = d.keys();
      reply.header('cache-control', 'public, max-age=300').header('etag', etag);
      if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(etag)) {
        reply.code(304);
        return undefined;
      }
      return jwks;
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/register',
    operationId: 'register',
    summary: 'Create an account with a password and sign in',
    tags,
    access: 'public',
    body: S.RegisterBody,
    responses: { 201: { description: 'Account created; a new session', schema: S.SessionResult } },
    description:
      'Email and phone are stored as `pendingEmail` and `pendingPhone`: unverified, not unique, never used to find an account, and never answered as taken.',
    errors: ['USERNAME_TAKEN', 'WEAK_PASSWORD', 'DISPLAY_NAME_IMPERSONATION', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      const { device, ...input } = req.body;
      const r = await d.accounts().password.register(input, client(req, device));
      reply.code(201);
      return { user: ownView(r.user), tokens: r.tokens };
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/login',
    operationId: 'login',
    summary: 'Sign in with username or email and password',
    tags,
    access: 'public',
    body: S.LoginBody,
    responses: { 200: { description: 'A new session', schema: S.SessionResult } },
    description:
      'An email login finds only a proven email. After repeated failures for one login from any address, the answer is `LOGIN_DELAYED` with a proof-of-work challenge that lets the owner in without waiting.',
    errors: ['INVALID_CREDENTIALS', 'ACCOUNT_BLOCKED', 'LOGIN_DELAYED', 'RATE_LIMITED'],
    handler: async (req) => {
      const r = await d.accounts().password.login(req.body, client(req, req.body.device));
      return { user: ownView(r.user), tokens: r.tokens };
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/refresh',
    operationId: 'refresh',
    summary: 'Rotate a refresh token for a new token pair',
    description:
      'Each refresh token works once. Presenting one that was already rotated revokes the whole session.',
    tags,
    access: 'public',
    body: S.RefreshBody,
    responses: { 200: { description: 'A new token pair', schema: S.TokenPairView } },
    errors: ['INVALID_REFRESH_TOKEN', 'REFRESH_TOKEN_REUSED', 'ACCOUNT_BLOCKED', 'RATE_LIMITED'],
    handler: async (req) => d.accounts().sessions.refresh(req.body.refreshToken, client(req)),
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/logout',
    operationId: 'logout',
    summary: 'End this session (its refresh and access tokens stop working)',
    tags,
    access: 'user',
    responses: { 204: { description: 'Signed out' } },
    errors: ['RATE_LIMITED'],
    handler: async (req, reply) => {
      await d.accounts().sessions.logout(me(req));
      reply.code(204);
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/logout-all',
    operationId: 'logoutAll',
    summary: 'End every session of this account',
    tags,
    access: 'user',
    responses: {
      200: {
        description: 'How many sessions were ended',
        schema: S.z.object({ revoked: S.z.number().int() }),
      },
    },
    errors: ['RATE_LIMITED'],
    handler: async (req) => ({ revoked: await d.accounts().sessions.logoutAll(me(req)) }),
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/otp/request',
    operationId: 'requestOtp',
    summary: 'Send a 6-digit sign-in code by SMS',
    tags,
    access: 'public',
    body: S.OtpRequestBody,
    responses: { 202: { description: 'Code sent', schema: S.OtpRequestResult } },
    errors: ['OTP_COOLDOWN', 'SMS_FAILED', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      const r = await d.accounts().otp.request(req.body.phone, req.ip);
      reply.code(202);
      return r;
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/otp/verify',
    operationId: 'verifyOtp',
    summary: 'Sign in (or sign up) with an SMS code',
    tags,
    access: 'public',
    body: S.OtpVerifyBody,
    responses: {
      200: { description: 'A new session; `created` when the account is new', schema: S.OtpVerifyResult },
    },
    errors: ['INVALID_OTP', 'OTP_ATTEMPTS_EXCEEDED', 'ACCOUNT_BLOCKED', 'RATE_LIMITED'],
    handler: async (req) => {
      const r = await d.accounts().otp.verify(req.body.phone, req.body.code, client(req, req.body.device));
      return { user: ownView(r.user), tokens: r.tokens, created: r.created };
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/auth/github/start',
    operationId: 'githubStart',
    summary: 'Redirect to GitHub to sign in (state + PKCE)',
    tags,
    access: 'public',
    responses: { 302: { description: 'Redirect to GitHub', headers: { location: 'GitHub authorize URL' } } },
    errors: ['OAUTH_DISABLED', 'RATE_LIMITED'],
    handler: async (_req, reply) => {
      const gh = d.github();
      if (!gh) throw authProblems.OAUTH_DISABLED();
      return reply.redirect(await gh.start(), 302);
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/auth/github/callback',
    operationId: 'githubCallback',
    summary: 'GitHub redirects here; exchanges the code and signs in',
    tags,
    access: 'public',
    query: S.GithubCallbackQuery,
    responses: { 200: { description: 'A new session', schema: S.OtpVerifyResult } },
    errors: ['OAUTH_DISABLED', 'OAUTH_FAILED', 'ACCOUNT_BLOCKED', 'RATE_LIMITED'],
    handler: async (req) => {
      const gh = d.github();
      if (!gh) throw authProblems.OAUTH_DISABLED();
      if (req.query.error) throw authProblems.OAUTH_FAILED(`GitHub: ${req.query.error}`);
      if (!req.query.code || !req.query.state) throw authProblems.OAUTH_FAILED('code and state are required');
      const identity = await gh.finish(req.query.code, req.query.state);
      const r = await d.accounts().github.login(identity, client(req));
      return { user: ownView(r.user), tokens: r.tokens, created: r.created };
    },
  });

  const users = ['users'];

  api.route({
    method: 'GET',
    url: '/v1/users/me',
    operationId: 'getMe',
    summary: 'Your account',
    tags: users,
    access: 'user',
    responses: { 200: { description: 'Your account', schema: S.OwnUserView } },
    errors: ['USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => ownView(await d.accounts().profile.me(me(req))),
  });

  api.route({
    method: 'PATCH',
    url: '/v1/users/me',
    operationId: 'updateMe',
    summary: 'Change your display name, email or phone (null removes)',
    description:
      'A new email or phone becomes `pendingEmail` / `pendingPhone`; a proven one stays until the new one is proven with its code. The answer is the same whoever else uses the value.',
    tags: users,
    access: 'user',
    body: S.PatchMeBody,
    responses: { 200: { description: 'Your account', schema: S.OwnUserView } },
    errors: ['DISPLAY_NAME_IMPERSONATION', 'USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => ownView(await d.accounts().profile.updateMe(me(req), req.body)),
  });

  api.route({
    method: 'POST',
    url: '/v1/users/me/phone/verification',
    operationId: 'requestPhoneVerification',
    summary: 'Send a code to your pending phone number',
    tags: users,
    access: 'user',
    responses: { 202: { description: 'Code sent', schema: S.OtpRequestResult } },
    errors: ['NOTHING_TO_VERIFY', 'OTP_COOLDOWN', 'SMS_FAILED', 'USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      const r = await d.accounts().otp.requestPhoneVerification(me(req), req.ip);
      reply.code(202);
      return r;
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/users/me/phone/verify',
    operationId: 'verifyPhone',
    summary: 'Prove your pending phone number with its code; it becomes your phone',
    tags: users,
    access: 'user',
    body: S.CodeBody,
    responses: { 200: { description: 'Your account', schema: S.OwnUserView } },
    errors: [
      'NOTHING_TO_VERIFY',
      'INVALID_OTP',
      'OTP_ATTEMPTS_EXCEEDED',
      'PHONE_TAKEN',
      'USER_NOT_FOUND',
      'RATE_LIMITED',
    ],
    handler: async (req) => ownView(await d.accounts().otp.verifyPhone(me(req), req.body.code)),
  });

  api.route({
    method: 'POST',
    url: '/v1/users/me/email/verification',
    operationId: 'requestEmailVerification',
    summary: 'Mail a code (and link) to your pending email',
    description:
      'The code and the link both work once, until `expiresInSec`, and only for this address: changing your email retires them. Embedded mode without SMTP_URL writes the mail to the log.',
    tags: users,
    access: 'user',
    responses: { 202: { description: 'Mail sent', schema: S.OtpRequestResult } },
    errors: [
      'NOTHING_TO_VERIFY',
      'OTP_COOLDOWN',
      'MAIL_FAILED',
      'EMAIL_DISABLED',
      'USER_NOT_FOUND',
      'RATE_LIMITED',
    ],
    handler: async (req, reply) => {
      const r = await d.accounts().email.requestVerification(me(req), req.ip);
      reply.code(202);
      return r;
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/users/me/email/verify',
    operationId: 'verifyEmail',
    summary: 'Prove your pending email with the mailed code or link token; it becomes your email',
    description:
      'Another account that proved the address first gets `EMAIL_TAKEN`, answered only to a right code, and your address stays pending.',
    tags: users,
    access: 'user',
    body: S.EmailProofBody,
    responses: { 200: { description: 'Your account', schema: S.OwnUserView } },
    errors: [
      'NOTHING_TO_VERIFY',
      'INVALID_OTP',
      'OTP_ATTEMPTS_EXCEEDED',
      'EMAIL_TAKEN',
      'USER_NOT_FOUND',
      'RATE_LIMITED',
    ],
    handler: async (req) => ownView(await d.accounts().email.verify(me(req), req.body)),
  });

  api.route({
    method: 'POST',
    url: '/v1/auth/admin-bootstrap',
    operationId: 'bootstrapAdmin',
    summary: 'Become admin with the one-time bootstrap secret (AUTH_ADMIN_BOOTSTRAP_SECRET)',
    description:
      'Each secret value works once. Refresh your tokens afterwards: the role is in the next access token.',
    tags: ['admin'],
    access: 'user',
    body: S.AdminBootstrapBody,
    responses: { 200: { description: 'Your account, now with the admin role', schema: S.OwnUserView } },
    errors: ['ADMIN_BOOTSTRAP_REFUSED', 'USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => ownView(await d.accounts().admin.bootstrap(me(req), req.body.secret, req.ip)),
  });

  api.route({
    method: 'GET',
    url: '/v1/users/me/devices',
    operationId: 'listDevices',
    summary: 'Your signed-in devices (active sessions)',
    tags: users,
    access: 'user',
    responses: { 200: { description: 'Active sessions, newest first', schema: S.DevicesView } },
    errors: ['RATE_LIMITED'],
    handler: async (req) => ({ devices: await d.accounts().devices.list(me(req)) }),
  });

  api.route({
    method: 'DELETE',
    url: '/v1/users/me/devices/:id',
    operationId: 'revokeDevice',
    summary: 'Sign a device out at once',
    tags: users,
    access: 'user',
    params: S.IdParams,
    responses: { 204: { description: 'Revoked' } },
    errors: ['DEVICE_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      await d.accounts().devices.revoke(me(req), req.params.id);
      reply.code(204);
    },
  });

  api.route({
    method: 'PUT',
    url: '/v1/users/me/public-key',
    operationId: 'putPublicKey',
    summary: 'Publish your public key for end-to-end encryption',
    tags: users,
    access: 'user',
    body: S.PublicKeyBody,
    responses: { 200: { description: 'The key as stored', schema: S.PublicKeyView } },
    errors: ['USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => {
      const u = await d.accounts().profile.setPublicKey(me(req), req.body.algorithm, req.body.key);
      return { username: u.username, ...u.publicKey! };
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/users/:username',
    operationId: 'getUser',
    summary: 'Someone’s public profile',
    tags: users,
    access: 'user',
    params: S.UsernameParams,
    responses: { 200: { description: 'Public profile', schema: S.PublicUserView } },
    errors: ['USER_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => publicView(await d.accounts().profile.userByUsername(req.params.username)),
  });

  api.route({
    method: 'GET',
    url: '/v1/users/:username/public-key',
    operationId: 'getPublicKey',
    summary: 'Someone’s published public key',
    tags: users,
    access: 'user',
    params: S.UsernameParams,
    responses: { 200: { description: 'The key', schema: S.PublicKeyView } },
    errors: ['USER_NOT_FOUND', 'NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => {
      const u = await d.accounts().profile.userByUsername(req.params.username);
      if (!u.publicKey) throw problems.NOT_FOUND(`${u.username} has not published a key`);
      return { username: u.username, ...u.publicKey };
    },
  });

  for (const blocked of [true, false]) {
    api.route({
      method: 'POST',
      url: `/v1/admin/users/:id/${blocked ? 'block' : 'unblock'}`,
      operationId: blocked ? 'blockUser' : 'unblockUser',
      summary: blocked ? 'Block a user (ends their sessions)' : 'Unblock a user',
      tags: ['admin'],
      access: 'admin',
      params: S.IdParams,
      body: S.BlockBody,
      responses: { 200: { description: 'The user', schema: S.OwnUserView } },
      errors: ['USER_NOT_FOUND', 'RATE_LIMITED'],
      handler: async (req) =>
        ownView(
          await d
            .accounts()
            .admin.setBlocked(
              me(req).userId,
              req.params.id,
              blocked,
              req.body?.reason ?? (blocked ? 'blocked by an administrator' : 'unblocked'),
            ),
        ),
    });
  }
}
