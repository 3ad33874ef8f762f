import client from 'prom-client';

const DELIVERY_LATENCY = 'parley_delivery_latency_seconds';

/** Where the end-to-end latency of a message was observed: stored by a worker, or written to a socket by a gateway. */
export type DeliveryStage = 'persisted' | 'delivered';

/**
 * The end-to-end histogram, shared by the worker and api roles (one registry holds both in
 * embedded mode, so the second caller gets the first one's histogram).
 */
export function deliveryLatency(registry: client.Registry, stage: DeliveryStage): client.Histogram<'stage'> {
  const h =
    (registry.getSingleMetric(DELIVERY_LATENCY) as client.Histogram<'stage'> | undefined) ??
    new client.Histogram({
      name: DELIVERY_LATENCY,
      help: 'From the API accepting a message (Kafka acknowledged it) to stage `persisted` (a worker stored it) or `delivered` (a gateway wrote its frame to the recipients’ sockets).',
      labelNames: ['stage'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  h.zero({ stage });
  return h;
}
