/**
 * The notifier's own cost: `message.created` events per second and CPU µs per event through
 * Notifier.handle (gather facts, decide, store the notification, update the collapse window,
 * claim and record the push delivery), on the embedded adapters (SQLite file, in-process cache),
 * with provider channels that accept at once, so the figure is Parley's and not a provider's.
 * Run beside the same events with every recipient online (the skip path: facts and decide only).
 *
 *   npm run bench:notify -- [--events 2000] [--members 2] [--batch 100]
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createLogger, type ConsumedRecord } from '@parley/common';
import { MemoryCache, SqliteDocumentStore } from '@parley/common/testing';
import { chatEvent } from '../../services/message/src/domain/envelopes.ts';
import { Presence } from '../../services/message/src/domain/presence.ts';
import { MessageStore } from '../../services/message/src/domain/store.ts';
import type { PushChannel } from '../../services/message/src/notify/channels/port.ts';
import { Deliverer } from '../../services/message/src/notify/deliver.ts';
import { NotifyMetrics } from '../../services/message/src/notify/metrics.ts';
import { Notifier } from '../../services/message/src/notify/notifier.ts';
import { NotificationStore } from '../../services/message/src/notify/store.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '2000' },
    members: { type: 'string', default: '2' },
    batch: { type: 'string', default: '100' },
  },
});
const events = Number(args.events);
const members = Number(args.members);
const batchSize = Number(args.batch);

async function run(online: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-notify-'));
  const docs = new SqliteDocumentStore({ path: join(dir, 'bench.db') });
  const messages = await MessageStore.open(docs);
  const store = await NotificationStore.open(docs);
  const cache = new MemoryCache();
  const presence = new Presence(cache, 90_000);
  let pushes = 0;
  const accept: PushChannel<{ endpoint: string }> = {
    send: async () => {
      pushes++;
      return { ok: true };
    },
    close: async () => {},
  };
  const metrics = new NotifyMetrics(new Registry());
  const logger = createLogger({ level: 'silent', name: 'bench' });
  const deliverer = new Deliverer(
    store,
    { web: accept as never },
    { sendAttempts: 1, retryInitialMs: 1 },
    metrics,
    logger,
  );
  const notifier = new Notifier({
    store,
    messages,
    presence,
    // Only the DLQ produces, and no bench event is poison.
    events: { produce: async () => undefined } as never,
    deliverer,
    // Each event its own conversation: every recipient opens a window and is pushed (the costly path).
    opts: { topicDlq: 'dlq', maxAttempts: 5, collapseMs: 60_000 },
    logger,
    metrics,
  });
  const users = Array.from({ length: members }, (_, i) => `u${i}`);
  for (const u of users.slice(1)) {
    await store.subscriptions.insertOne({
      _id: `${u}:d`,
      userId: u,
      deviceId: 'd',
      class: 'web',
      endpoint: 'https://push.example/x',
      keys: { p256dh: 'p', auth: 'a' },
      createdAt: new Date().toISOString(),
    });
    if (online) await presence.set(u, `conn-${u}`, 'online');
  }
  const records: ConsumedRecord[] = Array.from({ length: events }, (_, i) => {
    const conversationId = randomUUID();
    const ev = chatEvent('message.created', conversationId, users, {
      id: randomUUID(),
      conversationId,
      seq: 1,
      senderId: users[0],
      body: `message ${i} with a few words of text in it`,
      createdAt: new Date().toISOString(),
    });
    return {
      topic: 'chat.events',
      partition: 0,
      offset: String(i),
      key: conversationId,
      value: Buffer.from(JSON.stringify(ev)),
      headers: {},
    } as unknown as ConsumedRecord;
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batchSize) await notifier.handle(records.slice(i, i + batchSize));
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Not closed: the file goes with its folder (close waits for the WAL checkpoint worker).
  rmSync(dir, { recursive: true, force: true });
  return { wall, cpuUs: cpu.user + cpu.system, pushes };
}

console.log(
  `notifier bench: ${events} message.created events, ${members} members each (1 sender), batches of ${batchSize}, SQLite file + in-process cache, node ${process.version}`,
);
for (const online of [false, true]) {
  const r = await run(online);
  const label = online ? 'recipients online (skip path)' : 'recipients offline (notify + push)';
  console.log(
    `${label.padEnd(36)} ${(events / r.wall).toFixed(0).padStart(7)} events/s   ${(r.cpuUs / events).toFixed(0).padStart(6)} CPU µs/event   pushes ${r.pushes}`,
  );
}
