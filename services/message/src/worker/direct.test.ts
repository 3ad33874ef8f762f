import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createLogger, waitFor, type ConsumedRecord, type Subscription } from '@parley/common';
import { groupCommitOf, type EmbeddedEventLog, type MemoryCache } from '@parley/common/testing';
import { Registry } from 'prom-client';
import type { ChatEvent, SendCommand } from '../domain/envelopes.ts';
import type { MessageStore } from '../domain/store.ts';
import {
  openEmbeddedWorld,
  principal,
  seedDirect,
  sendCommandJson,
  senderFor,
  type EmbeddedWorld,
} from '../testing/seed.ts';
import { attachWhenDrained, DirectCommands, subscribePersister } from './direct.ts';
import { Persister, WorkerMetrics } from './worker.ts';

const logger = createLogger({ level: 'silent', name: 'test' });

/** A command for the batcher's own tests (it never looks inside). */
const item = (n: number): [SendCommand, Record<string, string>] => [
  { conversationId: `c${n % 2}`, acceptedAt: n, id: `m${n}` } as SendCommand,
  {},
];

describe('DirectCommands: sends handed to the persister without the commands log', () => {
  it('stores the sends of one turn as one batch, and what arrives while a batch is in flight as the next, in order', async () => {
    const direct = new DirectCommands();
    const batches: string[][] = [];
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    direct.attach(async (batch) => {
      batches.push(batch.map((b) => b.command.id));
      await gate;
    });
    const first = [0, 1].map((n) => direct.submit(...item(n)));
    expect(batches, 'the batch forms at the end of the turn').to.deep.equal([]);
    await new Promise((r) => setImmediate(r));
    expect(batches).to.deep.equal([['m0', 'm1']]);
    const rest = [2, 3, 4].map((n) => direct.submit(...item(n)));
    await new Promise((r) => setImmediate(r));
    expect(batches, 'nothing more until the first batch is stored').to.have.length(1);
    const open = release;
    gate = Promise.resolve();
    open();
    await Promise.all([...first, ...rest]);
    expect(batches).to.deep.equal([
      ['m0', 'm1'],
      ['m2', 'm3', 'm4'],
    ]);
  });

  it('writes the next batch while the last one waits for its commit, and acks each after its own', async () => {
    const direct = new DirectCommands();
    const batches: string[][] = [];
    const commits: (() => void)[] = [];
    direct.attach(async (batch) => {
      batches.push(batch.map((b) => b.command.id));
      return { committed: new Promise<void>((r) => commits.push(r)) };
    });
    const acked: string[] = [];
    const send = (n: number) => direct.submit(...item(n)).then(() => acked.push(`m${n}`));
    const a = send(0);
    await new Promise((r) => setImmediate(r));
    const b = send(1);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(batches, 'the second batch did not wait for the first commit').to.deep.equal([['m0'], ['m1']]);
    expect(acked).to.deep.equal([]);
    commits[0]!();
    await a;
    expect(acked, 'acked after its own commit only').to.deep.equal(['m0']);
    let detached = false;
    const detaching = direct.detach().then(() => (detached = true));
    await new Promise((r) => setImmediate(r));
    expect(detached, 'detach waits for the commit still pending').to.equal(false);
    commits[1]!();
    await Promise.all([b, detaching]);
    expect(acked).to.deep.equal(['m0', 'm1']);
  });

  it('rejects the sends of a batch whose commit fails', async () => {
    const direct = new DirectCommands();
    direct.attach(async () => ({ committed: Promise.reject(new Error('disk I/O error')) }));
    expect(String(await direct.submit(...item(0)).catch((e: unknown) => e))).to.match(/disk I\/O error/);
  });

  it('rejects every send of a failed batch, and the next batch goes on', async () => {
    const direct = new DirectCommands();
    let fail = true;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    direct.attach(async () => {
      await gate;
      if (fail) throw new Error('disk full');
    });
    const a = direct.submit(...item(0));
    const b = direct.submit(...item(1));
    const c = direct.submit(...item(2));
    release();
    const outcome = await Promise.allSettled([a, b, c]);
    expect(outcome.map((o) => o.status)).to.deep.equal(['rejected', 'rejected', 'rejected']);
    fail = false;
    await direct.submit(...item(3));
  });

  it('splits a long queue into batches of at most 500', async () => {
    const direct = new DirectCommands();
    const sizes: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    direct.attach(async (batch) => {
      sizes.push(batch.length);
      await gate;
    });
    const all = Array.from({ length: 1201 }, (_, n) => direct.submit(...item(n)));
    release();
    await Promise.all(all);
    expect(sizes).to.deep.equal([500, 500, 201]);
  });

  it('refuses sends until attached and after detach, and detach waits for the batch in flight', async () => {
    const direct = new DirectCommands();
    expect(direct.attached).to.equal(false);
    expect(String(await direct.submit(...item(0)).catch((e: unknown) => e))).to.match(/not attached/);
    let stored = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    direct.attach(async (batch) => {
      await gate;
      stored += batch.length;
    });
    const inFlight = direct.submit(...item(1));
    await new Promise((r) => setImmediate(r));
    let detached = false;
    const detaching = direct.detach().then(() => (detached = true));
    expect(direct.attached).to.equal(false);
    await new Promise((r) => setImmediate(r));
    expect(detached, 'detach waits for the batch in flight').to.equal(false);
    release();
    await Promise.all([inFlight, detaching]);
    expect(stored).to.equal(1);
    expect(String(await direct.submit(...item(2)).catch((e: unknown) => e))).to.match(/not attached/);
  });

  it('attaches only once the worker group has consumed what the log held at start', async () => {
    const end = new Map([
      [0, 3n],
      [1, 0n],
    ]);
    const committed = new Map([
      [0, 1n],
      [1, -1n],
    ]);
    const events = { endOffsets: async () => new Map(end), committedOffsets: async () => new Map(committed) };
    const direct = new DirectCommands();
    const waiting = attachWhenDrained(direct, events, 'g', 't', async () => undefined);
    await new Promise((r) => setTimeout(r, 120));
    expect(direct.attached, 'partition 0 still holds two commands').to.equal(false);
    end.set(0, 9n); // later appends (sends before attach) do not move the mark
    committed.set(0, 3n);
    expect(await waiting.attached).to.equal(true);
    expect(direct.attached).to.equal(true);

    const other = new DirectCommands();
    const cancelled = attachWhenDrained(
      other,
      { ...events, endOffsets: async () => new Map([[0, 5n]]) },
      'g',
      't',
      async () => undefined,
    );
    cancelled.cancel();
    expect(await cancelled.attached).to.equal(false);
    expect(other.attached).to.equal(false);
  });
});

/**
 * The api's Sender over the direct path, with the real persister, on the embedded event log and
 * SQLite: what embedded mode runs.
 */
describe('a send over the direct path (embedded log, SQLite)', function () {
  this.timeout(30_000);
  let world: EmbeddedWorld;
  let events: EmbeddedEventLog;
  let cache: MemoryCache;
  let store: MessageStore;
  let direct: DirectCommands;
  let seen: ChatEvent[];
  let sub: Subscription;
  const convs = [randomUUID(), randomUUID()];

  beforeEach(async () => {
    world = await openEmbeddedWorld([
      { name: 'chat.messages', partitions: 4 },
      { name: 'chat.events', partitions: 4 },
      { name: 'chat.messages.dlq', partitions: 1 },
    ]);
    ({ events, cache, store } = world);
    await seedDirect(store, convs[0]!, ['alice', 'bob']);
    await seedDirect(store, convs[1]!, ['alice', 'carol']);
    seen = [];
    sub = await events.subscribe({
      groupId: 'reader',
      topics: ['chat.events'],
      fromBeginning: true,
      handler: async (b) =>
        void seen.push(...b.map((r: ConsumedRecord) => JSON.parse(r.value.toString()) as ChatEvent)),
    });
    direct = new DirectCommands();
  });
  afterEach(async () => {
    await sub.stop();
    await world.close();
  });

  /** As embedded mode runs it: the state shares the events' commit (module.ts). */
  const persister = () =>
    new Persister(
      store,
      events,
      cache,
      { topicEvents: 'chat.events', topicDlq: 'chat.messages.dlq', eventsCommitWithStore: true },
      logger,
      new WorkerMetrics(new Registry()),
    );

  it('stores, sequences and announces without writing a command, gap-free across interleaved conversations', async () => {
    const p = persister();
    direct.attach((batch) => p.writeDirect(batch));
    const sender = senderFor(store, events, logger, direct);
    const sends = Array.from({ length: 40 }, (_, n) =>
      sender.send(
        principal('alice'),
        convs[n % 2]!,
        { clientMsgId: `m${n}`, body: `${n}` },
        { waitPersisted: false },
      ),
    );
    await Promise.all(sends);
    // Resolved means stored: no waiting for a worker.
    for (const [i, c] of convs.entries()) {
      const page = await store.messages.find({ conversationId: c }, { sort: [['seq', 1]] });
      expect(page.map((m) => m.seq)).to.deep.equal(Array.from({ length: 20 }, (_, k) => k + 1));
      expect(
        page.map((m) => m.body),
        'seq order is send order',
      ).to.deep.equal(Array.from({ length: 20 }, (_, k) => String(2 * k + i)));
    }
    expect(
      [...(await events.endOffsets('chat.messages')).values()].every((e) => e === 0n),
      'no command written',
    ).to.equal(true);
    await waitFor(() => seen.length === 40 || null);
    expect(new Set(seen.map((e) => (e.data as { id: string }).id)).size).to.equal(40);
  });

  it('answers a REST send with the stored message, and a re-send with the same one, announced once', async () => {
    const p = persister();
    direct.attach((batch) => p.writeDirect(batch));
    const sender = senderFor(store, events, logger, direct);
    const input = { clientMsgId: 'once', body: 'hello' };
    const first = await sender.send(principal('alice'), convs[0]!, input, { waitPersisted: true });
    const again = await sender.send(principal('alice'), convs[0]!, input, { waitPersisted: true });
    expect(first.status).to.equal('persisted');
    expect(again).to.deep.equal(first);
    await waitFor(() => seen.length === 1 || null);
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).to.have.length(1);
  });

  it('after a restart, stores the commands the log still holds before the first direct send', async () => {
    const held = [0, 1, 2].map((n) => sendCommandJson(convs[0]!, `held-${n}`, Date.now(), 'alice'));
    await events.produce(
      'chat.messages',
      held.map((value) => ({ key: convs[0]!, value })),
    );
    const sender = senderFor(store, events, logger, direct);
    const worker = await subscribePersister(events, persister(), {
      groupId: 'message-worker',
      topic: 'chat.messages',
      direct,
    });
    // Sent while the worker drains: it goes to the log behind the held ones, or directly after.
    await sender.send(
      principal('alice'),
      convs[0]!,
      { clientMsgId: 'new', body: 'new' },
      { waitPersisted: true },
    );
    await waitFor(() => direct.attached || null);
    await sender.send(
      principal('alice'),
      convs[0]!,
      { clientMsgId: 'direct', body: 'direct' },
      { waitPersisted: true },
    );
    const page = await store.messages.find({ conversationId: convs[0]! }, { sort: [['seq', 1]] });
    expect(page.map((m) => [m.seq, m.clientMsgId])).to.deep.equal([
      [1, 'held-0'],
      [2, 'held-1'],
      [3, 'held-2'],
      [4, 'new'],
      [5, 'direct'],
    ]);
    const endBefore = await events.endOffsets('chat.messages');
    await sender.send(
      principal('alice'),
      convs[0]!,
      { clientMsgId: 'more', body: 'more' },
      { waitPersisted: false },
    );
    expect(await events.endOffsets('chat.messages'), 'attached: nothing more goes to the log').to.deep.equal(
      endBefore,
    );
    await worker.stop();
    expect(direct.attached).to.equal(false);
  });

  it('refuses both batches of a commit that fails after the second was written into it; re-sent, they are stored gap-free and announced once', async () => {
    const p = persister();
    let written = 0;
    let held = -1;
    let second: Promise<unknown> | undefined;
    direct.attach(async (batch) => {
      const w = await p.writeDirect(batch);
      if (++written === 2) {
        // The commit these writes wait for fails (as on a full disk): rolled back. The next send
        // is queued now, so its batch is written before that commit, into the same transaction.
        groupCommitOf(world.docs.handle).atCommit(
          () => {
            held = written;
            throw new Error('disk full');
          },
          () => undefined,
        );
        const c = JSON.parse(sendCommandJson(convs[0]!, 'c', Date.now(), 'alice')) as SendCommand;
        second = direct.submit(c, {}).catch((e: unknown) => e);
      }
      return w;
    });
    const sender = senderFor(store, events, logger, direct);
    const send = (id: string) =>
      sender.send(principal('alice'), convs[0]!, { clientMsgId: id, body: id }, { waitPersisted: false });
    await send('a');
    const first = await send('b').catch((e: unknown) => e);
    expect(held, 'both batches were written into the failing commit').to.equal(3);
    expect((first as { code?: string }).code).to.equal('UNAVAILABLE');
    expect(String(await second)).to.match(/disk full/);
    // Re-sent (the clients' retries): stored once each, after what the store holds.
    await send('b');
    await send('c');
    await send('d');
    const page = await store.messages.find({ conversationId: convs[0]! }, { sort: [['seq', 1]] });
    expect(page.map((m) => [m.seq, m.clientMsgId])).to.deep.equal([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ]);
    await waitFor(() => seen.length >= 4 || null);
    await new Promise((r) => setTimeout(r, 50));
    // Every stored message announced with its seq, and nothing else. (The failed commit also
    // rolled back the reader's held offset, so the log redelivers `a`: at least once.)
    const announced = seen.map((e) => e.data as { seq: number; clientMsgId: string });
    expect(new Set(announced.map((m) => `${m.seq}:${m.clientMsgId}`))).to.deep.equal(
      new Set(['1:a', '2:b', '3:c', '4:d']),
    );
  });

  it('refuses a send the store could not take with UNAVAILABLE, and its re-send stores it once', async () => {
    const p = persister();
    let down = true;
    direct.attach(async (batch) => {
      if (down) throw new Error('disk I/O error');
      await (
        await p.writeDirect(batch)
      ).committed;
    });
    const sender = senderFor(store, events, logger, direct);
    const input = { clientMsgId: 'retry-me', body: 'hi' };
    const refused = (await sender
      .send(principal('alice'), convs[1]!, input, { waitPersisted: false })
      .catch((e: unknown) => e)) as { status?: number; code?: string; message?: string };
    expect([refused.status, refused.code]).to.deep.equal([503, 'UNAVAILABLE']);
    expect(refused.message).to.match(/could not be stored/);
    down = false;
    await sender.send(principal('alice'), convs[1]!, input, { waitPersisted: false });
    await sender.send(principal('alice'), convs[1]!, input, { waitPersisted: false });
    const stored = await store.messages.find({ conversationId: convs[1]! }, {});
    expect(stored.map((m) => m.seq)).to.deep.equal([1]);
  });
});
