import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createLogger, type ConsumedRecord, type EventLog, type LogRecord } from '@parley/common';
import { Registry } from 'prom-client';
import { SendBody } from '../api/schemas.ts';
import { Access } from '../domain/access.ts';
import { SEND_LIMITS, textProblem } from '../domain/sendrules.ts';
import { MessageStore } from '../domain/store.ts';
import { Views } from '../read/views.ts';
import { principal, seedDirect, senderFor } from '../testing/seed.ts';
import type { BatchWorld } from './batch.contract.ts';
import { Persister, WorkerMetrics } from './worker.ts';

type SendInput = { clientMsgId: string; body?: string; ciphertext?: string; ttlSeconds?: number };

/** Text that stresses the stores: controls, astral planes, graphemes, JSON and operator syntax. */
const EDGE_TEXT = [
  '$where',
  'a.b',
  '{"$gt":""}',
  '\\',
  '"',
  '\u2028\u2029',
  '\uFEFF',
  '\uFFFE\uFFFF',
  '\u{10FFFF}',
  'e\u0301 é',
  '\u0001\u001f\u007f\u0080\u009f',
  '👩🏽‍💻👨‍👩‍👧‍👦🏳️‍🌈',
  '\u202Eevil\u202C',
  ' ',
];

/** Code units at random: lone surrogates and U+0000 among them, which the API refuses. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

function text(max: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 100 }) },
    { weight: 1, arbitrary: fc.string({ unit: codeUnit, minLength: 1, maxLength: 40 }) },
    { weight: 2, arbitrary: fc.constantFrom(...EDGE_TEXT) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: max - 3, maxLength: max }) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.constantFrom(...EDGE_TEXT), { minLength: 1, maxLength: 8 })
        .map((parts) => parts.join('')),
    },
  );
}

/** A send as a client writes it; kept only when the API's own schema accepts it. */
const sendInput: fc.Arbitrary<SendInput> = fc
  .record(
    {
      clientMsgId: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: SEND_LIMITS.clientMsgIdChars,
      }),
      content: fc.oneof(
        { weight: 4, arbitrary: text(SEND_LIMITS.bodyChars).map((body) => ({ body })) },
        { weight: 1, arbitrary: text(SEND_LIMITS.ciphertextChars).map((ciphertext) => ({ ciphertext })) },
      ),
      // Long enough to read back (a 1 s TTL would expire before the history read, as it should).
      ttlSeconds: fc.option(fc.integer({ min: 3600, max: 365 * 86_400 }), { nil: undefined }),
    },
    { requiredKeys: ['clientMsgId', 'content'] },
  )
  .map(({ clientMsgId, content, ttlSeconds }) => ({
    clientMsgId,
    ...content,
    ...(ttlSeconds !== undefined ? { ttlSeconds } : {}),
  }))
  .filter((input) => SendBody.safeParse(input).success);

/** The longest common prefix a preview may take: whole code points only. */
const isPrefix = (preview: string, body: string) =>
  body.startsWith(preview) && textProblem(preview) === undefined;

/**
 * Acked means delivered (#21), generatively: random sends the API accepts (its REST schema, then
 * Sender.send, which produces the command) are handed to the worker as one batch, and every one
 * must be stored (none dead-lettered) and come back byte-identical through history, with a
 * well-formed conversation preview. Run on SQLite and on FerretDB (real stack).
 */
export function generativeContract(name: string, open: () => Promise<BatchWorld>, numRuns: number): void {
  describe(`worker stores every send the API accepts (fast-check): ${name}`, function () {
    this.timeout(900_000);
    const logger = createLogger({ level: 'silent', name: 'test' });
    let world: BatchWorld;
    let store: MessageStore;
    let access: Access;
    let views: Views;
    const topicEvents = `gen-${randomUUID().slice(0, 8)}.chat.events`;

    before(async () => {
      world = await open();
      store = await MessageStore.open(world.store);
      access = new Access(store);
      views = new Views(store, access);
      await world.events.ensureTopics([
        { name: topicEvents, partitions: 1 },
        { name: `${topicEvents}.dlq`, partitions: 1 },
      ]);
    });
    after(async () => world?.close());

    it('stores every accepted send once and gives each back byte-identical', async () => {
      let offset = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(sendInput, { minLength: 1, maxLength: 10, selector: (s) => s.clientMsgId }),
          async (inputs) => {
            const [alice, bob] = [`a-${randomUUID()}`, `b-${randomUUID()}`];
            const conv = randomUUID();
            await seedDirect(store, conv, [alice, bob]);
            // The API's write path, with the event log replaced by a recorder.
            const produced: LogRecord[] = [];
            const recorder = {
              produce: async (_topic: string, records: readonly LogRecord[]) =>
                void produced.push(...records),
            } as unknown as EventLog;
            const sender = senderFor(store, recorder, logger);
            for (const input of inputs)
              await sender.send(principal(alice), conv, input, { waitPersisted: false });
            expect(produced).to.have.length(inputs.length);

            const metrics = new WorkerMetrics(new Registry());
            const persister = new Persister(
              store,
              world.events,
              world.cache,
              { topicEvents, topicDlq: `${topicEvents}.dlq` },
              logger,
              metrics,
            );
            await persister.handle(
              produced.map((r): ConsumedRecord => ({
                topic: 'chat.messages',
                partition: 0,
                offset: String(offset++),
                key: r.key,
                value: Buffer.from(r.value),
                headers: r.headers ?? {},
                timestamp: Date.now(),
              })),
            );
            const dead = (await metrics.dlq.get()).values.reduce((n, v) => n + v.value, 0);
            expect(dead, 'dead-lettered').to.equal(0);

            // History as a client reads it: JSON over the wire.
            const page = JSON.parse(
              JSON.stringify(await views.messages(principal(bob), conv, { limit: 200 })),
            ) as { messages: { seq: number; clientMsgId: string; body?: string; ciphertext?: string }[] };
            expect(page.messages.map((m) => m.seq)).to.deep.equal(inputs.map((_, i) => i + 1));
            for (const [i, input] of inputs.entries()) {
              const m = page.messages[i]!;
              expect(m.clientMsgId).to.equal(input.clientMsgId);
              for (const field of ['body', 'ciphertext'] as const)
                expect(Buffer.from(m[field] ?? '').equals(Buffer.from(input[field] ?? '')), field).to.equal(
                  true,
                );
            }
            // The conversation list's preview of the last message: a prefix of whole code points.
            const last = inputs[inputs.length - 1]!;
            const listed = JSON.parse(JSON.stringify(await views.list(principal(bob), undefined, 10))) as {
              conversations: { lastMessage?: { body?: string } }[];
            };
            const preview = listed.conversations[0]?.lastMessage?.body;
            if (last.body !== undefined) expect(isPrefix(preview ?? '', last.body), 'preview').to.equal(true);
          },
        ),
        // Shrinking long strings is slow: bound the whole run (a failure found is still reported).
        { numRuns, interruptAfterTimeLimit: 300_000 },
      );
    });
  });
}
