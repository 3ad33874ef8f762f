import { expect } from 'chai';
import type { ConsumedRecord } from './port.ts';
import { PartitionTail, TAIL_MAX } from './tail.ts';

const rec = (offset: number): ConsumedRecord => ({
  topic: 't',
  partition: 0,
  offset: String(offset),
  key: 'k',
  value: Buffer.from(String(offset)),
  headers: {},
  timestamp: 0,
});
const offsets = (rs: ConsumedRecord[] | undefined) => rs?.map((r) => Number(r.offset));

describe('PartitionTail', () => {
  it('serves records from its watermark on, and sends older reads to the file', () => {
    const t = new PartitionTail(10);
    expect(offsets(t.read(10, 5))).to.deep.equal([]);
    for (let o = 10; o < 13; o++) t.push(rec(o));
    expect(t.end).to.equal(13);
    expect(offsets(t.read(11, 5))).to.deep.equal([11, 12]);
    expect(offsets(t.read(10, 2))).to.deep.equal([10, 11]);
    expect(t.read(9, 5)).to.equal(undefined);
  });

  it('keeps at least the last TAIL_MAX records and at most twice that', () => {
    const t = new PartitionTail(0);
    for (let o = 0; o < TAIL_MAX + 10; o++) t.push(rec(o));
    expect(offsets(t.read(0, 2))).to.deep.equal([0, 1]);
    for (let o = TAIL_MAX + 10; o < 2 * TAIL_MAX; o++) t.push(rec(o));
    expect(t.read(TAIL_MAX - 1, 1)).to.equal(undefined);
    expect(offsets(t.read(TAIL_MAX, 2))).to.deep.equal([TAIL_MAX, TAIL_MAX + 1]);
    expect(offsets(t.read(2 * TAIL_MAX - 1, 5))).to.deep.equal([2 * TAIL_MAX - 1]);
    expect(t.end).to.equal(2 * TAIL_MAX);
  });

  it('lets go of the records every reader has committed, and no more', () => {
    const t = new PartitionTail(0);
    for (let o = 0; o < 5; o++) t.push(rec(o));
    t.release(3);
    expect(t.read(2, 5)).to.equal(undefined);
    expect(offsets(t.read(3, 5))).to.deep.equal([3, 4]);
    t.release(2); // behind what is already gone: nothing changes
    expect(offsets(t.read(3, 5))).to.deep.equal([3, 4]);
    t.release(99); // past the watermark: everything up to it goes, and appends carry on from there
    expect(offsets(t.read(5, 5))).to.deep.equal([]);
    t.push(rec(5));
    expect(offsets(t.read(5, 5))).to.deep.equal([5]);
    expect(t.end).to.equal(6);
  });

  it('restarts at a watermark another writer moved', () => {
    const t = new PartitionTail(0);
    t.push(rec(0));
    t.reset(5);
    expect(t.end).to.equal(5);
    expect(t.read(0, 5)).to.equal(undefined);
    t.push(rec(5));
    expect(offsets(t.read(5, 5))).to.deep.equal([5]);
  });
});
