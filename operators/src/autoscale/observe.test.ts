import { expect } from 'chai';
import { observe, type OffsetSnapshot } from './observe.ts';

describe('observe', () => {
  const first: OffsetSnapshot = {
    at: 0,
    partitions: [
      { topic: 't', partition: 0, committedOffset: 100, logStartOffset: 0, logEndOffset: 150 },
      { topic: 't', partition: 1, committedOffset: null, logStartOffset: 10, logEndOffset: 40 },
    ],
  };
  const second: OffsetSnapshot = {
    at: 10_000,
    partitions: [
      { topic: 't', partition: 0, committedOffset: 300, logStartOffset: 0, logEndOffset: 450 },
      { topic: 't', partition: 1, committedOffset: null, logStartOffset: 10, logEndOffset: 140 },
      { topic: 't', partition: 2, committedOffset: 5, logStartOffset: 0, logEndOffset: 9 },
    ],
  };

  it('derives lag, committed offsets and log sizes, with null lag where nothing was committed', () => {
    expect(observe(undefined, first)).to.deep.equal({
      partitions: [
        { topic: 't', partition: 0, lag: 50, committedOffset: 100, logSize: 150 },
        { topic: 't', partition: 1, lag: null, committedOffset: null, logSize: 30 },
      ],
    });
  });

  it('derives produce and consume rates per second between polls, skipping new partitions', () => {
    const o = observe(first, second);
    expect(o.produceRate).to.equal(40); // (300 + 100) / 10 s
    expect(o.consumeRate).to.equal(20); // 200 / 10 s; partition 1 has no offsets, 2 is new
  });
});
