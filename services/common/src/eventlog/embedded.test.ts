import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../retry.ts';
import { eventLogContract } from './contract.ts';
import { EmbeddedEventLog } from './embedded.ts';
import { assignPartitions, partitionFor } from './port.ts';

eventLogContract(
  'embedded (SQLite-backed, in-process)',
  async (metrics) => new EmbeddedEventLog({ db: ':memory:', metrics }),
);

describe('EmbeddedEventLog durability', () => {
  it('keeps acknowledged records and committed offsets across a restart of the process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-log-'));
    try {
      const path = join(dir, 'log.db');
      const first = new EmbeddedEventLog({ db: path });
      await first.ensureTopics([{ name: 'chat.messages', partitions: 2 }]);
      await first.produce('chat.messages', [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ]);
      await first.close();
      const second = new EmbeddedEventLog({ db: path });
      const seen: string[] = [];
      const sub = await second.subscribe({
        groupId: 'g',
        topics: ['chat.messages'],
        fromBeginning: true,
        handler: async (b) => void seen.push(...b.map((r) => r.value.toString())),
      });
      await waitFor(() => seen.length === 2);
      expect(seen.sort()).to.deep.equal(['1', '2']);
      await sub.stop();
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('partitioning', () => {
  it('maps a key to the same partition every time and spreads keys', () => {
    expect(partitionFor('conv-1', 8)).to.equal(partitionFor('conv-1', 8));
    const used = new Set(Array.from({ length: 100 }, (_, i) => partitionFor(`conv-${i}`, 8)));
    expect(used.size).to.equal(8);
  });

  it('assigns every partition to exactly one member, round-robin', () => {
    const plan = assignPartitions(['b', 'a'], [{ topic: 't', partitions: 3 }]);
    expect(plan.get('a')).to.deep.equal([
      { topic: 't', partition: 0 },
      { topic: 't', partition: 2 },
    ]);
    expect(plan.get('b')).to.deep.equal([{ topic: 't', partition: 1 }]);
  });
});
