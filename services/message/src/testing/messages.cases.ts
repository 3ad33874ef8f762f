import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@parley/common';
import { messageIdFor, NEVER } from '../domain/envelopes.ts';
import { MessageStore } from '../domain/store.ts';
import { type Json, type MessageHarness } from './harness.ts';

/** Sending, numbering and re-sends. */
export function messageCases(h: MessageHarness): void {
  const { call, user, direct, send } = h;
  describe('messages', () => {
    it('answers 202 once Kafka has it and 201 with seq once stored; a re-send is the same message', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const accepted = await send(a.token, conv, { clientMsgId: 'k1', body: 'hello' }, false);
      expect(accepted.statusCode).to.equal(202);
      const stored = await send(a.token, conv, { clientMsgId: 'k1', body: 'hello' });
      expect(stored.statusCode).to.equal(201);
      expect(stored.json()).to.include({ id: accepted.json().id, seq: 1, body: 'hello' });
      const again = await send(a.token, conv, { clientMsgId: 'k1', body: 'hello' });
      expect(again.json().id).to.equal(accepted.json().id);
      const list = (
        await call('GET', '/v1/conversations/:id/messages', { token: b.token, params: { id: conv } })
      ).json();
      expect(list.messages).to.have.length(1);
    });

    /** Counts message.created events per message id on this run's events topic. */
    async function watchCreated() {
      const seen = new Map<string, number>();
      const sub = await h.running.deps().events.subscribe({
        groupId: `watch-${randomBytes(4).toString('hex')}`,
        topics: [h.env.TOPIC_CHAT_EVENTS!],
        fromBeginning: true,
        handler: async (batch) => {
          for (const r of batch) {
            const e = JSON.parse(r.value.toString()) as { type: string; data: { id: string } };
            if (e.type === 'message.created') seen.set(e.data.id, (seen.get(e.data.id) ?? 0) + 1);
          }
        },
      });
      return { seen, stop: () => sub.stop() };
    }

    it('answers a re-send with the stored message and broadcasts no second message.created (#18)', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const first = await send(a.token, conv, { clientMsgId: 'once', body: 'only once' });
      expect(first.statusCode).to.equal(201);
      // Re-sent over REST, waiting or not: the stored message, with its seq.
      for (const wait of [false, true]) {
        const again = await send(a.token, conv, { clientMsgId: 'once', body: 'only once' }, wait);
        expect([again.statusCode, again.json().id, again.json().seq]).to.deep.equal([
          201,
          first.json().id,
          1,
        ]);
      }
      const marker = await send(a.token, conv, { clientMsgId: 'after', body: 'marker' });
      const watch = await watchCreated();
      try {
        // Every event before the marker's is in once the marker's is.
        await waitFor(() => watch.seen.has(marker.json().id), {
          timeoutMs: 20_000,
          what: 'the marker event',
        });
        expect(watch.seen.get(first.json().id)).to.equal(1);
      } finally {
        await watch.stop();
      }
    });

    it('announces, on its re-send, a message stored before a crash lost its event (#18)', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      // As if a worker stored it and died before producing its event: stored, not emitted.
      const store = await MessageStore.open(h.running.deps().store);
      const id = messageIdFor(conv, a.id, 'lost');
      await store.messages.insertOne({
        _id: id,
        conversationId: conv,
        seq: 1,
        senderId: a.id,
        clientMsgId: 'lost',
        body: 'stored, never announced',
        createdAt: new Date().toISOString(),
        acceptedAt: Date.now(),
        expiresAt: NEVER,
        editCount: 0,
      });
      const watch = await watchCreated();
      try {
        const resent = await send(
          a.token,
          conv,
          { clientMsgId: 'lost', body: 'stored, never announced' },
          false,
        );
        expect([resent.statusCode, resent.json().id, resent.json().seq]).to.deep.equal([201, id, 1]);
        await waitFor(() => watch.seen.get(id) === 1, { timeoutMs: 20_000, what: 'the late event' });
        await waitFor(async () => store.announced({ conversationId: conv, seq: 1 }), {
          timeoutMs: 10_000,
          what: 'the state to record it announced',
        });
        // Announced once: a further re-send is answered from the store and broadcasts nothing.
        await send(a.token, conv, { clientMsgId: 'lost', body: 'stored, never announced' });
        const marker = await send(a.token, conv, { clientMsgId: 'after', body: 'marker' });
        await waitFor(() => watch.seen.has(marker.json().id), {
          timeoutMs: 20_000,
          what: 'the marker event',
        });
        expect(watch.seen.get(id)).to.equal(1);
      } finally {
        await watch.stop();
      }
    });

    it('refuses a message with U+0000 before accepting it (it could never be stored)', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const res = await send(a.token, conv, { clientMsgId: 'nul', body: 'a\u0000b' }, false);
      expect(res.statusCode).to.equal(400);
      expect(res.json()).to.include({
        code: 'VALIDATION_FAILED',
        detail: 'body.body: text must not contain U+0000',
      });
      const search = await call('GET', '/v1/search/messages', { token: a.token, query: 'q=a%00b' });
      expect(search.statusCode).to.equal(400);
      expect(search.json().detail).to.equal('query.q: text must not contain U+0000');
    });

    it('refuses a lone surrogate before accepting it (the store would change it; #21)', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      for (const [field, text, at] of [
        ['body', 'hi \uD83D', 3],
        ['ciphertext', '\uDE00', 0],
      ] as const) {
        const res = await send(a.token, conv, { clientMsgId: `lone-${field}`, [field]: text }, false);
        expect(res.statusCode).to.equal(400);
        const hex = text.charCodeAt(at).toString(16).toUpperCase();
        expect(res.json()).to.include({
          code: 'VALIDATION_FAILED',
          detail: `body.${field}: text must be well-formed Unicode: lone surrogate U+${hex} at index ${at}`,
        });
      }
    });

    it('numbers concurrent sends gap-free and pages in seq order without duplicates', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const sends = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          send(i % 2 ? a.token : b.token, conv, { clientMsgId: `c${i}`, body: `m${i}` }, false),
        ),
      );
      expect(sends.every((s) => s.statusCode === 202)).to.equal(true);
      await waitFor(
        async () =>
          (await call('GET', '/v1/conversations/:id', { token: a.token, params: { id: conv } })).json()
            .lastSeq === 30,
        {
          timeoutMs: 30_000,
          what: '30 stored',
        },
      );
      const seqs: number[] = [];
      let cursor = '0';
      for (;;) {
        const page = (
          await call('GET', '/v1/conversations/:id/messages', {
            token: a.token,
            params: { id: conv },
            query: `after=${cursor}&limit=7`,
          })
        ).json();
        seqs.push(...page.messages.map((m: Json) => m.seq));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(seqs).to.deep.equal(Array.from({ length: 30 }, (_, i) => i + 1));
      const back = (
        await call('GET', '/v1/conversations/:id/messages', {
          token: a.token,
          params: { id: conv },
          query: 'before=11&limit=5',
        })
      ).json();
      expect(back.messages.map((m: Json) => m.seq)).to.deep.equal([6, 7, 8, 9, 10]);
      expect(back.prevCursor).to.equal('6');
      // Shapes the document refuses are 400; both cursors at once is a prose rule (INVALID_CURSOR, 422).
      for (const [q, status] of [
        ['after=-1', 400],
        ['before=x', 400],
        ['limit=0', 400],
        ['limit=1000', 400],
        ['after=1&before=5', 422],
      ] as const)
        expect(
          (
            await call('GET', '/v1/conversations/:id/messages', {
              token: a.token,
              params: { id: conv },
              query: q,
            })
          ).statusCode,
          q,
        ).to.equal(status);
    });

    const bad: [string, unknown][] = [
      ['no body or ciphertext', { clientMsgId: 'x' }],
      ['both body and ciphertext', { clientMsgId: 'x', body: 'a', ciphertext: 'b' }],
      ['an oversize body', { clientMsgId: 'x', body: 'x'.repeat(4001) }],
      ['an empty body', { clientMsgId: 'x', body: '' }],
      ['operator injection', { clientMsgId: { $ne: null }, body: 'x' }],
      ['an unknown field', { clientMsgId: 'x', body: 'x', seq: 1 }],
      ['a clientMsgId with spaces', { clientMsgId: 'a b', body: 'x' }],
    ];
    for (const [what, body] of bad)
      it(`refuses ${what}`, async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const res = await send(a.token, conv, body as Record<string, unknown>, false);
        expect(res.statusCode).to.equal(400);
        expect(res.json().code).to.equal('VALIDATION_FAILED');
      });

    it('stores client-side ciphertext as sent', async () => {
      const [a, b] = [await user(), await user()];
      const conv = await direct(a, b);
      const res = await send(a.token, conv, { clientMsgId: 'e1', ciphertext: 'base64-opaque-blob==' });
      expect(res.json()).to.include({ ciphertext: 'base64-opaque-blob==' });
      expect(res.json()).to.not.have.property('body');
      const edit = await call('PATCH', '/v1/messages/:id', {
        token: a.token,
        params: { id: res.json().id },
        body: { body: 'plain text' },
      });
      expect(edit.statusCode).to.equal(409);
      expect(edit.json().code).to.equal('MESSAGE_ENCRYPTED');
    });
  });
}
