/** The mail that proves an address: pure, so its wording and link are table-tested. */

export interface VerificationMail {
  subject: string;
  text: string;
  html: string;
}

/** The link a verification mail carries: `base` with the token in its query (`?token=` or `&token=`). */
export function verificationLink(base: string, token: string): string {
  const url = new URL(base);
  url.searchParams.set('token', token);
  return url.toString();
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** What the user reads: the code, the link when there is one, and how long both work. */
export function verificationMail(m: {
  username: string;
  code: string;
  link?: string | undefined;
  ttlSec: number;
}): VerificationMail {
  const n = Math.max(1, Math.round(m.ttlSec / 60));
  const minutes = `${n} minute${n === 1 ? '' : 's'}`;
  const lines = [
    `Hello ${m.username},`,
    '',
    `Your Parley email code is ${m.code}. Enter it in Parley to confirm this address.`,
    ...(m.link ? ['', `Or open this link while signed in: ${m.link}`] : []),
    '',
    `It expires in ${minutes} and works once. If you did not ask for it, ignore this mail: nothing changes.`,
  ];
  const html = [
    `<p>Hello ${escapeHtml(m.username)},</p>`,
    `<p>Your Parley email code is <strong>${m.code}</strong>. Enter it in Parley to confirm this address.</p>`,
    ...(m.link ? [`<p>Or <a href="${escapeHtml(m.link)}">open this link</a> while signed in.</p>`] : []),
    `<p>It expires in ${minutes} and works once. If you did not ask for it, ignore this mail: nothing changes.</p>`,
  ].join('\n');
  return { subject: `Your Parley email code: ${m.code}`, text: lines.join('\n'), html };
}

/** Codes for one pending address under one change (`ref`): a new address or a change back retires them. */
export function emailVerifySubject(userId: string, ref: string | undefined, email: string): string {
  return `verify-email:${userId}:${ref ?? '-'}:${email}`;
}
