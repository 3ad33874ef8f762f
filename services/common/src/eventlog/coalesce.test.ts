import { expect } from 'chai';
import type { LogRecord } from './port.ts';
import { ProduceCoalescer, type CoalescerOptions } from './coalesce.ts';

const rec = (v: string): LogRecord => ({ key: 'k', value: v });
const tick = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A log whose sends the test settles by hand. */
function manualLog() {
  const sends: { topic: string; values: string[]; ok: () => void; fail: (e: Error) => void }[] = [];
  const send = (topic: string, records: readonly LogRecord[]) =>
    new Promise<void>((ok, fail) =>
      sends.push({ topic, values: records.map((r) => String(r.value)), ok, fail }),
    );
  return { sends, send };
}

/** A coalescer over `send` with a 1 s timeout, plus `extra` options. */
const coalescer = (send: CoalescerOptions['send'], extra: Partial<CoalescerOptions> = {}) =>
  new ProduceCoalescer({ send, timeoutMs: 1000, onTimeout: () => new Error('timeout'), ...extra });

describe('ProduceCoalescer', () => {
  it('sends the calls of one turn as one send per topic, in call order', async () => {
    const log = manualLog();
    const c = coalescer(log.send);
    const ps = [c.produce('a', [rec('1'), rec('2')]), c.produce('b', [rec('x')]), c.produce('a', [rec('3')])];
    expect(log.sends).to.have.length(0);
    await tick();
    expect(log.sends.map((s) => [s.topic, s.values])).to.deep.equal([
      ['a', ['1', '2', '3']],
      ['b', ['x']],
    ]);
    for (const s of log.sends) s.ok();
    await Promise.all(ps);
  });

  it('fails every call of a failed send, and only those', async () => {
    const log = manualLog();
    const c = coalescer(log.send);
    const a1 = c.produce('a', [rec('1')]);
    const a2 = c.produce('a', [rec('2')]);
    const b = c.produce('b', [rec('x')]);
    await tick();
    log.sends[0]!.fail(new Error('broker said no'));
    log.sends[1]!.ok();
    const results = await Promise.allSettled([a1, a2, b]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected', 'fulfilled']);
    expect(String((results[0] as PromiseRejectedResult).reason)).to.contain('broker said no');
  });

  it('while a send is in flight, later calls gather and go when it settles', async () => {
    const log = manualLog();
    const c = coalescer(log.send, { lingerMs: 1000 });
    const first = c.produce('a', [rec('1')]);
    await tick();
    expect(log.sends).to.have.length(1);
    const later = [c.produce('a', [rec('2')]), c.produce('a', [rec('3')])];
    await tick();
    await tick();
    expect(log.sends, 'nothing goes while the first is in flight').to.have.length(1);
    log.sends[0]!.ok();
    await first;
    await tick();
    expect(log.sends.map((s) => s.values)).to.deep.equal([['1'], ['2', '3']]);
    log.sends[1]!.ok();
    await Promise.all(later);
  });

  it('with idleLingerMs, calls wait that long for company even with nothing in flight', async () => {
    const log = manualLog();
    const c = coalescer(log.send, { idleLingerMs: 30 });
    const ps = [c.produce('a', [rec('1')])];
    await sleep(5);
    expect(log.sends, 'still lingering').to.have.length(0);
    ps.push(c.produce('a', [rec('2')]));
    await sleep(60);
    expect(log.sends.map((s) => s.values)).to.deep.equal([['1', '2']]);
    log.sends[0]!.ok();
    await Promise.all(ps);
    // Without it, each of the same two calls (the first acknowledged by then) is a send of its own.
    const plain = manualLog();
    const d = coalescer(plain.send);
    const qs = [d.produce('a', [rec('1')])];
    await tick();
    plain.sends[0]!.ok();
    await sleep(5);
    qs.push(d.produce('a', [rec('2')]));
    await tick();
    expect(plain.sends.map((s) => s.values)).to.deep.equal([['1'], ['2']]);
    plain.sends[1]!.ok();
    await Promise.all(qs);
  });

  it('a stuck send holds the next calls back at most the linger', async () => {
    const log = manualLog();
    const c = new ProduceCoalescer({
      send: log.send,
      timeoutMs: 5000,
      onTimeout: () => new Error('timeout'),
      lingerMs: 20,
    });
    void c.produce('a', [rec('stuck')]).catch(() => undefined);
    await tick();
    const next = c.produce('a', [rec('next')]);
    await sleep(60);
    expect(log.sends.map((s) => s.values)).to.deep.equal([['stuck'], ['next']]);
    log.sends[1]!.ok();
    await next;
  });

  it('a call not acknowledged in time fails with the timeout error', async () => {
    const log = manualLog();
    const c = new ProduceCoalescer({
      send: log.send,
      timeoutMs: 30,
      onTimeout: (t) => new Error(`timeout on ${t}`),
    });
    const settled = Promise.allSettled([c.produce('a', [rec('1')])]);
    await sleep(60);
    const [r] = await settled;
    expect(r!.status).to.equal('rejected');
    expect(String((r as PromiseRejectedResult).reason)).to.contain('timeout on a');
    log.sends[0]!.ok(); // a late acknowledgement changes nothing
  });

  it('cuts a send at maxBytes without splitting a call', async () => {
    const log = manualLog();
    const c = coalescer(log.send, { maxBytes: 10 });
    const ps = [
      c.produce('a', [rec('aaaa'), rec('bbbb')]),
      c.produce('a', [rec('cccc')]),
      c.produce('a', [rec('x'.repeat(30))]),
      c.produce('a', [rec('dd')]),
    ];
    await tick();
    expect(log.sends.map((s) => s.values)).to.deep.equal([
      ['aaaa', 'bbbb'],
      ['cccc'],
      ['x'.repeat(30)],
      ['dd'],
    ]);
    for (const s of log.sends) s.ok();
    await Promise.all(ps);
  });
});
