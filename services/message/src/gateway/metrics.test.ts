import { expect } from 'chai';
import { Registry } from 'prom-client';
import { MemoryCache } from '@parley/common/testing';
import { deliveryLatency } from '../domain/latency.ts';
import { Presence, type PresenceStatus } from '../domain/presence.ts';
import { GatewayMetrics } from './metrics.ts';

async function series(registry: Registry, name: string): Promise<Record<string, string | number>[]> {
  return (await registry.getSingleMetric(name)!.get()).values.map((v) => ({ ...v.labels, value: v.value }));
}

describe('gateway metrics', () => {
  it('registers frame, typing and presence series at zero, without user or conversation labels', async () => {
    const registry = new Registry();
    new GatewayMetrics(registry);
    const errors = await series(registry, 'parley_ws_frame_errors_total');
    expect(errors).to.deep.include({ type: 'send', kind: 'rejected', value: 0 });
    expect(errors).to.deep.include({ type: 'typing', kind: 'internal', value: 0 });
    expect(
      errors.some((s) => s.type === 'ping'),
      'ping is answered inline, not handled',
    ).to.equal(false);
    expect(await series(registry, 'parley_ws_typing_events_total')).to.have.length(4);
    expect((await series(registry, 'parley_presence_changes_total')).map((s) => s.status)).to.have.members([
      'online',
      'away',
      'offline',
    ]);
    const labels = new Set(
      (await registry.getMetricsAsJSON()).flatMap((m) => m.values.flatMap((v) => Object.keys(v.labels))),
    );
    for (const unbounded of ['userId', 'user', 'conversationId', 'conversation', 'connectionId'])
      expect(labels.has(unbounded), unbounded).to.equal(false);
  });

  it('times a frame handler and counts an exception as an internal failure', async () => {
    const registry = new Registry();
    const m = new GatewayMetrics(registry);
    await m.timeFrame('send', async () => {});
    let thrown: unknown;
    try {
      await m.timeFrame('send', async () => {
        throw new Error('store down');
      });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).to.equal('store down');
    const errors = await series(registry, 'parley_ws_frame_errors_total');
    expect(errors).to.deep.include({ type: 'send', kind: 'internal', value: 1 });
    const durations = await series(registry, 'parley_ws_frame_duration_seconds');
    expect(durations.find((s) => s.type === 'send' && s.le === '+Inf')?.value).to.equal(2);
  });

  it('shares one delivery latency histogram between the api and worker roles of one process', async () => {
    const registry = new Registry();
    deliveryLatency(registry, 'persisted'); // as the worker role does
    const gateway = new GatewayMetrics(registry);
    expect(deliveryLatency(registry, 'delivered')).to.equal(gateway.deliveryLatency);
    const stages = (await series(registry, 'parley_delivery_latency_seconds'))
      .filter((s) => s.le === '+Inf')
      .map((s) => s.stage);
    expect(stages).to.have.members(['persisted', 'delivered']);
  });
});

describe('presence changes', () => {
  it('reports each change of a user’s aggregate status, not every socket’s', async () => {
    const changes: PresenceStatus[] = [];
    const presence = new Presence(new MemoryCache(), 60_000, Date.now, (s) => changes.push(s));
    await presence.set('u1', 'c1', 'online');
    await presence.set('u1', 'c2', 'away');
    await presence.set('u1', 'c1', 'away');
    await presence.remove('u1', ['c1']);
    await presence.remove('u1', ['c2']);
    expect(changes).to.deep.equal(['online', 'away', 'offline']);
  });
});
