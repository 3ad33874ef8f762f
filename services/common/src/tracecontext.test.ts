import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { setImmediate as tick } from 'node:timers/promises';
import { propagation, ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { mustCarry, OnDemandContextManager } from './tracecontext.ts';
import { untracedRequest } from './tracing.ts';

const withSpan = (flags: TraceFlags): Context =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: flags,
  });
const unsampled = withSpan(TraceFlags.NONE);
const sampled = withSpan(TraceFlags.SAMPLED);

describe('OnDemandContextManager', () => {
  let cm: OnDemandContextManager;
  beforeEach(() => (cm = new OnDemandContextManager()));
  afterEach(() => cm.disable());

  it('carries a context with a sampled span or baggage, and no other', () => {
    expect(mustCarry(ROOT_CONTEXT)).to.equal(false);
    expect(mustCarry(unsampled)).to.equal(false);
    expect(mustCarry(sampled)).to.equal(true);
    expect(
      mustCarry(propagation.setBaggage(ROOT_CONTEXT, propagation.createBaggage({ k: { value: 'v' } }))),
    ).to.equal(true);
  });

  it('keeps an unsampled context for the synchronous call only, without AsyncLocalStorage', async () => {
    const seen = await cm.with(unsampled, async () => {
      const inside = cm.active();
      await tick();
      return { inside, afterAwait: cm.active() };
    });
    expect(seen.inside).to.equal(unsampled);
    expect(seen.afterAwait).to.equal(ROOT_CONTEXT);
    expect(cm.active()).to.equal(ROOT_CONTEXT);
    expect(cm.carriesAcrossAwaits).to.equal(false);
  });

  it('restores the outer context after a nested call returns or throws', () => {
    const other = trace.setSpanContext(ROOT_CONTEXT, {
      ...trace.getSpanContext(unsampled)!,
      spanId: 'c7ad6b7169203331',
    });
    cm.with(unsampled, () => {
      expect(() =>
        cm.with(other, () => {
          expect(cm.active()).to.equal(other);
          throw new Error('boom');
        }),
      ).to.throw('boom');
      expect(cm.active()).to.equal(unsampled);
    });
    expect(cm.active()).to.equal(ROOT_CONTEXT);
  });

  it('from the first sampled context on, carries every context across awaits', async () => {
    const first = await cm.with(sampled, async () => {
      await tick();
      return cm.active();
    });
    expect(first).to.equal(sampled);
    expect(cm.carriesAcrossAwaits).to.equal(true);
    // An unsampled context now propagates as with OpenTelemetry's own manager.
    const later = await cm.with(unsampled, async () => {
      await tick();
      return cm.active();
    });
    expect(later).to.equal(unsampled);
    expect(cm.active()).to.equal(ROOT_CONTEXT);
  });

  it('switches on inside an unsampled call, and the outer context is back after it', async () => {
    await cm.with(unsampled, async () => {
      const inner = cm.with(sampled, async () => {
        await tick();
        return cm.active();
      });
      expect(cm.active()).to.equal(unsampled);
      expect(await inner).to.equal(sampled);
    });
    expect(cm.active()).to.equal(ROOT_CONTEXT);
  });

  it('passes this and the arguments, and binds functions and event emitters', () => {
    const self = { n: 2 };
    expect(
      cm.with(
        unsampled,
        function (this: typeof self, a: number) {
          return this.n + a;
        },
        self,
        3,
      ),
    ).to.equal(5);
    const bound = cm.bind(unsampled, () => cm.active());
    expect(bound()).to.equal(unsampled);
    const ee = cm.bind(unsampled, new EventEmitter());
    let heard: Context | undefined;
    ee.on('x', () => (heard = cm.active()));
    ee.emit('x');
    expect(heard).to.equal(unsampled);
  });

  it('forgets everything when disabled', async () => {
    await cm.with(sampled, async () => {});
    expect(cm.carriesAcrossAwaits).to.equal(true);
    cm.disable();
    expect(cm.carriesAcrossAwaits).to.equal(false);
    expect(cm.active()).to.equal(ROOT_CONTEXT);
  });
});

describe('untracedRequest (the HTTP instrumentation’s ignore hook)', () => {
  const tp = (flags: string) => `00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-${flags}`;

  it('leaves probes and scrapes alone at any sampling', () => {
    for (const url of ['/livez', '/readyz', '/healthz', '/metrics', '/metrics?x=1'])
      expect(untracedRequest(url, tp('01'), 1), url).to.equal(true);
    expect(untracedRequest('/v1/conversations', undefined, 1)).to.equal(false);
    expect(untracedRequest('/metricsfoo', undefined, 1)).to.equal(false);
  });

  it('at sampling 0 traces only requests continuing a sampled trace', () => {
    expect(untracedRequest('/v1/x', undefined, 0)).to.equal(true);
    expect(untracedRequest('/v1/x', tp('00'), 0)).to.equal(true);
    expect(untracedRequest('/v1/x', tp('01'), 0)).to.equal(false);
    expect(untracedRequest('/v1/x', tp('03'), 0)).to.equal(false);
    expect(untracedRequest('/v1/x', ` ${tp('01')} `, 0)).to.equal(false);
    expect(untracedRequest('/v1/x', `${tp('01')}-future`, 0)).to.equal(false);
    for (const bad of [tp('01').toUpperCase(), 'garbage-01', tp('0'), ['a', 'b'], 1])
      expect(untracedRequest('/v1/x', bad, 0), String(bad)).to.equal(true);
  });

  it('above sampling 0 leaves the decision to the sampler', () => {
    expect(untracedRequest('/v1/x', undefined, 0.01)).to.equal(false);
    expect(untracedRequest('/v1/x', tp('00'), 0.5)).to.equal(false);
  });
});
