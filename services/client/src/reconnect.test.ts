import { expect } from 'chai';
import { CloseCodes } from '../../message/src/gateway/protocol.ts';
import { backoffDelay, closeAction, closeActions, defaultBackoff, planReconnect } from './reconnect.ts';

describe('reconnect decisions', () => {
  it('knows every close code of the server, with the same reconnect rule', () => {
    const server = Object.fromEntries(Object.values(CloseCodes).map((c) => [c.code, c.reconnect]));
    expect(closeActions).to.deep.equal(server);
  });

  it('reconnects with backoff after an abnormal close (1006) or an unknown code', () => {
    expect(closeAction(1006)).to.equal('backoff');
    expect(closeAction(4999)).to.equal('backoff');
  });

  const table: [code: number, expected: string][] = [
    [1000, 'stop closed'],
    [4001, 'stop unauthenticated'],
    [4003, 'stop revoked'],
    [4002, 'refresh'],
    [1012, 'soon'],
    [4010, 'soon'],
    [1009, 'soon'],
    [1011, 'backoff'],
    [1013, 'backoff'],
    [4000, 'backoff'],
    [4008, 'backoff'],
    [4009, 'backoff'],
  ];
  for (const [code, expected] of table)
    it(`close ${code} → ${expected}`, () => {
      // After ten failures a plain backoff window is far above the 5 s cap of server-requested reconnects.
      const plan = planReconnect(code, 10, defaultBackoff, () => 0.999);
      const got = !plan.reconnect
        ? `stop ${plan.reason}`
        : plan.refreshFirst
          ? 'refresh'
          : plan.delayMs < 5_000
            ? 'soon'
            : 'backoff';
      expect(got).to.equal(expected);
    });

  it('waits the afterMs a draining gateway asked for', () => {
    expect(planReconnect(1012, 0, defaultBackoff, () => 0.5, 2_345)).to.deep.equal({
      reconnect: true,
      delayMs: 2_345,
      refreshFirst: false,
    });
  });

  it('refreshes at once on 4002, and backs off when a refresh did not help', () => {
    expect(planReconnect(4002, 0, defaultBackoff, () => 0.5)).to.include({ delayMs: 0, refreshFirst: true });
    expect(planReconnect(4002, 3, defaultBackoff, () => 0.5)).to.include({
      delayMs: 2_000,
      refreshFirst: true,
    });
  });

  it('caps server-requested reconnects at 5 s even after many attempts', () => {
    const plan = planReconnect(4010, 20, defaultBackoff, () => 0.999);
    expect(plan.reconnect && plan.delayMs).to.be.below(5_000);
  });
});

describe('backoffDelay (exponential, full jitter, capped)', () => {
  const policy = { baseMs: 100, maxMs: 10_000 };
  it('doubles the window per attempt', () => {
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, policy, () => 0.5))).to.deep.equal([50, 100, 200, 400]);
  });
  it('never exceeds the cap, however many attempts', () => {
    expect(backoffDelay(200, policy, () => 0.999999)).to.equal(9_999);
  });
  it('spreads uniformly from zero (full jitter)', () => {
    expect(backoffDelay(5, policy, () => 0)).to.equal(0);
  });
});
