import { expect } from 'chai';
import { messageIdFor, parseCommand } from './envelopes.ts';
import { previewText } from './view.ts';
import { commandProblem, keyProblem, SEND_LIMITS, storableProblem, textProblem } from './sendrules.ts';

describe('send rules: text', () => {
  const cases: [string, string, string | undefined][] = [
    ['plain ASCII', 'hello', undefined],
    ['an astral emoji (a surrogate pair)', 'hi 👋🏽', undefined],
    ['noncharacters U+FFFE and U+FFFF', '\uFFFE\uFFFF', undefined],
    ['U+0001 and DEL', '\u0001\u007f', undefined],
    ['U+0000', 'a\u0000b', 'text must not contain U+0000'],
    [
      'a lone high surrogate at the end',
      'ab\uD83D',
      'text must be well-formed Unicode: lone surrogate U+D83D at index 2',
    ],
    ['a lone low surrogate', '\uDC00x', 'text must be well-formed Unicode: lone surrogate U+DC00 at index 0'],
    [
      'two high surrogates',
      '\uD800\uD800\uDC00',
      'text must be well-formed Unicode: lone surrogate U+D800 at index 0',
    ],
    ['a reversed pair', '\uDE00\uD83D', 'text must be well-formed Unicode: lone surrogate U+DE00 at index 0'],
  ];
  for (const [what, s, want] of cases)
    it(`${want ? 'refuses' : 'accepts'} ${what}`, () => expect(textProblem(s)).to.equal(want));
});

describe('send rules: keys and documents', () => {
  const keys: [string, string | undefined][] = [
    ['name', undefined],
    ['', 'key must not be empty'],
    ['$where', 'key must not begin with "$"'],
    ['a.b', 'key must not contain "."'],
    ['a$', undefined],
    ['k\u0000', 'text must not contain U+0000'],
    ['x'.repeat(SEND_LIMITS.keyChars + 1), `key is longer than ${SEND_LIMITS.keyChars} characters`],
  ];
  for (const [k, want] of keys)
    it(`${want ? 'refuses' : 'accepts'} the key ${JSON.stringify(k.slice(0, 12))}`, () =>
      expect(keyProblem(k)).to.equal(want));

  let deep: unknown = 'end';
  for (let i = 0; i < SEND_LIMITS.depth + 1; i++) deep = [deep];
  const many = Object.fromEntries(Array.from({ length: SEND_LIMITS.keys + 1 }, (_, i) => [`k${i}`, i]));
  const docs: [string, unknown, { path: string; message: string } | undefined][] = [
    ['a flat command', { a: 'x', b: 1, c: [true, null] }, undefined],
    [
      'a nested bad key',
      { meta: { ok: 1, $set: 2 } },
      { path: 'meta.$set', message: 'key must not begin with "$"' },
    ],
    ['a dotted key', { meta: { 'a.b': 1 } }, { path: 'meta.a.b', message: 'key must not contain "."' }],
    [
      'a lone surrogate in an array',
      { list: ['ok', '\uD800'] },
      { path: 'list.1', message: 'text must be well-formed Unicode: lone surrogate U+D800 at index 0' },
    ],
    ['an unsafe integer', { n: 2 ** 53 }, { path: 'n', message: 'integer must be within ±(2^53 - 1)' }],
    ['an infinite number', { n: Infinity }, { path: 'n', message: 'number must be finite' }],
    [
      'nesting past the limit',
      deep,
      {
        path: Array(SEND_LIMITS.depth).fill('0').join('.'),
        message: `nests deeper than ${SEND_LIMITS.depth} levels`,
      },
    ],
    ['too many keys', many, { path: '(value)', message: `more than ${SEND_LIMITS.keys} keys` }],
    ['a bare string with U+0000', 'a\u0000', { path: '(value)', message: 'text must not contain U+0000' }],
  ];
  for (const [what, doc, want] of docs)
    it(`${want ? 'refuses' : 'accepts'} ${what}`, () => expect(storableProblem(doc)).to.deep.equal(want));
});

describe('send rules: whole commands (the API before its ack, the worker on every record)', () => {
  const good = {
    type: 'message.send',
    version: 1,
    conversationId: '6f1c2c4e-5d5e-4f7b-9a51-2b1c0e7f3a10',
    senderId: 'sender',
    clientMsgId: 'm1',
    body: 'hi',
    acceptedAt: 1,
    id: messageIdFor('6f1c2c4e-5d5e-4f7b-9a51-2b1c0e7f3a10', 'sender', 'm1'),
  };
  const raw = (over: Record<string, unknown>) => Buffer.from(JSON.stringify({ ...good, ...over }));

  it('accepts a valid command', () => expect(parseCommand(raw({}))).to.deep.include({ ok: true }));

  it('accepts the longest body and ciphertext, and a 128-character clientMsgId', () => {
    expect(parseCommand(raw({ body: '👋'.repeat(SEND_LIMITS.bodyChars / 2) })).ok).to.equal(true);
    const id = 'k'.repeat(SEND_LIMITS.clientMsgIdChars);
    const c = { body: undefined, ciphertext: 'c'.repeat(SEND_LIMITS.ciphertextChars), clientMsgId: id };
    expect(parseCommand(raw({ ...c, id: messageIdFor(good.conversationId, 'sender', id) })).ok).to.equal(
      true,
    );
  });

  // Each: what, the record, the DLQ kind, the exact reason.
  const poison: [string, Buffer, string, string][] = [
    ['not JSON', Buffer.from('{nope'), 'unparseable', 'not JSON'],
    ['a JSON array', Buffer.from('[1]'), 'unparseable', 'not a JSON object'],
    ['version 2', raw({ version: 2 }), 'version', 'unknown envelope version 2; this worker reads 1'],
    [
      'no version',
      raw({ version: undefined }),
      'version',
      'unknown envelope version undefined; this worker reads 1',
    ],
    [
      'a lone surrogate in the body',
      raw({ body: 'a\uD800' }),
      'invalid',
      'body: text must be well-formed Unicode: lone surrogate U+D800 at index 1',
    ],
    [
      'U+0000 in the ciphertext',
      raw({ body: undefined, ciphertext: '\u0000' }),
      'invalid',
      'ciphertext: text must not contain U+0000',
    ],
    [
      'an empty body',
      raw({ body: '' }),
      'invalid',
      'body: Too small: expected string to have >=1 characters',
    ],
    [
      'a body over the limit',
      raw({ body: 'x'.repeat(SEND_LIMITS.bodyChars + 1) }),
      'invalid',
      `body: Too big: expected string to have <=${SEND_LIMITS.bodyChars} characters`,
    ],
    [
      'a clientMsgId with a space',
      raw({ clientMsgId: 'a b' }),
      'invalid',
      'clientMsgId: printable ASCII without spaces',
    ],
    ['a replyTo that is not a UUID', raw({ replyTo: 'nope' }), 'invalid', 'replyTo: Invalid UUID'],
    [
      'both body and ciphertext',
      raw({ ciphertext: 'x' }),
      'invalid',
      'body: send exactly one of body or ciphertext',
    ],
    [
      'neither body nor ciphertext',
      raw({ body: undefined }),
      'invalid',
      'body: send exactly one of body or ciphertext',
    ],
    ['a forged id', raw({ id: 'x' }), 'invalid', 'id does not match conversation, sender and clientMsgId'],
    ['an unknown field', raw({ admin: true }), 'invalid', ': Unrecognized key: "admin"'],
  ];
  for (const [what, record, kind, reason] of poison)
    it(`sends ${what} to the DLQ as ${kind}: ${reason}`, () =>
      expect(parseCommand(record)).to.deep.equal({ ok: false, kind, reason }));

  it('accepts the largest command the fields allow, and refuses a larger record whatever its fields', () => {
    // 65,536 control characters: each is 6 bytes in JSON (\u0001), the worst case.
    const worst = { ...good, body: undefined, ciphertext: '\u0001'.repeat(SEND_LIMITS.ciphertextChars) };
    expect(commandProblem(worst)).to.equal(undefined);
    const padded = { ...good, pad: 'x'.repeat(SEND_LIMITS.commandBytes) };
    expect(commandProblem(padded)).to.deep.equal({
      path: '(command)',
      message: `command is ${Buffer.byteLength(JSON.stringify(padded))} bytes; at most ${SEND_LIMITS.commandBytes}`,
    });
  });
});

describe('conversation previews', () => {
  const cases: [string, string, string][] = [
    ['a short body whole', 'hello', 'hello'],
    ['140 code units of a longer body', 'x'.repeat(200), 'x'.repeat(140)],
    ['one unit less rather than half a pair', 'x'.repeat(139) + '👋 tail', 'x'.repeat(139)],
    ['a pair that ends at the limit', 'x'.repeat(138) + '👋 tail', 'x'.repeat(138) + '👋'],
  ];
  for (const [what, body, want] of cases)
    it(`keeps ${what}`, () => {
      expect(previewText(body)).to.equal(want);
      expect(textProblem(previewText(body))).to.equal(undefined);
    });
});
