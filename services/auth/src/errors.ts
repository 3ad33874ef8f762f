import { problemsOf, type Catalogue } from '@parley/common';

/** Error codes the auth service adds to the common catalogue. Stable: clients switch on them. */
export const authErrors = {
  USERNAME_TAKEN: {
    status: 409,
    title: 'Username taken',
    doc: 'Another account has this username (case-insensitive).',
  },
  PHONE_TAKEN: {
    status: 409,
    title: 'Phone taken',
    doc: 'Another account proved this number first. Only answered after you proved it too (the right code), so it reveals nothing to someone who does not hold the phone.',
  },
  EMAIL_TAKEN: {
    status: 409,
    title: 'Email taken',
    doc: 'Another account proved this email first. Only answered after you proved it too (the code or link from the mail), so it reveals nothing to someone who cannot read that mailbox. Your address stays pending.',
  },
  NOTHING_TO_VERIFY: {
    status: 409,
    title: 'Nothing waiting for verification',
    doc: 'Set a phone number or email (register or PATCH /v1/users/me) before asking for or entering its code.',
  },
  EMAIL_DISABLED: {
    status: 404,
    title: 'Email is not configured',
    doc: 'This installation sends no mail (SMTP_URL is not set), so an email cannot be verified here.',
  },
  MAIL_FAILED: {
    status: 502,
    title: 'Mail could not be sent',
    doc: 'The SMTP server refused the mail or is unreachable; try again later.',
  },
  DISPLAY_NAME_IMPERSONATION: {
    status: 422,
    title: 'Display name is another user’s username',
    doc: 'A display name may not be (ignoring case, a leading @ and Unicode compatibility forms) the username of another account.',
  },
  LOGIN_DELAYED: {
    status: 429,
    title: 'Too many failed sign-ins for this account',
    doc: 'The account is in a back-off after repeated wrong passwords from anywhere. Wait for Retry-After, or solve the proof of work in `challenge` (find `nonce` so that SHA-256 of `challenge:nonce` starts with `difficulty` zero bits) and send `{proof: {challenge, nonce}}` with the next login.',
  },
  ADMIN_BOOTSTRAP_REFUSED: {
    status: 403,
    title: 'Admin bootstrap refused',
    doc: 'The bootstrap secret is wrong, already used, or not configured (one answer for all three).',
  },
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
