import { expect } from 'chai';
import { inParallel, mapInParallel } from './parallel.ts';

describe('inParallel, mapInParallel', () => {
  const tick = () => new Promise<void>((r) => setImmediate(r));

  it('keeps at most `limit` in flight and runs every item', async () => {
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    await inParallel([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      peak = Math.max(peak, ++inFlight);
      await tick();
      inFlight--;
      done.push(n);
    });
    expect(peak).to.equal(3);
    expect(done.sort()).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
  });

  it('finishes the others before rethrowing the first failure', async () => {
    const done: number[] = [];
    const err = await inParallel([1, 2, 3, 4], 2, async (n) => {
      await tick();
      if (n === 1) throw new Error('one');
      if (n === 3) throw new Error('three');
      done.push(n);
    }).catch((e: unknown) => e);
    expect((err as Error).message).to.equal('one');
    expect(done.sort()).to.deep.equal([2, 4]);
  });

  it('does nothing for no items', async () => {
    await inParallel([], 4, () => Promise.reject(new Error('not called')));
  });

  it('resolves results in the order of the items, whatever order they finish in', async () => {
    const out = await mapInParallel(
      [30, 10, 20],
      3,
      (ms) => new Promise<number>((r) => setTimeout(() => r(ms * 2), ms)),
    );
    expect(out).to.deep.equal([60, 20, 40]);
  });
});
