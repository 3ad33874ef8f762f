import { expect } from 'chai';
import type { ConsumedRecord } from '@parley/common';
import { mergeTurn } from './merge.ts';

const batch = (partition: number, ...offsets: number[]): ConsumedRecord[] =>
  offsets.map((o) => ({
    topic: 't',
    partition,
    offset: String(o),
    key: `c${partition}`,
    value: Buffer.alloc(0),
    headers: {},
    timestamp: 0,
  }));
const ids = (rs: readonly ConsumedRecord[]) => rs.map((r) => `${r.partition}:${r.offset}`);

describe('mergeTurn: partition batches of one turn stored as one', () => {
  it('stores the batches handed over in one turn together, and a lone batch on its own', async () => {
    const merged: string[][] = [];
    const alone: string[][] = [];
    const handler = mergeTurn(
      async (rs) => void merged.push(ids(rs)),
      async (b) => void alone.push(ids(b)),
    );
    await Promise.all([handler(batch(0, 1, 2)), handler(batch(3, 7)), handler(batch(5, 9))]);
    await handler(batch(1, 4));
    expect(merged).to.deep.equal([['0:1', '0:2', '3:7', '5:9']]);
    expect(alone).to.deep.equal([['1:4']]);
  });

  it('when the merged store fails, handles each batch alone: the one that cannot be stored fails alone', async () => {
    const alone: string[][] = [];
    const handler = mergeTurn(
      async () => {
        throw new Error('one command cannot be stored');
      },
      async (b) => {
        alone.push(ids(b));
        if (b[0]!.partition === 3) throw new Error('partition 3 fails');
      },
    );
    const outcome = await Promise.allSettled([
      handler(batch(0, 1)),
      handler(batch(3, 7)),
      handler(batch(5, 9)),
    ]);
    expect(outcome.map((o) => o.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect(alone).to.deep.equal([['0:1'], ['3:7'], ['5:9']]);
  });
});
