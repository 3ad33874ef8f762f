import { HotHistogram } from '@parley/common';
import client from 'prom-client';
import { deliveryLatency } from '../domain/latency.ts';
import type { PoisonKind } from '../domain/envelopes.ts';

/** A partition whose batch keeps failing: its oldest command's acceptedAt, and the last try. */
export interface Retrying {
  acceptedAt: number;
  lastTry: number;
}
/** A retrying partition not tried for this long moved to another worker (retries come every ≤10 s). */
const RETRY_STALE_MS = 60_000;

/** The worker's metrics (the catalogue in README.md is generated from them). */
export class WorkerMetrics {
  readonly stored: client.Counter;
  readonly duplicates: client.Counter;
  readonly dlq: client.Counter<'reason'>;
  readonly retries: client.Counter;
  /** Partitions whose batch is being retried (see Persister.handle). */
  readonly retrying = new Map<string, Retrying>();
  readonly storeSeconds: client.Histogram;
  readonly persistLatency: client.Histogram<'stage'>;
  /** persistLatency as one message after another adds to it (hotmetrics.ts). */
  readonly hotPersistLatency: HotHistogram<'stage'>;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.stored = new client.Counter({
      name: 'parley_worker_messages_stored_total',
      help: 'Messages stored by the worker.',
      registers,
    });
    this.duplicates = new client.Counter({
      name: 'parley_worker_duplicates_total',
      help: 'Commands already stored (redelivery or re-send), skipped.',
      registers,
    });
    this.dlq = new client.Counter({
      name: 'parley_worker_dlq_total',
      help: 'Records sent to the dead-letter topic, by reason: unparseable, version (unknown envelope version) or invalid (breaks the send rules; never acked by the API).',
      labelNames: ['reason'],
      registers,
    });
    this.retries = new client.Counter({
      name: 'parley_worker_batch_retries_total',
      help: 'Batches that failed (store or event log down, a timeout) and are redelivered with backoff; acked commands are retried until stored, never dead-lettered.',
      registers,
    });
    const retrying = this.retrying;
    new client.Gauge({
      name: 'parley_worker_retry_oldest_seconds',
      help: 'Age of the oldest acked command in a batch this worker is retrying (0: none).',
      registers,
      collect() {
        const now = Date.now();
        let oldest = now;
        for (const r of retrying.values())
          if (now - r.lastTry < RETRY_STALE_MS) oldest = Math.min(oldest, r.acceptedAt);
        this.set((now - oldest) / 1000);
      },
    });
    this.storeSeconds = new client.Histogram({
      name: 'parley_worker_store_duration_seconds',
      help: 'Time to store one batch of one partition.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.persistLatency = deliveryLatency(registry, 'persisted');
    this.hotPersistLatency = new HotHistogram(this.persistLatency, 'stage');
    for (const r of ['unparseable', 'version', 'invalid'] satisfies PoisonKind[]) this.dlq.labels(r).inc(0);
  }
}
