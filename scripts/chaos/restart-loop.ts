/**
 * The FerretDB restart race (#21 item 4): restarts the local stack's FerretDB N times in a row
 * (`scripts/stack/ctl.sh restart ferretdb`, as the fault harness's mongo phase does) while a client
 * keeps writing and reading through the MongoDB adapter, and reports every restart that failed with
 * the server's own log around it, each write the client could not make, and the longest outage.
 *
 *   bash scripts/stack/up.sh && eval "$(bash scripts/stack/env.sh)"
 *   npm run chaos:restart-loop -- --times 30
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MongoDocumentStore } from '@parley/common/testing';
import { ctl } from './stack.ts';

const args = process.argv.slice(2);
const times = Number(args[args.indexOf('--times') + 1] ?? 30) || 30;
const url = process.env.MONGO_URL;
if (!url) throw new Error('MONGO_URL is not set: eval "$(bash scripts/stack/env.sh)" first');
const stackDir = process.env.PARLEY_STACK_DIR ?? join(import.meta.dirname, '../../.stack');
const ferretLog = join(stackDir, 'ferretdb', 'ferretdb.log');

const store = await MongoDocumentStore.connect({ url });
const probes = await store.collection<{ _id: string; i: number; at: number }>('restart_loop_probe');
await probes.deleteMany({});

let writes = 0;
let failedWrites = 0;
let lastOk = Date.now();
let longestGapMs = 0;
let stopping = false;
const errors = new Map<string, number>();
const client = (async () => {
  for (let i = 0; !stopping; i++) {
    try {
      await probes.insertOne({ _id: `p${i}`, i, at: Date.now() });
      const back = await probes.findById(`p${i}`);
      if (!back) throw new Error(`p${i} written but not read back`);
      writes++;
      longestGapMs = Math.max(longestGapMs, Date.now() - lastOk);
      lastOk = Date.now();
    } catch (err) {
      failedWrites++;
      const key = (err as Error).message.slice(0, 120);
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
})();

const failures: { round: number; ms: number; stderr: string; serverLog: string }[] = [];
const durations: number[] = [];
for (let round = 1; round <= times; round++) {
  const logStart = (() => {
    try {
      return readFileSync(ferretLog, 'utf8').length;
    } catch {
      return 0;
    }
  })();
  const t0 = Date.now();
  const r = await ctl(['restart', 'ferretdb']);
  const ms = Date.now() - t0;
  durations.push(ms);
  if (!r.ok) {
    let serverLog = '';
    try {
      serverLog = readFileSync(ferretLog, 'utf8').slice(logStart).slice(-3000);
    } catch {
      serverLog = '(no log)';
    }
    failures.push({ round, ms, stderr: r.stderr.slice(-2000), serverLog });
    process.stdout.write(`restart ${round}/${times}: FAILED after ${ms} ms\n`);
    // Leave it running for the next round.
    await ctl(['start', 'ferretdb']);
  } else process.stdout.write(`restart ${round}/${times}: ok in ${ms} ms\n`);
  await new Promise((r) => setTimeout(r, 1000));
}
stopping = true;
await client;
// The first operation after a restart may meet a pooled connection the server closed: retry.
for (let attempt = 0; attempt < 5; attempt++) {
  try {
    await probes.deleteMany({});
    break;
  } catch {
    await new Promise((r) => setTimeout(r, 500));
  }
}
await store.close().catch(() => {});

durations.sort((a, b) => a - b);
process.stdout.write(
  `\n${times - failures.length}/${times} restarts ok (median ${durations[durations.length >> 1]} ms, ` +
    `max ${durations.at(-1)} ms); client: ${writes} writes read back, ${failedWrites} failed, ` +
    `longest gap between successful writes ${longestGapMs} ms\n`,
);
for (const [msg, n] of errors) process.stdout.write(`  client error ×${n}: ${msg}\n`);
for (const f of failures)
  process.stdout.write(
    `\n--- restart ${f.round} failed after ${f.ms} ms\nctl.sh: ${f.stderr}\nferretdb.log:\n${f.serverLog}\n`,
  );
process.exit(failures.length === 0 ? 0 : 1);
