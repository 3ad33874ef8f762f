import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { waitFor, type ConsumedRecord } from '@parley/common';
import { validOpenApi } from '@parley/common/testing';
import { type Json, type MessageHarness } from './harness.ts';

/** Search, the Kafka pipeline (events, DLQ) and the OpenAPI contract. */
export function pipelineCases(h: MessageHarness): void {
  const { call, user, direct, send } = h;
  describe('search', () => {
    it('finds words in your conversations only, by relevance then recency, never ciphertext', async () => {
      const [a, b, c] = [await user(), await user(), await user()];
      const ab = await direct(a, b);
      const bc = await direct(b, c);
      const word = `zebra${randomBytes(3).toString('hex')}`;
      const older = (await send(a.token, ab, { clientMsgId: '1', body: `the ${word} crossed` })).json();
      const best = (
        await send(b.token, ab, {
          clientMsgId: '2',
          body: `a ${word.toUpperCase()} and a Crossing giraffe`,
        })
      ).json();
      const newer = (await send(a.token, ab, { clientMsgId: '3', body: `another ${word}` })).json();
      await send(b.token, bc, { clientMsgId: '4', body: `${word} in a conversation a is not in` });
      await send(a.token, ab, { clientMsgId: '5', ciphertext: `${word}-ciphertext` });
      const res = (
        await call('GET', '/v1/search/messages', { token: a.token, query: `q=${word}+giraffe` })
      ).json();
      expect(res.messages.map((m: Json) => m.id)).to.deep.equal([best.id, newer.id, older.id]);
      const only = (
        await call('GET', '/v1/search/messages', {
          token: c.token,
          query: `q=${word}&conversationId=${ab}`,
        })
      ).json();
      expect(only.code).to.equal('CONVERSATION_NOT_FOUND');
      const paged = (
        await call('GET', '/v1/search/messages', { token: a.token, query: `q=${word}&limit=2` })
      ).json();
      expect(paged.messages).to.have.length(2);
      const rest = (
        await call('GET', '/v1/search/messages', {
          token: a.token,
          query: `q=${word}&limit=2&cursor=${paged.nextCursor}`,
        })
      ).json();
      expect(rest.messages.map((m: Json) => m.id)).to.deep.equal([older.id]);
      await call('DELETE', '/v1/messages/:id', { token: a.token, params: { id: newer.id } });
      const afterDelete = (
        await call('GET', '/v1/search/messages', { token: a.token, query: `q=${word}` })
      ).json();
      expect(afterDelete.messages.map((m: Json) => m.id)).to.not.include(newer.id);
      expect(
        (await call('GET', '/v1/search/messages', { token: a.token, query: 'q=' })).json().code,
      ).to.equal('VALIDATION_FAILED');
    });
  });

  describe('pipeline', () => {
    it('emits message.created on chat.events with every member as recipient', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const events: Json[] = [];
      const sub = await h.running.deps().events.subscribe({
        groupId: `t-${randomUUID()}`,
        topics: [h.env.TOPIC_CHAT_EVENTS!],
        fromBeginning: true,
        handler: async (batch) => void events.push(...batch.map((r) => JSON.parse(r.value.toString()))),
      });
      try {
        const m = (await send(a.token, conv, { clientMsgId: 'ev', body: 'evented' })).json();
        const ev = await waitFor(
          () => events.find((e) => e.type === 'message.created' && e.data.id === m.id),
          { timeoutMs: 30_000 },
        );
        expect(ev).to.include({ version: 1, conversationId: conv });
        expect(ev.recipients.sort()).to.deep.equal([a.id, b.id].sort());
      } finally {
        await sub.stop();
      }
    });

    it('sends poison records to the DLQ with a reason and keeps the partition moving', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const dlq: ConsumedRecord[] = [];
      const sub = await h.running.deps().events.subscribe({
        groupId: `t-${randomUUID()}`,
        topics: [h.env.TOPIC_CHAT_DLQ!],
        fromBeginning: true,
        handler: async (batch) => void dlq.push(...batch),
      });
      try {
        await h.running
          .deps()
          .events.produce(h.env.TOPIC_CHAT_MESSAGES!, [
            { key: conv, value: '{"type":"message.send", "oops": ' },
          ]);
        const after = await send(a.token, conv, { clientMsgId: 'after-poison', body: 'still flowing' });
        expect(after.statusCode).to.equal(201);
        const dead = await waitFor(() => dlq.find((r) => r.key === conv), {
          timeoutMs: 30_000,
          what: 'DLQ record',
        });
        expect(dead.headers['dlq-reason']).to.equal('unparseable');
        expect(dead.headers['dlq-detail']).to.equal('not JSON');
      } finally {
        await sub.stop();
      }
    });
  });

  it('documents every route in a valid OpenAPI 3.1 document', async () => {
    const doc = await validOpenApi(h.running);
    expect(Object.keys(doc.paths)).to.include.members([
      '/v1/conversations',
      '/v1/conversations/{id}/messages',
      '/v1/messages/{id}/reactions/{emoji}',
    ]);
  });

  it('states in the document every bound the validators enforce', async () => {
    const doc = (await h.running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
    const op = (path: string, method: string) => doc.paths[path][method];
    const param = (path: string, method: string, name: string) =>
      op(path, method).parameters.find((p: Json) => p.name === name).schema;
    const body = (path: string, method: string) =>
      op(path, method).requestBody.content['application/json'].schema;
    expect(param('/v1/conversations', 'get', 'limit')).to.deep.equal({
      type: 'integer',
      minimum: 1,
      maximum: 200,
    });
    expect(param('/v1/search/messages', 'get', 'limit')).to.include({ minimum: 1, maximum: 100 });
    expect(param('/v1/conversations/{id}/messages', 'get', 'after')).to.include({ pattern: '^\\d{1,15}$' });
    expect(param('/v1/search/messages', 'get', 'q')).to.include({ maxLength: 200, pattern: '\\S' });
    expect(body('/v1/conversations/{id}', 'patch')).to.include({ minProperties: 1 });
    expect(body('/v1/conversations/{id}', 'patch').properties.title).to.include({ pattern: '\\S' });
    expect(body('/v1/conversations/{id}/messages', 'post').oneOf).to.deep.equal([
      { required: ['body'] },
      { required: ['ciphertext'] },
    ]);
    expect(param('/v1/messages/{id}/reactions/{emoji}', 'put', 'emoji').description).to.match(
      /1 to 8 code points/,
    );
    // A PUT can carry a body, so the body reader's 413 and 415 are listed too (#18).
    expect(op('/v1/messages/{id}/reactions/{emoji}', 'put').responses).to.have.keys(
      '200',
      '400',
      '401',
      '404',
      '409',
      '413',
      '414',
      '415',
      '422',
      '429',
      '431',
      '500',
      '503',
    );
  });

  it('refuses blank titles and queries, and a limit of 0 or in hex', async () => {
    const a = await user();
    const cases: [string, string, { body?: unknown; query?: string }][] = [
      [
        'POST',
        '/v1/conversations',
        { body: { type: 'group', members: [(await user()).username], title: '  ' } },
      ],
      ['GET', '/v1/conversations', { query: 'limit=0' }],
      ['GET', '/v1/conversations', { query: 'limit=0x10' }],
      ['GET', '/v1/search/messages', { query: 'q=%20%20' }],
    ];
    for (const [method, route, opts] of cases) {
      const res = await call(method, route, { token: a.token, ...opts });
      expect([res.statusCode, res.json().code], `${method} ${route} ${JSON.stringify(opts)}`).to.deep.equal([
        400,
        'VALIDATION_FAILED',
      ]);
    }
  });
}
