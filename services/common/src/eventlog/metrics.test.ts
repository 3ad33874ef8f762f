import { expect } from 'chai';
import { Registry } from 'prom-client';
import { consumerLag, EventLogMetrics } from './metrics.ts';

async function series(registry: Registry, name: string): Promise<Record<string, string | number>[]> {
  return (await registry.getSingleMetric(name)!.get()).values.map((v) => ({ ...v.labels, value: v.value }));
}

describe('event log metrics', () => {
  for (const [hw, last, want] of [
    ['10', '9', 0],
    ['10', '4', 5],
    ['0', '0', 0], // a compacted or truncated partition never shows negative lag
    ['9007199254740999', '9007199254740990', 8],
  ] as const)
    it(`lag with high watermark ${hw} after handling offset ${last} is ${want}`, () => {
      expect(consumerLag(hw, last)).to.equal(want);
    });

  it('registers a topic and a group at zero before any traffic', async () => {
    const registry = new Registry();
    const m = new EventLogMetrics(registry);
    m.primeTopic('chat.messages');
    m.primeGroup('message-worker', ['chat.messages']);
    expect(await series(registry, 'parley_eventlog_records_produced_total')).to.deep.equal([
      { topic: 'chat.messages', value: 0 },
    ]);
    expect(await series(registry, 'parley_eventlog_produce_errors_total')).to.deep.equal([
      { topic: 'chat.messages', value: 0 },
    ]);
    expect(await series(registry, 'parley_eventlog_records_consumed_total')).to.deep.equal([
      { topic: 'chat.messages', group: 'message-worker', value: 0 },
    ]);
    expect(await series(registry, 'parley_eventlog_handler_errors_total')).to.deep.equal([
      { topic: 'chat.messages', group: 'message-worker', value: 0 },
    ]);
  });

  it('counts a failed produce as an error and not as produced records, and rethrows', async () => {
    const registry = new Registry();
    const m = new EventLogMetrics(registry);
    await m.timeProduce('t', 3, async () => {});
    let thrown: unknown;
    try {
      await m.timeProduce('t', 2, async () => {
        throw new Error('timed out');
      });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).to.equal('timed out');
    expect(await series(registry, 'parley_eventlog_records_produced_total')).to.deep.equal([
      { topic: 't', value: 3 },
    ]);
    expect(await series(registry, 'parley_eventlog_produce_errors_total')).to.deep.equal([
      { topic: 't', value: 1 },
    ]);
    const count = (await series(registry, 'parley_eventlog_produce_duration_seconds')).find(
      (s) => 'topic' in s && !('le' in s) && s.value === 2,
    );
    expect(count, 'two produce calls timed').to.not.equal(undefined);
  });

  it('keeps lag series only for the partitions this process holds after a rebalance', async () => {
    const registry = new Registry();
    const m = new EventLogMetrics(registry);
    m.assign('g', 't', [0, 1, 2]);
    m.handled('g', 't', 1, 5, '4', '12');
    m.assign('g', 't', [1, 3]);
    const lag = await series(registry, 'parley_eventlog_consumer_lag');
    expect(lag.map((s) => [s.partition, s.value])).to.have.deep.members([
      ['1', 7],
      ['3', 0],
    ]);
    m.unassignGroup('g');
    expect(await series(registry, 'parley_eventlog_consumer_lag')).to.deep.equal([]);
  });

  it('applies handled batches at scrape time: counts add up across scrapes, a lost partition stays gone', async () => {
    const registry = new Registry();
    const m = new EventLogMetrics(registry);
    m.assign('g', 't', [0, 1]);
    m.handled('g', 't', 0, 3, '2', '10');
    m.handled('g', 't', 0, 2, '4', '10');
    m.handled('g', 't', 1, 1, '0', '1');
    expect(await series(registry, 'parley_eventlog_records_consumed_total')).to.deep.equal([
      { topic: 't', group: 'g', value: 6 },
    ]);
    expect(
      (await series(registry, 'parley_eventlog_consumer_lag')).map((s) => [s.partition, s.value]),
    ).to.have.deep.members([
      ['0', 5],
      ['1', 0],
    ]);
    // A batch of partition 1 finishes after a rebalance took the partition away.
    m.handled('g', 't', 1, 4, '8', '20');
    m.assign('g', 't', [0]);
    m.handled('g', 't', 1, 1, '9', '20');
    expect(await series(registry, 'parley_eventlog_records_consumed_total')).to.deep.equal([
      { topic: 't', group: 'g', value: 11 },
    ]);
    expect(
      (await series(registry, 'parley_eventlog_consumer_lag')).map((s) => [s.partition, s.value]),
    ).to.deep.equal([['0', 5]]);
  });
});
