import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { waitFor } from '../retry.ts';
import { EventLogMetrics } from './metrics.ts';
import type { ConsumedRecord, EventLog, Subscription } from './port.ts';

/**
 * The cases every EventLog adapter must pass, run against each implementation. `open` must hand
 * `metrics` to the adapter: both record the same parley_eventlog_* series.
 */
export function eventLogContract(
  name: string,
  open: (metrics: EventLogMetrics) => Promise<EventLog>,
  opts: { timeoutMs?: number } = {},
): void {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  describe(`EventLog contract: ${name}`, function () {
    this.timeout(timeoutMs * 4);
    let log: EventLog;
    const registry = new Registry();
    const metrics = new EventLogMetrics(registry);
    const subs: Subscription[] = [];
    const uid = () => randomUUID().slice(0, 8);

    before(async () => {
      log = await open(metrics);
    });
    afterEach(async () => {
      await Promise.all(subs.splice(0).map((s) => s.stop()));
    });
    after(async () => {
      await log?.close();
    });

    async function collect(groupId: string, topic: string, fromBeginning: boolean, into: ConsumedRecord[]) {
      const sub = await log.subscribe({
        groupId,
        topics: [topic],
        fromBeginning,
        handler: async (batch) => {
          into.push(...batch);
        },
      });
      subs.push(sub);
      return sub;
    }

    /**
     * Produces `value` on 16 keys (so on every partition) until each of `into` has consumed one:
     * the members are consuming, with their partitions assigned.
     */
    async function untilConsumed(topic: string, into: ConsumedRecord[][], value: string) {
      await waitFor(
        async () => {
          await log.produce(
            topic,
            Array.from({ length: 16 }, (_, i) => ({ key: `${value}-${i}`, value })),
          );
          return into.every((got) => got.some((r) => r.value.toString() === value));
        },
        { timeoutMs, intervalMs: 250, what: `${value} consumed by every member` },
      );
    }

    it('creating topics is idempotent', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 3, replicationFactor: 1 }]);
      await log.ensureTopics([{ name: topic, partitions: 3, replicationFactor: 1 }]);
      expect([...(await log.endOffsets(topic)).values()]).to.deep.equal([0n, 0n, 0n]);
    });

    it('delivers every record with key, value and headers, in order per key', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 4, replicationFactor: 1 }]);
      const keys = ['conv-a', 'conv-b', 'conv-c'];
      for (let i = 0; i < 30; i++)
        await log.produce(topic, [
          { key: keys[i % 3]!, value: JSON.stringify({ i }), headers: { 'x-n': String(i) } },
        ]);
      const got: ConsumedRecord[] = [];
      await collect(`g.${uid()}`, topic, true, got);
      await waitFor(() => got.length >= 30, { timeoutMs, what: '30 records' });
      expect(got).to.have.length(30);
      for (const k of keys) {
        const seq = got
          .filter((r) => r.key === k)
          .map((r) => (JSON.parse(r.value.toString()) as { i: number }).i);
        expect(seq).to.deep.equal([...seq].sort((a, b) => a - b));
        expect(seq).to.have.length(10);
      }
      const r = got.find((x) => x.key === 'conv-a')!;
      expect(r.headers['x-n']).to.equal(String((JSON.parse(r.value.toString()) as { i: number }).i));
      expect(r.topic).to.equal(topic);
      const total = [...(await log.endOffsets(topic)).values()].reduce((a, b) => a + b, 0n);
      expect(total).to.equal(30n);
    });

    it('concurrent produce calls for one key keep the order of the calls, each resolving', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 4, replicationFactor: 1 }]);
      // Not awaited one by one: a gateway's sends from many sockets, a worker's events.
      await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          log.produce(topic, [
            { key: `conv-${i % 2}`, value: String(i) },
            { key: `conv-${i % 2}`, value: `${i}b` },
          ]),
        ),
      );
      const got: ConsumedRecord[] = [];
      await collect(`g.${uid()}`, topic, true, got);
      await waitFor(() => got.length >= 120, { timeoutMs, what: '120 records' });
      for (const k of ['conv-0', 'conv-1']) {
        const values = got.filter((r) => r.key === k).map((r) => r.value.toString());
        const calls = Array.from({ length: 60 }, (_, i) => i).filter((i) => `conv-${i % 2}` === k);
        expect(values).to.deep.equal(calls.flatMap((i) => [String(i), `${i}b`]));
      }
    });

    it('a stopped group has committed everything it handled', async () => {
      const topic = `t.${uid()}`;
      const group = `g.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 2, replicationFactor: 1 }]);
      const got: ConsumedRecord[] = [];
      const sub = await collect(group, topic, true, got);
      // One record at a time: each batch is handled soon after the one before (within the
      // adapters' commit spacing), so the last ones are held, not yet committed, when stop() comes.
      for (let i = 0; i < 12; i++) {
        await log.produce(topic, [{ key: `k${i}`, value: String(i) }]);
        await waitFor(() => got.length > i, { timeoutMs, what: `record ${i}` });
      }
      await sub.stop();
      subs.splice(subs.indexOf(sub), 1);
      const committed = [...(await log.committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0n);
      expect(committed).to.equal(12n);
    });

    it('a new group starting at the end skips older records and loses none produced after subscribe', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 4, replicationFactor: 1 }]);
      await log.produce(topic, [{ key: 'k0', value: 'before' }]);
      const got: ConsumedRecord[] = [];
      await collect(`g.${uid()}`, topic, false, got);
      // Produced at once, before the consumer has been assigned anything.
      for (let i = 0; i < 8; i++) await log.produce(topic, [{ key: `k${i}`, value: `after-${i}` }]);
      await waitFor(() => got.length >= 8, { timeoutMs, what: '8 records' });
      expect(got.map((r) => r.value.toString()).sort()).to.deep.equal(
        Array.from({ length: 8 }, (_, i) => `after-${i}`),
      );
    });

    it('commits offsets so a restarted group resumes after what it processed', async () => {
      const topic = `t.${uid()}`;
      const group = `g.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 2, replicationFactor: 1 }]);
      await log.produce(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `first-${i}` })),
      );
      const first: ConsumedRecord[] = [];
      const sub = await collect(group, topic, true, first);
      await waitFor(() => first.length >= 10, { timeoutMs, what: 'first 10' });
      await waitFor(
        async () =>
          [...(await log.committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0n) === 10n,
        { timeoutMs, what: 'offsets committed' },
      );
      await sub.stop();
      subs.splice(subs.indexOf(sub), 1);
      await log.produce(
        topic,
        Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: `second-${i}` })),
      );
      const second: ConsumedRecord[] = [];
      await collect(group, topic, true, second);
      await waitFor(() => second.length >= 5, { timeoutMs, what: 'second 5' });
      expect(second.map((r) => r.value.toString()).sort()).to.deep.equal(
        Array.from({ length: 5 }, (_, i) => `second-${i}`),
      );
    });

    it('redelivers a batch whose handler failed (at least once)', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
      await log.produce(topic, [{ key: 'k', value: 'poison-once' }]);
      let attempts = 0;
      const seen: string[] = [];
      subs.push(
        await log.subscribe({
          groupId: `g.${uid()}`,
          topics: [topic],
          fromBeginning: true,
          handler: async (batch) => {
            attempts++;
            if (attempts === 1) throw new Error('transient failure');
            seen.push(...batch.map((r) => r.value.toString()));
          },
        }),
      );
      await waitFor(() => seen.length >= 1, { timeoutMs, what: 'redelivery' });
      expect(attempts).to.be.greaterThanOrEqual(2);
      expect(seen).to.deep.equal(['poison-once']);
    });

    it('a new group that does not start from the beginning sees only later records', async () => {
      const topic = `t.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 1, replicationFactor: 1 }]);
      await log.produce(topic, [{ key: 'k', value: 'old' }]);
      const got: ConsumedRecord[] = [];
      const group = `g.${uid()}`;
      await collect(group, topic, false, got);
      // Kafka resolves "latest" when the member first fetches; wait until the group has joined.
      await waitFor(async () => (await log.committedOffsets(group, topic)).get(0) !== undefined, {
        timeoutMs,
      });
      // Consuming for real: a probe produced now arrives (produced again until one does).
      await untilConsumed(topic, [got], 'probe');
      await log.produce(topic, [{ key: 'k', value: 'new' }]);
      await waitFor(() => got.some((r) => r.value.toString() === 'new'), { timeoutMs, what: 'new record' });
      expect(got.map((r) => r.value.toString()).filter((v) => v !== 'probe')).to.deep.equal(['new']);
    });

    it('splits partitions between members of one group, each record to one member', async () => {
      const topic = `t.${uid()}`;
      const group = `g.${uid()}`;
      await log.ensureTopics([{ name: topic, partitions: 4, replicationFactor: 1 }]);
      const a: ConsumedRecord[] = [];
      const b: ConsumedRecord[] = [];
      await collect(group, topic, true, a);
      await collect(group, topic, true, b);
      // Both members hold partitions: probes on every partition's keys reach each of them.
      await untilConsumed(topic, [a, b], 'probe');
      const counted = (r: ConsumedRecord) => r.value.toString() !== 'probe';
      await log.produce(
        topic,
        Array.from({ length: 40 }, (_, i) => ({ key: `key-${i}`, value: String(i) })),
      );
      await waitFor(() => [...a, ...b].filter(counted).length >= 40, {
        timeoutMs,
        what: '40 records across members',
      });
      const [ca, cb] = [a.filter(counted), b.filter(counted)];
      const all = [...ca, ...cb].map((r) => Number(r.value.toString())).sort((x, y) => x - y);
      expect(all).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
      expect(ca.length).to.be.greaterThan(0);
      expect(cb.length).to.be.greaterThan(0);
      const pa = new Set(ca.map((r) => r.partition));
      expect(cb.some((r) => pa.has(r.partition))).to.equal(false);
    });

    it('counts produced, consumed and failed records per topic; lag per partition falls to zero', async () => {
      const topic = `t.${uid()}`;
      const group = `g.${uid()}`;
      const value = async (name: string, labels: Record<string, string>) =>
        (await registry.getSingleMetric(name)!.get()).values.find((v) =>
          Object.entries(labels).every(([k, l]) => v.labels[k] === l),
        )?.value;
      await log.ensureTopics([{ name: topic, partitions: 2, replicationFactor: 1 }]);
      expect(await value('parley_eventlog_records_produced_total', { topic })).to.equal(0);
      await log.produce(
        topic,
        Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: String(i) })),
      );
      expect(await value('parley_eventlog_records_produced_total', { topic })).to.equal(10);
      let failed = false;
      const got: ConsumedRecord[] = [];
      subs.push(
        await log.subscribe({
          groupId: group,
          topics: [topic],
          fromBeginning: true,
          handler: async (batch) => {
            if (!failed) {
              failed = true;
              throw new Error('transient failure');
            }
            got.push(...batch);
          },
        }),
      );
      await waitFor(() => got.length >= 10, { timeoutMs, what: '10 records' });
      await waitFor(
        async () => (await value('parley_eventlog_records_consumed_total', { topic, group })) === 10,
        {
          timeoutMs,
          what: 'consumed count',
        },
      );
      expect(await value('parley_eventlog_handler_errors_total', { topic, group })).to.equal(1);
      for (const partition of ['0', '1'])
        expect(await value('parley_eventlog_consumer_lag', { topic, group, partition })).to.equal(0);
    });

    it('answers ping (resolves, with nothing)', async () => {
      expect(await log.ping()).to.equal(undefined);
    });
  });
}
