import { z } from 'zod';

export { z };

export const Username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.]+$/, 'only letters, digits, _ and .')
  .transform((s) => s.toLowerCase());
export const Password = z.string().min(1).max(256);
export const Email = z.email().max(254);
export const Phone = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +4712345678');
export const DisplayName = z.string().trim().min(1).max(64);
export const Device = z.strictObject({
  name: z.string().trim().min(1).max(64),
  platform: z.string().trim().min(1).max(32),
});
export const Uuid = z.uuid();

export const RegisterBody = z.strictObject({
  username: Username,
  password: Password,
  email: Email.optional(),
  phone: Phone.optional(),
  displayName: DisplayName.optional(),
  device: Device.optional(),
});

export const LoginBody = z.strictObject({
  login: z.string().min(1).max(254),
  password: Password,
  device: Device.optional(),
});

export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });
export const OtpRequestBody = z.strictObject({ phone: Phone });
export const OtpVerifyBody = z.strictObject({
  phone: Phone,
  code: z.string().regex(/^\d{6}$/, 'must be 6 digits'),
  device: Device.optional(),
});
export const PatchMeBody = z
  .strictObject({
    displayName: DisplayName.optional(),
    email: Email.nullable().optional(),
    phone: Phone.nullable().optional(),
  })
  .refine((b) => Object.keys(b).length > 0, 'send at least one field');
export const PublicKeyBody = z.strictObject({
  algorithm: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.+-]+$/),
  key: z.string().min(16).max(8192),
});
export const BlockBody = z.strictObject({ reason: z.string().trim().min(1).max(256).optional() }).optional();

export const UsernameParams = z.strictObject({ username: Username });
export const IdParams = z.strictObject({ id: Uuid });
export const GithubCallbackQuery = z.object({
  code: z.string().min(1).max(512).optional(),
  state: z.string().min(1).max(512).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(1024).optional(),
});

export const TokenPairView = z.object({
  tokenType: z.literal('Bearer'),
  accessToken: z.string(),
  accessTokenExpiresAt: z.iso.datetime(),
  refreshToken: z.string(),
  refreshTokenExpiresAt: z.iso.datetime(),
  sessionId: z.uuid(),
});

export const OwnUserView = z.object({
  id: z.uuid(),
  username: z.string(),
  displayName: z.string(),
  email: z.string().optional(),
  phone: z.string().optional(),
  roles: z.array(z.enum(['user', 'admin'])),
  status: z.enum(['active', 'blocked']),
  hasPassword: z.boolean(),
  githubLinked: z.boolean(),
  createdAt: z.iso.datetime(),
});

export const PublicUserView = z.object({
  id: z.uuid(),
  username: z.string(),
  displayName: z.string(),
  status: z.enum(['active', 'blocked']),
});

export const SessionResult = z.object({ user: OwnUserView, tokens: TokenPairView });
export const OtpVerifyResult = SessionResult.extend({ created: z.boolean() });
export const OtpRequestResult = z.object({ expiresInSec: z.number().int(), resendInSec: z.number().int() });
export const PublicKeyView = z.object({
  username: z.string(),
  algorithm: z.string(),
  key: z.string(),
  updatedAt: z.iso.datetime(),
});
export const DeviceView = z.object({
  id: z.uuid(),
  name: z.string(),
  platform: z.string(),
  ip: z.string(),
  userAgent: z.string(),
  createdAt: z.iso.datetime(),
  lastSeenAt: z.iso.datetime(),
  current: z.boolean(),
});
export const DevicesView = z.object({ devices: z.array(DeviceView) });
export const Jwks = z.object({
  keys: z.array(
    z.object({
      kty: z.string(),
      crv: z.string(),
      x: z.string(),
      kid: z.string(),
      alg: z.string(),
      use: z.string(),
    }),
  ),
});
