import { expect } from 'chai';
import { runChaos, shortOptions, type ChaosResult } from '../../../scripts/chaos/run.ts';

/**
 * The fault harness's short form (scripts/chaos/run.ts --short) on the real local stack: SDK
 * clients on two gateways and two workers under steady sends while a worker is SIGKILLed, then a
 * gateway, then a Redis master. The long form (`npm run chaos`) adds Kafka and FerretDB restarts
 * and all of them at once.
 */
describe('faults under load (real stack, short form)', function () {
  // Bounded by the harness's own deadlines; the run itself takes about a minute and a half.
  this.timeout(300_000);
  let r: ChaosResult;

  before(async () => {
    r = await runChaos({ ...shortOptions, log: () => {} });
    process.stdout.write(`${r.table}\n`);
  });

  const faulted = () => r.phases.filter((p) => p.fault !== 'baseline');

  it('runs every fault of the short form and leaves the stack healthy', () => {
    expect(r.errors, r.errors.join('\n')).to.deep.equal([]);
    expect(faulted().map((p) => p.fault)).to.deep.equal(shortOptions.faults);
    expect(r.stackHealthyAtEnd).to.equal(true);
  });

  it('stores every acked message exactly once with gap-free seqs', () => {
    for (const p of r.phases) {
      expect(p.acked, `${p.fault}: acked`).to.be.greaterThan(0);
      expect(p.lost, `${p.fault}: acked but not stored`).to.equal(0);
      expect(p.storedTwice, `${p.fault}: stored twice`).to.equal(0);
    }
    expect(r.seqGaps, 'conversations with seq gaps').to.deep.equal([]);
  });

  it('acks every send eventually (the SDK re-sends what a fault interrupted)', () => {
    for (const p of r.phases) expect(p.unacked + p.failed, `${p.fault}: sends never acked`).to.equal(0);
  });

  it('shows every acked message to every member once, after resume', () => {
    for (const p of r.phases) {
      expect(p.delivered, `${p.fault}: shown`).to.equal(p.expectedDeliveries);
      expect(p.duplicatesShown, `${p.fault}: duplicates shown by the SDK`).to.equal(0);
    }
  });

  it('recovers from each fault without a manual step', () => {
    for (const p of faulted()) {
      expect(p.error, `${p.fault}: ${p.error}`).to.equal(undefined);
      expect(p.recoveryMs, `${p.fault}: recovery time`).to.be.a('number');
    }
  });
});
