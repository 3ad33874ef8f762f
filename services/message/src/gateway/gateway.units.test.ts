import { expect } from 'chai';
import {
  route,
  parseChatEvent,
  conversationChannel,
  userChannel,
  packRelayed,
  unpackRelayed,
} from '../fanout/routing.ts';
import { chatEvent } from '../domain/envelopes.ts';
import { aggregatePresence, encodeEntry } from '../domain/presence.ts';
import { parseClientFrame, parseCursors } from './protocol.ts';
import { originAllowed } from './origin.ts';
import { TokenBucket } from './tokenbucket.ts';

const conv = '0b7f5c1e-8a4d-4c2e-9f00-1234567890ab';

describe('gateway protocol: client frames', () => {
  const bad: [string, string, string, RegExp][] = [
    ['not JSON', '{"type":', 'MALFORMED_FRAME', /not valid JSON/],
    ['a JSON array', '[1,2]', 'MALFORMED_FRAME', /JSON object/],
    ['a JSON string', '"send"', 'MALFORMED_FRAME', /JSON object/],
    ['no type', '{"id":"x"}', 'MALFORMED_FRAME', /no string `type`/],
    ['a numeric type', '{"type":7}', 'MALFORMED_FRAME', /no string `type`/],
    ['an unknown type', '{"type":"subscribe"}', 'UNKNOWN_TYPE', /unknown frame type "subscribe"/],
    [
      'send without conversation',
      '{"type":"send","clientMsgId":"a","body":"x"}',
      'VALIDATION_FAILED',
      /conversationId/,
    ],
    [
      'send with a non-uuid conversation',
      '{"type":"send","conversationId":{"$ne":null},"clientMsgId":"a","body":"x"}',
      'VALIDATION_FAILED',
      /conversationId/,
    ],
    [
      'send with both body and ciphertext',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a","body":"x","ciphertext":"y"}`,
      'VALIDATION_FAILED',
      /exactly one of body or ciphertext/,
    ],
    [
      'send with neither body nor ciphertext',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a"}`,
      'VALIDATION_FAILED',
      /exactly one of body or ciphertext/,
    ],
    [
      'send with an unknown field',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a","body":"x","admin":true}`,
      'VALIDATION_FAILED',
      /admin/,
    ],
    [
      'send with an oversize body',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a","body":"${'x'.repeat(4001)}"}`,
      'VALIDATION_FAILED',
      /body/,
    ],
    [
      'send with a lone surrogate in the body (#21: the store would change it)',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a","body":"x\\ud800"}`,
      'VALIDATION_FAILED',
      /^body: text must be well-formed Unicode: lone surrogate U\+D800 at index 1$/,
    ],
    [
      'send with a lone surrogate in the ciphertext',
      `{"type":"send","conversationId":"${conv}","clientMsgId":"a","ciphertext":"\\udfff"}`,
      'VALIDATION_FAILED',
      /^ciphertext: text must be well-formed Unicode: lone surrogate U\+DFFF at index 0$/,
    ],
    [
      'read with a negative seq',
      `{"type":"read","conversationId":"${conv}","seq":-1}`,
      'VALIDATION_FAILED',
      /seq/,
    ],
    [
      'read with a string seq',
      `{"type":"read","conversationId":"${conv}","seq":"5"}`,
      'VALIDATION_FAILED',
      /seq/,
    ],
    [
      'presence offline (server-decided)',
      '{"type":"presence","status":"offline"}',
      'VALIDATION_FAILED',
      /status/,
    ],
    ['auth without token', '{"type":"auth"}', 'VALIDATION_FAILED', /token/],
    ['resume without cursors', '{"type":"resume"}', 'VALIDATION_FAILED', /cursors/],
  ];
  for (const [what, text, code, message] of bad)
    it(`refuses ${what} with ${code}`, () => {
      const r = parseClientFrame(text);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.code).to.equal(code);
      expect(r.message).to.match(message);
    });

  it('echoes a valid id on a refused frame, and not an invalid one', () => {
    const r = parseClientFrame('{"type":"nope","id":"c-1"}');
    expect(!r.ok && r.id).to.equal('c-1');
    const s = parseClientFrame('{"type":"nope","id":"has space"}');
    expect(!s.ok && s.id).to.equal(undefined);
  });

  it('accepts every frame type with its fields, typing defaulting to started', () => {
    const ok = [
      '{"type":"auth","token":"abc"}',
      `{"type":"send","id":"1","conversationId":"${conv}","clientMsgId":"m-1","body":"hi"}`,
      `{"type":"send","conversationId":"${conv}","clientMsgId":"m-2","ciphertext":"AAAA","ttlSeconds":60}`,
      `{"type":"typing","conversationId":"${conv}"}`,
      `{"type":"read","conversationId":"${conv}","seq":3}`,
      `{"type":"delivered","conversationId":"${conv}","seq":0}`,
      `{"type":"resume","cursors":{"${conv}":10}}`,
      '{"type":"presence","status":"away"}',
      '{"type":"ping","id":"p"}',
    ];
    for (const t of ok) expect(parseClientFrame(t).ok, t).to.equal(true);
    const typing = parseClientFrame(`{"type":"typing","conversationId":"${conv}"}`);
    expect(typing.ok && typing.frame).to.deep.include({ state: 'started' });
  });
});

describe('gateway protocol: resume cursors', () => {
  const table: [string, Record<string, unknown>, RegExp | null][] = [
    ['a valid map', { [conv]: 5 }, null],
    ['an empty map', {}, null],
    ['a key that is not a conversation id', { 'not-a-uuid': 1 }, /is not a conversation id/],
    ['a negative seq', { [conv]: -1 }, /non-negative integer/],
    ['a fractional seq', { [conv]: 1.5 }, /non-negative integer/],
    ['a string seq', { [conv]: '3' }, /non-negative integer/],
    ['an operator object', { [conv]: { $gt: 0 } }, /non-negative integer/],
    ['a seq and a change position', { [conv]: { seq: 4, pos: 9 } }, null],
    ['a seq without a position', { [conv]: { seq: 4 } }, null],
    ['a negative position', { [conv]: { seq: 4, pos: -1 } }, /\{seq, pos\}/],
    ['an unknown cursor field', { [conv]: { seq: 4, at: 1 } }, /\{seq, pos\}/],
  ];
  for (const [what, raw, err] of table)
    it(`${err ? 'refuses' : 'accepts'} ${what}`, () => {
      const r = parseCursors(raw, 10);
      if (!err) return expect(r.ok, JSON.stringify(r)).to.equal(true);
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.message).to.match(err);
    });
  it('refuses more conversations than allowed', () => {
    const raw = Object.fromEntries(
      Array.from({ length: 3 }, (_, i) => [`0b7f5c1e-8a4d-4c2e-9f00-12345678900${i}`, 1]),
    );
    const r = parseCursors(raw, 2);
    expect(!r.ok && r.message).to.equal('at most 2 conversations per resume');
  });
});

describe('token bucket', () => {
  it('allows the burst, then the sustained rate, and says when the next token comes', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0)].every((r) => r.ok)).to.equal(true);
    expect(b.take(0)).to.deep.equal({ ok: false, retryAfterMs: 100 });
    expect(b.take(50)).to.deep.equal({ ok: false, retryAfterMs: 50 });
    expect(b.take(100).ok).to.equal(true);
    // A long pause refills only up to the burst.
    expect([1, 2, 3, 4].map(() => b.take(10_000).ok)).to.deep.equal([true, true, true, false]);
  });
});

describe('presence aggregation', () => {
  const now = 1_000_000;
  const table: [string, Record<string, string>, string, number][] = [
    ['no sockets', {}, 'offline', 0],
    ['one online socket', { a: encodeEntry('online', now + 1) }, 'online', 1],
    ['away on every device', { a: encodeEntry('away', now + 1), b: encodeEntry('away', now + 5) }, 'away', 2],
    [
      'online wins over away',
      { a: encodeEntry('away', now + 1), b: encodeEntry('online', now + 1) },
      'online',
      2,
    ],
    ['only expired entries (a crashed pod)', { a: encodeEntry('online', now) }, 'offline', 0],
    ['a garbled entry ignored', { a: 'online', b: encodeEntry('away', now + 1) }, 'away', 1],
    ['a process’s entry counts its sockets', { p: encodeEntry('away', now + 1, 3) }, 'away', 3],
    [
      'per-process and per-socket entries together',
      { p: encodeEntry('online', now + 1, 2), a: encodeEntry('away', now + 1) },
      'online',
      3,
    ],
    ['a garbled socket count ignored', { p: 'online|2000000|0', q: 'online|2000000|x' }, 'offline', 0],
  ];
  for (const [what, entries, status, live] of table)
    it(`${what} → ${status}`, () => {
      expect(aggregatePresence(entries, now)).to.deep.equal({ status, live });
    });
});

describe('fan-out routing', () => {
  it('packs a frame behind a header line and unpacks it; reads a bare JSON frame; refuses junk', () => {
    const frame = JSON.stringify({ type: 'typing', conversationId: 'c', userId: 'u', data: { x: '\t\n' } });
    const meta = { type: 'typing', conversationId: 'c', subject: 'u', seq: 3, acceptedAt: 7 };
    const packed = packRelayed(meta, frame);
    expect(unpackRelayed(packed)).to.deep.equal({
      meta: { ...meta, member: undefined, change: undefined, eventId: undefined, traceparent: undefined },
      frame,
    });
    // A tab or newline in a value cannot shift the fields.
    const odd = unpackRelayed(packRelayed({ type: 'typing', conversationId: 'c\t\nx' }, frame))!;
    expect(odd.meta.conversationId).to.equal('cx');
    expect(odd.frame).to.equal(frame);
    // Older gateways publish bare JSON frames: their meta is read from the frame.
    expect(unpackRelayed(frame)!.meta).to.deep.include({ type: 'typing', conversationId: 'c', subject: 'u' });
    for (const junk of ['', 'p1\tonly-two\n{}', 'not json', '[1]', '{"type":3}'])
      expect(unpackRelayed(junk), junk).to.equal(null);
  });

  it('publishes an ordinary event once, to its conversation, without the recipient list', () => {
    const ev = chatEvent(
      'message.created',
      conv,
      Array.from({ length: 1000 }, (_, i) => `u${i}`),
      { seq: 1 },
      5,
    );
    const pubs = route(ev);
    expect(pubs).to.have.length(1);
    expect(pubs[0]!.channel).to.equal(conversationChannel(conv));
    const relayed = unpackRelayed(pubs[0]!.message)!;
    // The gateways route by the header, and write the frame's bytes as they are.
    expect(relayed.meta).to.deep.include({
      type: 'message.created',
      conversationId: conv,
      seq: 1,
      acceptedAt: 5,
    });
    const frame = JSON.parse(relayed.frame) as Record<string, unknown>;
    expect(frame).to.deep.equal({
      type: 'message.created',
      eventId: ev.id,
      conversationId: conv,
      occurredAt: ev.occurredAt,
      acceptedAt: 5,
      data: { seq: 1 },
    });
  });
  it('sends a new conversation to each member’s own channel (nobody follows it yet)', () => {
    const pubs = route(chatEvent('conversation.updated', conv, ['a', 'b'], { change: 'created' }));
    expect(pubs.map((p) => p.channel)).to.deep.equal([userChannel('a'), userChannel('b')]);
  });
  it('sends an addition to the conversation and to the added member', () => {
    const pubs = route(chatEvent('member.added', conv, ['a', 'b'], { userId: 'b', by: 'a' }));
    expect(pubs.map((p) => p.channel)).to.deep.equal([conversationChannel(conv), userChannel('b')]);
  });
  it('parses only version-1 envelopes', () => {
    expect(parseChatEvent('nope')).to.equal(null);
    expect(parseChatEvent(JSON.stringify({ type: 'x', version: 2 }))).to.equal(null);
    const ev = chatEvent('message.deleted', conv, [], { id: 'm' });
    expect(parseChatEvent(Buffer.from(JSON.stringify(ev)))).to.deep.equal(ev);
  });
  it('parses a record once for every consumer handed the same buffer, and each buffer on its own', () => {
    const ev = chatEvent('message.deleted', conv, [], { id: 'm' });
    const value = Buffer.from(JSON.stringify(ev));
    const first = parseChatEvent(value);
    expect(parseChatEvent(value), 'the relay and the notifier of one embedded log').to.equal(first);
    const other = parseChatEvent(Buffer.from(JSON.stringify({ ...ev, id: 'e2' })));
    expect(other?.id, 'another record, even with equal bytes elsewhere').to.equal('e2');
    const poison = Buffer.from('{');
    expect(parseChatEvent(poison)).to.equal(null);
    expect(parseChatEvent(poison), 'a bad record stays bad').to.equal(null);
  });
});

describe('gateway: WebSocket Origin check', () => {
  const cases: [string, string | undefined, string | undefined, string[] | undefined, boolean][] = [
    ['a native client (no Origin)', undefined, 'chat.example', undefined, true],
    ['the server’s own page', 'https://chat.example', 'chat.example', undefined, true],
    ['the server’s own page on a port', 'http://localhost:8080', 'localhost:8080', undefined, true],
    ['an origin listed in CORS_ORIGINS', 'https://app.example', 'api.example', ['https://app.example'], true],
    ['a foreign page', 'https://evil.example', 'chat.example', ['https://app.example'], false],
    ['a foreign page with CORS_ORIGINS unset', 'https://evil.example', 'chat.example', undefined, false],
    ['a lookalike host', 'https://chat.example.evil.example', 'chat.example', undefined, false],
    ['the null origin (sandboxed frames, file://)', 'null', 'chat.example', undefined, false],
    ['a non-web scheme', 'ftp://chat.example', 'chat.example', undefined, false],
    ['an Origin but no Host', 'https://chat.example', undefined, undefined, false],
  ];
  for (const [what, origin, host, allowed, ok] of cases)
    it(`${ok ? 'allows' : 'refuses'} ${what}`, () => {
      expect(originAllowed(origin, host, allowed)).to.equal(ok);
    });
});
