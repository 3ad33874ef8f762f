import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import { runService, waitFor, type ConsumedRecord, type Infer, type Running } from '@parley/common';
import { OpenApiChecker, validOpenApi } from '@parley/common/testing';
import { messageSettings } from './config.ts';
import { messageIdFor, NEVER } from './envelopes.ts';
import { messageApiModule, messageWorkerModule } from './module.ts';
import { MessageStore } from './store.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => Json;
}

const PASSWORD = 'a long and unusual passphrase';
const uname = () => `m_${randomBytes(5).toString('hex')}`;
const ip = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

/** The message service's REST contract and pipeline, embedded and on the real local stack. */
export function messageHttpSuite(name: string, stackEnv: () => Record<string, string>): void {
  describe(`message service over HTTP: ${name}`, function () {
    this.timeout(60_000);
    let running: Running;
    let dir: string;
    let checker: OpenApiChecker;
    let env: Record<string, string>;
    const spec = (() => {
      const { role: _r, ...m } = messageSettings;
      return { ...authSettings, ...m };
    })();
    type Cfg = Infer<typeof spec>;

    const boot = async (extra: Record<string, string> = {}) => {
      const r = await runService({
        name: 'parley',
        spec,
        env: { ...env, ...extra },
        modules: () => [authModule<Cfg>(), messageApiModule<Cfg>(), messageWorkerModule<Cfg>()],
      });
      await r.ready;
      return r;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'parley-msg-'));
      env = {
        PORT: '0',
        MANAGEMENT_PORT: '0',
        HOST: '127.0.0.1',
        DATA_DIR: dir,
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
        JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k1')]),
        REDIS_KEY_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
        GROUP_MEMBER_CAP: '4',
        // Each run uses its own topics so a shared Kafka never replays another run's records.
        TOPIC_CHAT_MESSAGES: `t-${randomBytes(3).toString('hex')}.chat.messages`,
        TOPIC_CHAT_EVENTS: `t-${randomBytes(3).toString('hex')}.chat.events`,
        TOPIC_CHAT_DLQ: `t-${randomBytes(3).toString('hex')}.chat.messages.dlq`,
        CHAT_TOPIC_PARTITIONS: '4',
        WORKER_GROUP_ID: `t-${randomBytes(3).toString('hex')}.message-worker`,
        RATE_LIMIT_PER_MINUTE: '10000',
        SEND_RATE_PER_MINUTE: '10000',
        ...stackEnv(),
      };
      running = await boot();
      checker = new OpenApiChecker((await running.inject({ method: 'GET', url: '/v1/openapi.json' })).json());
    });
    after(async () => {
      await running?.stop('test');
      rmSync(dir, { recursive: true, force: true });
    });

    async function call(
      method: string,
      route: string,
      opts: {
        body?: unknown;
        token?: string;
        params?: Record<string, string>;
        query?: string;
        on?: Running;
      } = {},
    ): Promise<Res> {
      let url = route;
      for (const [k, v] of Object.entries(opts.params ?? {}))
        url = url.replace(`:${k}`, encodeURIComponent(v));
      const res = await (opts.on ?? running).inject({
        method: method as 'GET',
        url: url + (opts.query ? `?${opts.query}` : ''),
        remoteAddress: ip(),
        headers: {
          ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
      });
      if (!opts.on) checker.check(method, route, res);
      return res as unknown as Res;
    }

    async function user() {
      const username = uname();
      const res = await call('POST', '/v1/auth/register', { body: { username, password: PASSWORD } });
      expect(res.statusCode, res.body).to.equal(201);
      const b = res.json();
      return { username, id: b.user.id as string, token: b.tokens.accessToken as string };
    }

    async function direct(a: { token: string }, b: { username: string }) {
      const res = await call('POST', '/v1/conversations', {
        token: a.token,
        body: { type: 'direct', members: [b.username] },
      });
      expect([200, 201]).to.include(res.statusCode);
      return res.json().id as string;
    }

    async function send(token: string, conv: string, body: Record<string, unknown>, wait = true) {
      return call('POST', '/v1/conversations/:id/messages', {
        token,
        params: { id: conv },
        body,
        ...(wait ? { query: 'wait=persisted' } : {}),
      });
    }

    describe('conversations and members', () => {
      it('keeps one direct conversation per pair, whoever creates it', async () => {
        const [a, b] = [await user(), await user()];
        const first = await call('POST', '/v1/conversations', {
          token: a.token,
          body: { type: 'direct', members: [b.username] },
        });
        expect(first.statusCode).to.equal(201);
        const again = await call('POST', '/v1/conversations', {
          token: b.token,
          body: { type: 'direct', members: [a.username] },
        });
        expect(again.statusCode).to.equal(200);
        expect(again.json().id).to.equal(first.json().id);
        expect(
          first
            .json()
            .members.map((m: Json) => m.username)
            .sort(),
        ).to.deep.equal([a.username, b.username].sort());
      });

      it('refuses unknown users and a direct conversation with several others', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        expect(
          (
            await call('POST', '/v1/conversations', {
              token: a.token,
              body: { type: 'group', members: ['nobody_x'] },
            })
          ).json().code,
        ).to.equal('USER_NOT_FOUND');
        const two = await call('POST', '/v1/conversations', {
          token: a.token,
          body: { type: 'direct', members: [b.username, c.username] },
        });
        expect(two.statusCode).to.equal(422);
        expect(two.json().code).to.equal('INVALID_MEMBERS');
      });

      it('lets owners and admins manage a group, and members not', async () => {
        const [owner, m1, m2, m3] = [await user(), await user(), await user(), await user()];
        const g = (
          await call('POST', '/v1/conversations', {
            token: owner.token,
            body: { type: 'group', title: 'Team', members: [m1.username] },
          })
        ).json();
        expect(g.myRole).to.equal('owner');
        const denied = await call('POST', '/v1/conversations/:id/members', {
          token: m1.token,
          params: { id: g.id },
          body: { members: [m2.username] },
        });
        expect(denied.statusCode).to.equal(403);
        expect(denied.json().code).to.equal('NOT_ALLOWED_BY_ROLE');
        await call('PUT', '/v1/conversations/:id/members/:userId/role', {
          token: owner.token,
          params: { id: g.id, userId: m1.id },
          body: { role: 'admin' },
        });
        const added = await call('POST', '/v1/conversations/:id/members', {
          token: m1.token,
          params: { id: g.id },
          body: { members: [m2.username, m3.username] },
        });
        expect(added.json().members).to.have.length(4);
        const full = await call('POST', '/v1/conversations/:id/members', {
          token: owner.token,
          params: { id: g.id },
          body: { members: [(await user()).username] },
        });
        expect(full.json().code).to.equal('MEMBER_CAP_REACHED');
        const renamed = await call('PATCH', '/v1/conversations/:id', {
          token: m1.token,
          params: { id: g.id },
          body: { title: 'Renamed' },
        });
        expect(renamed.json().title).to.equal('Renamed');
        expect(
          (
            await call('PATCH', '/v1/conversations/:id', {
              token: m2.token,
              params: { id: g.id },
              body: { title: 'x' },
            })
          ).statusCode,
        ).to.equal(403);
        // An admin cannot remove the owner; a member can leave.
        expect(
          (
            await call('DELETE', '/v1/conversations/:id/members/:userId', {
              token: m1.token,
              params: { id: g.id, userId: owner.id },
            })
          ).statusCode,
        ).to.equal(403);
        expect(
          (
            await call('DELETE', '/v1/conversations/:id/members/:userId', {
              token: m3.token,
              params: { id: g.id, userId: m3.id },
            })
          ).statusCode,
        ).to.equal(204);
        expect(
          (await call('GET', '/v1/conversations/:id', { token: m3.token, params: { id: g.id } })).statusCode,
        ).to.equal(404);
      });

      it('shows a non-member a conversation exactly like a missing one', async () => {
        const [a, b, stranger] = [await user(), await user(), await user()];
        const conv = await direct(a, b);
        for (const [method, route, body] of [
          ['GET', '/v1/conversations/:id', undefined],
          ['GET', '/v1/conversations/:id/messages', undefined],
          ['POST', '/v1/conversations/:id/messages', { clientMsgId: 'x', body: 'intrusion' }],
          ['POST', '/v1/conversations/:id/read', { seq: 1 }],
          ['PATCH', '/v1/conversations/:id', { title: 'mine now' }],
        ] as const) {
          const foreign = await call(method, route, {
            token: stranger.token,
            params: { id: conv },
            ...(body ? { body } : {}),
          });
          const missing = await call(method, route, {
            token: stranger.token,
            params: { id: randomUUID() },
            ...(body ? { body } : {}),
          });
          expect(foreign.statusCode, `${method} ${route}`).to.equal(404);
          expect(foreign.json().code).to.equal('CONVERSATION_NOT_FOUND');
          expect(missing.json().code).to.equal('CONVERSATION_NOT_FOUND');
        }
      });

      it('lists conversations by last activity with previews and unread counts', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const ab = await direct(a, b);
        const ac = await direct(a, c);
        await send(b.token, ab, { clientMsgId: '1', body: 'from b' });
        await send(c.token, ac, { clientMsgId: '1', body: 'from c' });
        await send(c.token, ac, { clientMsgId: '2', body: 'again from c' });
        const list = (await call('GET', '/v1/conversations', { token: a.token })).json().conversations;
        expect(list.map((x: Json) => x.id)).to.deep.equal([ac, ab]);
        expect(list[0]).to.include({ unreadCount: 2, lastSeq: 2 });
        expect(list[0].lastMessage.body).to.equal('again from c');
        const page = await call('GET', '/v1/conversations', { token: a.token, query: 'limit=1' });
        expect(page.json().conversations.map((x: Json) => x.id)).to.deep.equal([ac]);
        const next = await call('GET', '/v1/conversations', {
          token: a.token,
          query: `limit=1&cursor=${page.json().nextCursor}`,
        });
        expect(next.json().conversations.map((x: Json) => x.id)).to.deep.equal([ab]);
        expect(
          (await call('GET', '/v1/conversations', { token: a.token, query: 'cursor=garbage' })).json().code,
        ).to.equal('INVALID_CURSOR');
      });
    });

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
        const sub = await running.deps().log.subscribe({
          groupId: `watch-${randomBytes(4).toString('hex')}`,
          topics: [env.TOPIC_CHAT_EVENTS!],
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
        const store = await MessageStore.open(running.deps().store);
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

      it('edits within the window (sender only) and deletes to a tombstone', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const m = (await send(a.token, conv, { clientMsgId: 'e', body: 'typo' })).json();
        expect(
          (
            await call('PATCH', '/v1/messages/:id', {
              token: b.token,
              params: { id: m.id },
              body: { body: 'hijack' },
            })
          ).json().code,
        ).to.equal('NOT_ALLOWED_BY_ROLE');
        const edited = (
          await call('PATCH', '/v1/messages/:id', {
            token: a.token,
            params: { id: m.id },
            body: { body: 'fixed' },
          })
        ).json();
        expect(edited).to.include({ body: 'fixed', editCount: 1 });
        expect(edited.editedAt).to.be.a('string');
        expect(
          (await call('DELETE', '/v1/messages/:id', { token: b.token, params: { id: m.id } })).statusCode,
        ).to.equal(403);
        expect(
          (await call('DELETE', '/v1/messages/:id', { token: a.token, params: { id: m.id } })).statusCode,
        ).to.equal(204);
        const [tomb] = (
          await call('GET', '/v1/conversations/:id/messages', { token: b.token, params: { id: conv } })
        ).json().messages;
        expect(tomb).to.include({ id: m.id, seq: 1, deleted: true });
        expect(tomb).to.not.have.property('body');
        expect(
          (
            await call('PATCH', '/v1/messages/:id', {
              token: a.token,
              params: { id: m.id },
              body: { body: 'x' },
            })
          ).json().code,
        ).to.equal('MESSAGE_DELETED');
      });

      it('refuses an edit after the window', async () => {
        const strict = await boot({ EDIT_WINDOW_SECONDS: '0' });
        try {
          const reg = async () => {
            const username = uname();
            const r = await call('POST', '/v1/auth/register', {
              on: strict,
              body: { username, password: PASSWORD },
            });
            return { username, token: r.json().tokens.accessToken as string };
          };
          const [a, b] = [await reg(), await reg()];
          const conv = (
            await call('POST', '/v1/conversations', {
              on: strict,
              token: a.token,
              body: { type: 'direct', members: [b.username] },
            })
          ).json().id;
          const m = (
            await call('POST', '/v1/conversations/:id/messages', {
              on: strict,
              token: a.token,
              params: { id: conv },
              query: 'wait=persisted',
              body: { clientMsgId: '1', body: 'x' },
            })
          ).json();
          await new Promise((r) => setTimeout(r, 5));
          const res = await call('PATCH', '/v1/messages/:id', {
            on: strict,
            token: a.token,
            params: { id: m.id },
            body: { body: 'y' },
          });
          expect(res.json().code).to.equal('EDIT_WINDOW_PASSED');
        } finally {
          await strict.stop('test');
        }
      });

      it('threads replies and refuses a reply to another conversation’s message', async () => {
        const [a, b, c] = [await user(), await user(), await user()];
        const ab = await direct(a, b);
        const ac = await direct(a, c);
        const root = (await send(a.token, ab, { clientMsgId: 'r', body: 'root' })).json();
        await send(b.token, ab, { clientMsgId: 'r1', body: 'reply', replyTo: root.id });
        const replies = (
          await call('GET', '/v1/messages/:id/replies', { token: a.token, params: { id: root.id } })
        ).json().messages;
        expect(replies.map((m: Json) => m.body)).to.deep.equal(['reply']);
        expect(
          (await send(a.token, ac, { clientMsgId: 'x', body: 'cross', replyTo: root.id }, false)).json().code,
        ).to.equal('MESSAGE_NOT_FOUND');
        expect(
          (await call('GET', '/v1/messages/:id/replies', { token: c.token, params: { id: root.id } })).json()
            .code,
        ).to.equal('MESSAGE_NOT_FOUND');
      });

      it('counts reactions per emoji with whether you reacted, and refuses non-emoji', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const m = (await send(a.token, conv, { clientMsgId: 'x', body: 'react to me' })).json();
        await call('PUT', '/v1/messages/:id/reactions/:emoji', {
          token: a.token,
          params: { id: m.id, emoji: '👍' },
        });
        const r = (
          await call('PUT', '/v1/messages/:id/reactions/:emoji', {
            token: b.token,
            params: { id: m.id, emoji: '👍' },
          })
        ).json();
        expect(r.reactions).to.deep.equal([{ emoji: '👍', count: 2, me: true }]);
        const after = (
          await call('DELETE', '/v1/messages/:id/reactions/:emoji', {
            token: a.token,
            params: { id: m.id, emoji: '👍' },
          })
        ).json();
        expect(after.reactions).to.deep.equal([{ emoji: '👍', count: 1, me: false }]);
        const lol = await call('PUT', '/v1/messages/:id/reactions/:emoji', {
          token: a.token,
          params: { id: m.id, emoji: 'lol' },
        });
        expect([lol.statusCode, lol.json().code]).to.deep.equal([422, 'INVALID_EMOJI']);
      });

      it('moves read cursors forward only, updates unread counts and direct-chat status', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        for (let i = 1; i <= 3; i++) await send(a.token, conv, { clientMsgId: String(i), body: `m${i}` });
        const view = async (t: string) =>
          (await call('GET', '/v1/conversations/:id', { token: t, params: { id: conv } })).json();
        expect((await view(b.token)).unreadCount).to.equal(3);
        expect(
          (
            await call('POST', '/v1/conversations/:id/read', {
              token: b.token,
              params: { id: conv },
              body: { seq: 2 },
            })
          ).json().readSeq,
        ).to.equal(2);
        expect(
          (
            await call('POST', '/v1/conversations/:id/read', {
              token: b.token,
              params: { id: conv },
              body: { seq: 1 },
            })
          ).json().readSeq,
        ).to.equal(2);
        expect(
          (
            await call('POST', '/v1/conversations/:id/read', {
              token: b.token,
              params: { id: conv },
              body: { seq: 99 },
            })
          ).json().readSeq,
        ).to.equal(3);
        expect((await view(b.token)).unreadCount).to.equal(0);
        const mine = (
          await call('GET', '/v1/conversations/:id/messages', { token: a.token, params: { id: conv } })
        ).json().messages;
        expect(mine.map((m: Json) => m.status)).to.deep.equal(['read', 'read', 'read']);
        // Delivered moves on its own, never back, and never behind read.
        await send(a.token, conv, { clientMsgId: '4', body: 'm4' });
        await send(a.token, conv, { clientMsgId: '5', body: 'm5' });
        const d = await call('POST', '/v1/conversations/:id/delivered', {
          token: b.token,
          params: { id: conv },
          body: { seq: 4 },
        });
        expect(d.json()).to.deep.equal({ readSeq: 3, deliveredSeq: 4 });
        const after = (
          await call('GET', '/v1/conversations/:id/messages', { token: a.token, params: { id: conv } })
        ).json().messages;
        expect(after.map((m: Json) => m.status)).to.deep.equal(['read', 'read', 'read', 'delivered', 'sent']);
        expect((await view(b.token)).unreadCount).to.equal(2);
      });

      it('bookmarks messages per user', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const m = (await send(a.token, conv, { clientMsgId: 's', body: 'keep this' })).json();
        expect(
          (await call('PUT', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } })).statusCode,
        ).to.equal(204);
        expect(
          (await call('GET', '/v1/users/me/stars', { token: b.token }))
            .json()
            .messages.map((x: Json) => x.id),
        ).to.deep.equal([m.id]);
        expect((await call('GET', '/v1/users/me/stars', { token: a.token })).json().messages).to.deep.equal(
          [],
        );
        await call('DELETE', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } });
        expect((await call('GET', '/v1/users/me/stars', { token: b.token })).json().messages).to.deep.equal(
          [],
        );
      });

      it('stops direct messages from a user you blocked', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        expect(
          (
            await call('PUT', '/v1/users/me/blocks/:username', {
              token: b.token,
              params: { username: a.username },
            })
          ).statusCode,
        ).to.equal(204);
        const res = await send(a.token, conv, { clientMsgId: 'x', body: 'hello?' }, false);
        expect(res.statusCode).to.equal(403);
        expect(res.json().code).to.equal('BLOCKED');
        await call('DELETE', '/v1/users/me/blocks/:username', {
          token: b.token,
          params: { username: a.username },
        });
        expect(
          (await send(a.token, conv, { clientMsgId: 'y', body: 'hello again' }, false)).statusCode,
        ).to.equal(202);
      });

      it('makes disappearing messages vanish from every read once expired', async () => {
        const [a, b] = [await user(), await user()];
        const conv = await direct(a, b);
        const m = (
          await send(a.token, conv, { clientMsgId: 'ttl', body: 'gone soon', ttlSeconds: 1 })
        ).json();
        expect(m.expiresAt).to.be.a('string');
        await send(a.token, conv, { clientMsgId: 'stay', body: 'stays' });
        await new Promise((r) => setTimeout(r, 1100));
        const list = (
          await call('GET', '/v1/conversations/:id/messages', { token: b.token, params: { id: conv } })
        ).json().messages;
        expect(list.map((x: Json) => x.body)).to.deep.equal(['stays']);
        expect(
          (await call('PUT', '/v1/messages/:id/star', { token: b.token, params: { id: m.id } })).json().code,
        ).to.equal('MESSAGE_NOT_FOUND');
      });
    });

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
        const sub = await running.deps().log.subscribe({
          groupId: `t-${randomUUID()}`,
          topics: [env.TOPIC_CHAT_EVENTS!],
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
        const sub = await running.deps().log.subscribe({
          groupId: `t-${randomUUID()}`,
          topics: [env.TOPIC_CHAT_DLQ!],
          fromBeginning: true,
          handler: async (batch) => void dlq.push(...batch),
        });
        try {
          await running
            .deps()
            .log.produce(env.TOPIC_CHAT_MESSAGES!, [
              { key: conv, value: '{"type":"message.send", "oops": ' },
            ]);
          const after = await send(a.token, conv, { clientMsgId: 'after-poison', body: 'still flowing' });
          expect(after.statusCode).to.equal(201);
          const dead = await waitFor(() => dlq.find((r) => r.key === conv), {
            timeoutMs: 30_000,
            what: 'DLQ record',
          });
          expect(dead.headers['dlq-reason']).to.equal('poison');
          expect(dead.headers['dlq-detail']).to.equal('not JSON');
        } finally {
          await sub.stop();
        }
      });
    });

    it('documents every route in a valid OpenAPI 3.1 document', async () => {
      const doc = await validOpenApi(running);
      expect(Object.keys(doc.paths)).to.include.members([
        '/v1/conversations',
        '/v1/conversations/{id}/messages',
        '/v1/messages/{id}/reactions/{emoji}',
      ]);
    });

    it('states in the document every bound the validators enforce', async () => {
      const doc = (await running.inject({ method: 'GET', url: '/v1/openapi.json' })).json();
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
        expect([res.statusCode, res.json().code], `${method} ${route} ${JSON.stringify(opts)}`).to.deep.equal(
          [400, 'VALIDATION_FAILED'],
        );
      }
    });
  });
}
