import { expect } from 'chai';
import { backoffDelay, Controller, WorkQueue, type Outcome } from './queue.ts';
import { waitFor } from '@parley/common';

const backoff = { baseMs: 100, maxMs: 1000 };
const ok: Outcome = { kind: 'ok' };
const fail: Outcome = { kind: 'error', error: new Error('kafka down') };

describe('backoffDelay', () => {
  const cases: [number, number][] = [
    [0, 0],
    [1, 100],
    [2, 200],
    [3, 400],
    [4, 800],
    [5, 1000],
    [60, 1000],
  ];
  for (const [failures, ms] of cases)
    it(`waits ${ms} ms after ${failures} failure(s)`, () =>
      expect(backoffDelay(failures, backoff)).to.equal(ms));
});

describe('WorkQueue', () => {
  it('queues a key once, at its earliest due time', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 50);
    q.add('a', 10);
    q.add('a', 30);
    expect(q.size).to.equal(1);
    expect(q.nextDue()).to.equal(10);
    expect(q.take(9, 10)).to.deep.equal([]);
    expect(q.take(10, 10)).to.deep.equal(['a']);
  });

  it('hands out batches earliest first, at most max keys', () => {
    const q = new WorkQueue(backoff);
    q.add('c', 3);
    q.add('a', 1);
    q.add('b', 2);
    expect(q.take(5, 2)).to.deep.equal(['a', 'b']);
    expect(q.take(5, 2)).to.deep.equal(['c']);
  });

  it('never hands out a key that is in flight; a change seen meanwhile runs right after', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    expect(q.take(0, 10)).to.deep.equal(['a']);
    q.add('a', 1);
    expect(q.take(5, 10)).to.deep.equal([]);
    expect(q.done('a', ok, 5)).to.equal(1);
    expect(q.take(5, 10)).to.deep.equal(['a']);
  });

  it('backs off exponentially on errors and resets after a success', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    const due: (number | undefined)[] = [];
    let now = 0;
    for (let i = 0; i < 3; i++) {
      q.take(now, 1);
      due.push(q.done('a', fail, now));
      now = due[i]!;
    }
    expect(due).to.deep.equal([100, 300, 700]);
    q.take(now, 1);
    expect(q.done('a', { kind: 'ok', requeueAfterMs: 5000 }, now)).to.equal(5700);
    expect(q.failuresOf('a')).to.equal(0);
  });

  it('a change during a failing reconcile does not skip the backoff', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    q.take(0, 1);
    q.add('a', 0);
    expect(q.done('a', fail, 0)).to.equal(100);
  });

  it('does not retry a terminal outcome until something changes', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    q.take(0, 1);
    expect(q.done('a', { kind: 'terminal' }, 0)).to.equal(undefined);
    expect(q.size).to.equal(0);
    q.add('a', 10);
    expect(q.take(10, 1)).to.deep.equal(['a']);
  });

  it('requeues after a success only when asked (periodic resync)', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    q.take(0, 1);
    expect(q.done('a', ok, 0)).to.equal(undefined);
    q.add('a', 0);
    q.take(0, 1);
    expect(q.done('a', { kind: 'ok', requeueAfterMs: 30_000 }, 0)).to.equal(30_000);
  });

  it('forgets a deleted key', () => {
    const q = new WorkQueue(backoff);
    q.add('a', 0);
    q.forget('a');
    expect(q.take(0, 1)).to.deep.equal([]);
  });
});

describe('Controller', () => {
  it('batches keys that become due together and runs one batch at a time', async () => {
    const batches: string[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const c = new Controller({ name: 't', maxBatch: 10, batchLingerMs: 20, backoff }, async (keys) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      batches.push(keys);
      await new Promise((r) => setImmediate(r));
      concurrent--;
      return new Map(keys.map((k) => [k, ok]));
    });
    c.start();
    for (const k of ['a', 'b', 'c']) c.enqueue(k);
    await waitFor(() => expect(batches.flat()).to.have.members(['a', 'b', 'c']));
    c.enqueue('a');
    await waitFor(() => expect(batches.flat()).to.have.length(4));
    expect(batches[0]).to.deep.equal(['a', 'b', 'c']);
    expect(maxConcurrent).to.equal(1);
    await c.stop();
  });

  it('retries a failing key and reports every outcome', async () => {
    let calls = 0;
    const outcomes: string[] = [];
    const c = new Controller(
      { name: 't', maxBatch: 10, batchLingerMs: 0, backoff: { baseMs: 5, maxMs: 20 } },
      async (keys) => new Map(keys.map((k) => [k, ++calls < 3 ? fail : ok])),
      { outcome: (_k, o) => outcomes.push(o.kind) },
    );
    c.start();
    c.enqueue('a');
    await waitFor(() => expect(outcomes).to.deep.equal(['error', 'error', 'ok']));
    await c.stop();
  });
});
