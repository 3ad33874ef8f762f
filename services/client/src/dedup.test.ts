import { expect } from 'chai';
import { RecentIds } from './dedup.ts';

describe('RecentIds (bounded de-duplication)', () => {
  it('reports a repeated id as a duplicate', () => {
    const s = new RecentIds(10);
    expect(s.add('m1')).to.equal(true);
    expect(s.add('m1')).to.equal(false);
  });

  it('forgets the oldest id beyond its capacity, keeping memory bounded', () => {
    const s = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'd']) s.add(id);
    expect(s.size).to.equal(3);
    expect(s.has('a')).to.equal(false);
    expect(s.has('d')).to.equal(true);
    for (let i = 0; i < 10_000; i++) s.add(`x${i}`);
    expect(s.size).to.equal(3);
  });

  it('refuses a capacity below one', () => {
    expect(() => new RecentIds(0)).to.throw('capacity (0) must be at least 1');
  });
});
