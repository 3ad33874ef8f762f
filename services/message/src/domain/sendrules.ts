import { JSON_LIMITS } from '@parley/common';
import { z } from 'zod';

/**
 * The one validation of a send (#21), shared by the API (the REST body, the WebSocket `send`
 * frame, and the command it produces) and the worker (every record it consumes). A command the
 * API acks must be one the worker can store on either store and give back as it came, so anything
 * SQLite or MongoDB/FerretDB (PostgreSQL's jsonb) could refuse or alter is refused here, before
 * the ack: a failure after it would park an acked message in the dead-letter topic, unseen.
 * Pure: no I/O, so it is table-tested and the worker pays no round trip for it.
 */
export const SEND_LIMITS = {
  /** clientMsgId: the idempotency key, printable ASCII without spaces. */
  clientMsgIdChars: 128,
  /** body, in code points (as zod and JSON Schema's maxLength count them). */
  bodyChars: 4000,
  /** ciphertext, in code points. */
  ciphertextChars: 65_536,
  /**
   * A whole command as JSON, in UTF-8 bytes: above the largest the fields allow (65,536 control
   * characters escaped as `\u0001` are 384 KiB), under Kafka's default 1 MiB record.
   */
  commandBytes: 512 * 1024,
  /** Nesting of objects and arrays (BSON allows 100; the edge refuses deeper JSON already). */
  depth: JSON_LIMITS.maxDepth,
  /** Object keys in one command, all levels together. */
  keys: 256,
  /** Characters of one object key. */
  keyChars: 128,
} as const;

/** What breaks a rule: where (a dotted path) and why, in words a client developer can act on. */
export interface SendViolation {
  path: string;
  message: string;
}

const hex = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why a string cannot be stored as it is, or undefined. U+0000: PostgreSQL's jsonb (FerretDB)
 * refuses it. A lone surrogate (U+D800-U+DFFF not in a pair) has no UTF-8 encoding: the MongoDB
 * driver writes U+FFFD instead, so the message would come back changed.
 */
export function textProblem(s: string): string | undefined {
  // The common case in native code (ES2024's isWellFormed, in Node 20; the lib is ES2023).
  if (s.indexOf('\u0000') === -1 && (s as unknown as { isWellFormed(): boolean }).isWellFormed())
    return undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return 'text must not contain U+0000';
    if (c < 0xd800 || c > 0xdfff) continue;
    const next = s.charCodeAt(i + 1);
    if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      i++;
      continue;
    }
    return `text must be well-formed Unicode: lone surrogate ${hex(c)} at index ${i}`;
  }
  return undefined;
}

/** Why an object key cannot be stored, or undefined (MongoDB reserves `$` and `.` in field names). */
export function keyProblem(k: string): string | undefined {
  if (k.length === 0) return 'key must not be empty';
  if (k.length > SEND_LIMITS.keyChars) return `key is longer than ${SEND_LIMITS.keyChars} characters`;
  if (k.startsWith('$')) return 'key must not begin with "$"';
  if (k.includes('.')) return 'key must not contain "."';
  return textProblem(k);
}

/**
 * The first part of `value` that a store could refuse or alter, walked iteratively (so any depth is
 * safe to check): text (see textProblem), keys (keyProblem), nesting, key counts, and numbers
 * that are not finite or are integers beyond 2^53 (they would come back rounded).
 */
export function storableProblem(value: unknown, path = ''): SendViolation | undefined {
  // A child's path is spelled out only when it has a problem: the walk runs once a send (#19).
  interface Node {
    v: unknown;
    parent: Node | undefined;
    key: string;
    depth: number;
  }
  const pathOf = (n: Node, child?: string): string => {
    const parts: string[] = child === undefined ? [] : [child];
    for (let at: Node | undefined = n; at?.parent; at = at.parent) parts.push(at.key);
    parts.reverse();
    if (path) parts.unshift(path);
    return parts.join('.') || '(value)';
  };
  const stack: Node[] = [{ v: value, parent: undefined, key: '', depth: 0 }];
  let keys = 0;
  for (let top = stack.pop(); top; top = stack.pop()) {
    const v = top.v;
    if (typeof v === 'string') {
      const why = textProblem(v);
      if (why) return { path: pathOf(top), message: why };
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path: pathOf(top), message: 'number must be finite' };
      if (Number.isInteger(v) && !Number.isSafeInteger(v))
        return { path: pathOf(top), message: 'integer must be within ±(2^53 - 1)' };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (top.depth >= SEND_LIMITS.depth)
      return { path: pathOf(top), message: `nests deeper than ${SEND_LIMITS.depth} levels` };
    const depth = top.depth + 1;
    if (Array.isArray(v)) {
      // Pushed last to first, so elements are checked in order.
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i] as unknown, parent: top, key: String(i), depth });
      continue;
    }
    const ks = Object.keys(v);
    keys += ks.length;
    if (keys > SEND_LIMITS.keys) return { path: pathOf(top), message: `more than ${SEND_LIMITS.keys} keys` };
    for (const k of ks) {
      const why = keyProblem(k);
      if (why) return { path: pathOf(top, k), message: why };
    }
    for (let i = ks.length - 1; i >= 0; i--)
      stack.push({ v: (v as Record<string, unknown>)[ks[i]!], parent: top, key: ks[i]!, depth });
  }
  return undefined;
}

/** A text field of a send: length in code points, then textProblem. */
function storableText(max: number) {
  return z
    .string()
    .min(1)
    .max(max)
    .superRefine((s, ctx) => {
      const why = textProblem(s);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    });
}

/**
 * The fields a client sends, as the REST body, the WebSocket frame and the command declare them:
 * one definition, so what the API accepts is what the worker accepts.
 */
export const SendFields = {
  clientMsgId: z
    .string()
    .min(1)
    .max(SEND_LIMITS.clientMsgIdChars)
    .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces'),
  body: storableText(SEND_LIMITS.bodyChars).meta({
    description: `Text, 1-${SEND_LIMITS.bodyChars} code points of well-formed Unicode (no U+0000, no lone surrogate).`,
  }),
  ciphertext: storableText(SEND_LIMITS.ciphertextChars).meta({
    description: `Opaque end-to-end encrypted payload as text, 1-${SEND_LIMITS.ciphertextChars} code points of well-formed Unicode (no U+0000, no lone surrogate); the server never reads it.`,
  }),
  replyTo: z.uuid(),
};

/** What makes a whole command unstorable: the generic walk, then its size as a record. */
export function commandProblem(command: Record<string, unknown>): SendViolation | undefined {
  const shape = storableProblem(command);
  if (shape) return shape;
  if ((command.body === undefined) === (command.ciphertext === undefined))
    return { path: 'body', message: 'send exactly one of body or ciphertext' };
  const bytes = Buffer.byteLength(JSON.stringify(command));
  if (bytes > SEND_LIMITS.commandBytes)
    return { path: '(command)', message: `command is ${bytes} bytes; at most ${SEND_LIMITS.commandBytes}` };
  return undefined;
}
