import { hash, verify } from '@node-rs/argon2';

// OWASP's argon2id minimum (m=19 MiB, t=2, p=1): strong, and ~20 ms on our 2-core machines.
const PARAMS = {
  algorithm: 2 /* Algorithm.Argon2id (a const enum) */,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
};

/** A small list of the most common passwords (and their obvious variants are caught by length). */
const COMMON = new Set(
  `password password1 password12 password123 password1234 123456789 1234567890 12345678910 qwertyuiop
  qwerty12345 qwerty123456 1q2w3e4r5t 1q2w3e4r5t6y iloveyou123 abc1234567 letmein123 welcome123
  administrator passw0rd123 football123 baseball123 superman123 trustno1234 11111111111 0000000000
  1111111111 zaq12wsxcde 987654321 0987654321 princess123 sunshine123 starwars123 dragon12345
  monkey12345 changeme123 whatever123 qwertyuiop1 asdfghjkl1 zxcvbnm123 mypassword1 secret12345`
    .split(/\s+/)
    .filter(Boolean),
);

/** Why a password is refused, or null. Pure: table-tested. */
export function passwordProblem(password: string, username: string): string | null {
  if (password.length < 10) return 'must be at least 10 characters';
  if (password.length > 256) return 'must be at most 256 characters';
  const lower = password.toLowerCase();
  if (lower === username.toLowerCase() || lower.includes(username.toLowerCase()))
    return 'must not contain the username';
  if (COMMON.has(lower)) return 'is too common';
  if (new Set(password).size < 4) return 'needs more variety of characters';
  return null;
}

export function hashPassword(password: string): Promise<string> {
  return hash(password, PARAMS);
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** A hash to verify against when the user does not exist, so both paths cost the same time. */
export function dummyHash(): Promise<string> {
  return (dummy ??= hashPassword('parley-timing-equalizer-' + Math.random()));
}
