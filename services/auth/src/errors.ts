import { problemsOf, type Catalogue } from '@parley/common';

/** Error codes the auth service adds to the common catalogue. Stable: clients switch on them. */
export const authErrors = {
  USERNAME_TAKEN: {
    status: 409,
    title: 'Username taken',
    doc: 'Another account has this username (case-insensitive).',
  },
  EMAIL_TAKEN: { status: 409, title: 'Email taken', doc: 'Another account uses this email address.' },
  PHONE_TAKEN: { status: 409, title: 'Phone taken', doc: 'Another account uses this phone number.' },
  WEAK_PASSWORD: {
    status: 422,
    title: 'Password too weak',
    doc: 'At least 10 characters, not the username, not a common password.',
  },
  INVALID_CREDENTIALS: {
    status: 401,
    title: 'Invalid credentials',
    doc: 'The login or password is wrong (deliberately not saying which).',
  },
  ACCOUNT_BLOCKED: {
    status: 403,
    title: 'Account blocked',
    doc: 'An administrator or the inactivity policy blocked this account; contact support.',
  },
  INVALID_REFRESH_TOKEN: {
    status: 401,
    title: 'Invalid refresh token',
    doc: 'Unknown, expired or revoked refresh token; sign in again.',
  },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    title: 'Refresh token reused',
    doc: 'This refresh token was already rotated: the session is revoked as a precaution. Sign in again.',
  },
  INVALID_OTP: { status: 401, title: 'Invalid code', doc: 'The code is wrong, expired or already used.' },
  OTP_ATTEMPTS_EXCEEDED: {
    status: 429,
    title: 'Too many wrong codes',
    doc: 'The code is burned after too many wrong guesses; request a new one.',
  },
  OTP_COOLDOWN: {
    status: 429,
    title: 'Wait before requesting another code',
    doc: 'A code was sent moments ago; see Retry-After.',
  },
  SMS_FAILED: {
    status: 502,
    title: 'SMS could not be sent',
    doc: 'The SMS provider refused or is unreachable.',
  },
  OAUTH_DISABLED: {
    status: 404,
    title: 'GitHub sign-in is not configured',
    doc: 'Set GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET.',
  },
  OAUTH_FAILED: {
    status: 400,
    title: 'GitHub sign-in failed',
    doc: 'Unknown or expired state, a denied authorization, or GitHub rejected the code.',
  },
  DEVICE_NOT_FOUND: {
    status: 404,
    title: 'No such device',
    doc: 'No active session with this id belongs to you.',
  },
  USER_NOT_FOUND: { status: 404, title: 'No such user', doc: 'No user has this id or username.' },
} as const satisfies Catalogue;

export const authProblems = problemsOf(authErrors);
