import { expect } from 'chai';
import { decideLease, type LeaseTimings } from './leader.ts';
import type { LeaseRecord } from '../kube/port.ts';

const timings: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const target = { namespace: 'parley', name: 'parley-operator' };
const held = (holder: string, rv = '7'): LeaseRecord => ({
  ...target,
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: 1_000,
  renewTime: 1_000,
  leaseTransitions: 2,
  resourceVersion: rv,
});

describe('decideLease', () => {
  it('creates a missing Lease held by us', () => {
    const d = decideLease(undefined, target, 'a', 5_000, { resourceVersion: undefined, at: 5_000 }, timings);
    expect(d).to.deep.equal({
      kind: 'create',
      lease: {
        ...target,
        holderIdentity: 'a',
        leaseDurationSeconds: 15,
        acquireTime: 5_000,
        renewTime: 5_000,
        leaseTransitions: 0,
      },
    });
  });

  it('renews its own Lease, keeping acquireTime and transitions', () => {
    const d = decideLease(held('a'), target, 'a', 9_000, { resourceVersion: '7', at: 1_000 }, timings);
    expect(d).to.deep.equal({ kind: 'renew', lease: { ...held('a'), renewTime: 9_000 } });
  });

  it('waits while another holder renewed within a lease duration of our own observation', () => {
    const d = decideLease(held('b'), target, 'a', 15_999, { resourceVersion: '7', at: 1_000 }, timings);
    expect(d).to.deep.equal({ kind: 'wait', holder: 'b', expiresAt: 16_000 });
  });

  it('takes over once the record has not changed for a lease duration, counting a transition', () => {
    const d = decideLease(held('b'), target, 'a', 16_000, { resourceVersion: '7', at: 1_000 }, timings);
    expect(d.kind).to.equal('takeover');
    expect(d.kind === 'takeover' && d.lease).to.deep.include({
      holderIdentity: 'a',
      acquireTime: 16_000,
      leaseTransitions: 3,
      resourceVersion: '7',
    });
  });

  it("judges expiry by its own clock, not the holder's renewTime (clock skew)", () => {
    // The holder's clock is far behind: renewTime looks ancient, but we saw the record change just now.
    const d = decideLease(
      { ...held('b'), renewTime: -1e9 },
      target,
      'a',
      20_000,
      { resourceVersion: '7', at: 19_000 },
      timings,
    );
    expect(d.kind).to.equal('wait');
  });

  it('takes a released Lease (empty holder) at once', () => {
    const d = decideLease(held(''), target, 'a', 2_000, { resourceVersion: '7', at: 2_000 }, timings);
    expect(d.kind).to.equal('takeover');
  });
});
