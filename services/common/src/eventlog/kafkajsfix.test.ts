import { expect } from 'chai';
import { createRequire } from 'node:module';
import { RequestQueue } from './kafkajsfix.ts';

const require = createRequire(import.meta.url);

type Queue = {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
};

function queue(): Queue {
  const Ctor = RequestQueue as unknown as new (opts: object) => Queue;
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  return new Ctor({
    instrumentationEmitter: { emit() {} },
    maxInFlightRequests: 1,
    requestTimeout: 1000,
    enforceRequestTimeout: false,
    clientId: 'test',
    broker: 'b:9092',
    logger,
    isConnected: () => true,
  });
}

describe('kafkajs request queue fix (tulios/kafkajs#1556)', () => {
  it('applies to the kafkajs this repository runs (re-check the fix when it changes)', () => {
    expect((require('kafkajs/package.json') as { version: string }).version).to.equal('2.2.4');
    expect(require('kafkajs/src/network/requestQueue/index.js')).to.equal(RequestQueue);
  });

  it('arms no timer while nothing waits (kafkajs 2.2.4 re-armed one every millisecond)', async () => {
    const q = queue();
    let checks = 0;
    const check = q.checkPendingRequests.bind(q);
    q.checkPendingRequests = () => {
      checks++;
      check();
    };
    q.checkPendingRequests();
    await new Promise((r) => setTimeout(r, 50));
    expect(checks).to.equal(1);
    expect(q.throttleCheckTimeoutId).to.equal(null);
  });

  it('checks waiting requests at the end of a throttle, else soon', () => {
    const q = queue();
    q.pending.push({});
    q.throttledUntil = Date.now() + 5_000;
    q.scheduleCheckPendingRequests();
    const timer = q.throttleCheckTimeoutId as unknown as { _idleTimeout: number } | null;
    expect(timer?._idleTimeout).to.be.within(4_900, 5_000);
    clearTimeout(q.throttleCheckTimeoutId!);
    q.throttleCheckTimeoutId = null;
    q.throttledUntil = -1;
    q.scheduleCheckPendingRequests();
    expect((q.throttleCheckTimeoutId as unknown as { _idleTimeout: number })._idleTimeout).to.equal(10);
    clearTimeout(q.throttleCheckTimeoutId!);
  });
});
