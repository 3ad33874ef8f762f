import { expect } from 'chai';
import { gcra } from './gcra.ts';

describe('GCRA token bucket', () => {
  const p = { intervalMs: 2000, burst: 3 };
  it('lets `burst` requests through at once, then one per interval', () => {
    let tat: number | null = null;
    const at = (now: number) => {
      const d = gcra(tat, now, p);
      if (d.allowed) tat = d.tat;
      return d.allowed ? 'ok' : `wait ${d.retryAfterMs}`;
    };
    expect([at(0), at(0), at(0), at(0)]).to.deep.equal(['ok', 'ok', 'ok', 'wait 2000']);
    expect(at(1500)).to.equal('wait 500');
    expect(at(2000)).to.equal('ok');
    expect(at(2000)).to.equal('wait 2000');
    // Idle long enough and the bucket is full again, never fuller.
    expect([at(60_000), at(60_000), at(60_000), at(60_000)]).to.deep.equal(['ok', 'ok', 'ok', 'wait 2000']);
  });

  it('with a burst of one is a plain rate', () => {
    expect(gcra(null, 0, { intervalMs: 100, burst: 1 })).to.deep.equal({
      allowed: true,
      tat: 100,
      retryAfterMs: 0,
    });
    expect(gcra(100, 50, { intervalMs: 100, burst: 1 })).to.deep.equal({
      allowed: false,
      tat: 100,
      retryAfterMs: 50,
    });
  });
});
