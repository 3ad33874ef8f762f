import { atLeastOneField, nonBlank } from '@parley/common';
import { z } from 'zod';

export { z };

export const Username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.]+$/, 'only letters, digits, _ and .')
  .transform((s) => s.toLowerCase());
/** Any password an account may have, for signing in. */
export const Password = z.string().min(1).max(256);
/** A new password: the length rule is in the document; the rest of the policy is WEAK_PASSWORD (422). */
export const NewPassword = z.string().min(10, 'must be at least 10 characters').max(256);
// RFC 5321 limits the local part to 64 octets and a domain label to 63; zod's pattern does not.
export const Email = z
  .email()
  .max(254)
  .refine((e) => {
    const [local, domain] = [e.slice(0, e.lastIndexOf('@')), e.slice(e.lastIndexOf('@') + 1)];
    return local.length <= 64 && domain.split('.').every((label) => label.length <= 63);
  }, 'local part at most 64 and domain labels at most 63 characters');
export const Phone = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number such as +4712345678');
export const DisplayName = nonBlank(64);
export const Device = z.strictObject({ name: nonBlank(64), platform: nonBlank(32) });
export const Uuid = z.uuid();

export const RegisterBody = z.strictObject({
  username: Username,
  password: NewPassword,
  email: Email.optional(),
  phone: Phone.optional(),
  displayName: DisplayName.optional(),
  device: Device.optional(),
});

export const ProofOfWork = z.strictObject({
  challenge: z.string().min(1).max(64),
  nonce: z.string().min(1).max(64),
});

export const LoginBody = z.strictObject({
  login: z.string().min(1).max(254),
  password: Password,
  device: Device.optional(),
  /** Skips a per-account delay (LOGIN_DELAYED): the challenge it handed out, solved. */
  proof: ProofOfWork.optional(),
});

export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) });
export const OtpRequestBody = z.strictObject({ phone: Phone });
export const OtpVerifyBody = z.strictObject({
  phone: Phone,
  code: z.string().regex(/^\d{6}$/, 'must be 6 digits'),
  device: Device.optional(),
});
export const PatchMeBody = atLeastOneField(
  z.strictObject({
    displayName: DisplayName.optional(),
    email: Email.nullable().optional(),
    phone: Phone.nullable().optional(),
  }),
);
export const CodeBody = z.strictObject({ code: z.string().regex(/^\d{6}$/, 'must be 6 digits') });
/** The six digits from the mail, or the token of its link. */
export const EmailProofBody = z.union([
  CodeBody,
  z.strictObject({
    token: z
      .string()
      .min(32)
      .max(128)
      .regex(/^[A-Za-z0-9_-]+$/, 'must be the token from the link'),
  }),
]);
export const AdminBootstrapBody = z.strictObject({ secret: z.string().min(1).max(512) });
export const PublicKeyBody = z.strictObject({
  algorithm: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.+-]+$/),
  key: z.string().min(16).max(8192),
});
export const BlockBody = z.strictObject({ reason: nonBlank(256).optional() }).optional();

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
  email: z
    .string()
    .optional()
    .describe('Proven email (a mailed code, or GitHub’s verified primary); logins resolve only this.'),
  phone: z.string().optional().describe('Proven phone number; SMS sign-in resolves only this.'),
  pendingEmail: z
    .string()
    .optional()
    .describe(
      'Email you entered, unverified and never used to find an account, until proven with its code (POST /v1/users/me/email/verification).',
    ),
  pendingPhone: z
    .string()
    .optional()
    .describe('Number you entered, waiting for its code (POST /v1/users/me/phone/verification).'),
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
