/**
 * The keyed work queue behind both controllers (controller-runtime's workqueue, Strimzi's batching
 * queue): a key is queued at most once, never reconciled twice at the same time, retried with
 * exponential backoff on errors, left alone after a terminal outcome, and requeued after a success
 * when the reconciler asks (periodic resync). `WorkQueue` is the pure state machine (time is a
 * parameter); `Controller` drives it with timers and hands the reconciler batches of keys.
 */

/** What one reconcile of one key came to. */
export type Outcome =
  | { kind: 'ok'; requeueAfterMs?: number }
  /** The resource is wrong in a way retrying cannot fix (NotSupported, InvalidSpec): wait for a change. */
  | { kind: 'terminal' }
  | { kind: 'error'; error: unknown };

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** base·2^(failures-1), capped: 1st retry after base, then doubling. */
export function backoffDelay(failures: number, p: BackoffPolicy): number {
  if (failures <= 0) return 0;
  return Math.min(p.maxMs, p.baseMs * 2 ** Math.min(failures - 1, 30));
}

export class WorkQueue {
  /** Key → when it is due. */
  private readonly pending = new Map<string, number>();
  private readonly inFlight = new Set<string>();
  /** Added while in flight: due again at this time once the running reconcile is done. */
  private readonly dirty = new Map<string, number>();
  private readonly failures = new Map<string, number>();

  constructor(private readonly backoff: BackoffPolicy) {}

  /** Queues `key` to run at `dueAt`, or earlier if it is already queued for sooner. */
  add(key: string, dueAt: number): void {
    const target = this.inFlight.has(key) ? this.dirty : this.pending;
    const existing = target.get(key);
    if (existing === undefined || dueAt < existing) target.set(key, dueAt);
  }

  /** Forgets a key entirely (its resource is gone). */
  forget(key: string): void {
    this.pending.delete(key);
    this.dirty.delete(key);
    this.failures.delete(key);
  }

  /** Up to `max` keys due by `now`, earliest first; they are in flight until `done`. */
  take(now: number, max: number): string[] {
    const ready = [...this.pending]
      .filter(([, due]) => due <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, max)
      .map(([key]) => key);
    for (const key of ready) {
      this.pending.delete(key);
      this.inFlight.add(key);
    }
    return ready;
  }

  /** Records the outcome and schedules the key's next run, if any. Returns that due time. */
  done(key: string, outcome: Outcome, now: number): number | undefined {
    this.inFlight.delete(key);
    let next: number | undefined;
    if (outcome.kind === 'error') {
      const failures = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, failures);
      next = now + backoffDelay(failures, this.backoff);
    } else {
      this.failures.delete(key);
      if (outcome.kind === 'ok' && outcome.requeueAfterMs !== undefined) next = now + outcome.requeueAfterMs;
    }
    const changed = this.dirty.get(key);
    this.dirty.delete(key);
    // A change seen while the key was running needs a fresh look, but an erroring key still backs
    // off: a flood of events must not turn into a retry storm against a failing Kafka.
    if (changed !== undefined && (next === undefined || outcome.kind !== 'error')) {
      next = next === undefined ? changed : Math.min(next, changed);
    }
    if (next !== undefined) this.add(key, next);
    return next;
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The earliest due time among queued keys, or undefined when nothing is queued. */
  nextDue(): number | undefined {
    let min: number | undefined;
    for (const due of this.pending.values()) if (min === undefined || due < min) min = due;
    return min;
  }

  get size(): number {
    return this.pending.size;
  }

  get running(): number {
    return this.inFlight.size;
  }
}

export interface ControllerOptions {
  name: string;
  /** Most keys handed to one reconcileBatch call. */
  maxBatch: number;
  /** Once a key is due, wait this long for more to join its batch (Strimzi's linger). */
  batchLingerMs: number;
  backoff: BackoffPolicy;
}

export interface ControllerHooks {
  outcome?(key: string, outcome: Outcome): void;
  batch?(keys: number, seconds: number): void;
}

export type BatchReconciler = (keys: string[]) => Promise<Map<string, Outcome>>;

/**
 * Runs a WorkQueue with real time: one batch in flight per controller, so one reconcile per key.
 * `hooks` is where metrics and logs come in.
 */
export class Controller {
  private readonly queue: WorkQueue;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly opts: ControllerOptions,
    private readonly reconcile: BatchReconciler,
    private readonly hooks: ControllerHooks = {},
  ) {
    this.queue = new WorkQueue(opts.backoff);
  }

  get name(): string {
    return this.opts.name;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops taking keys and waits for the batch in flight. Queued keys stay for a later start(). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  enqueue(key: string, delayMs = 0): void {
    this.queue.add(key, Date.now() + delayMs);
    this.schedule();
  }

  forget(key: string): void {
    this.queue.forget(key);
  }

  private schedule(): void {
    if (this.stopped || this.running) return;
    const due = this.queue.nextDue();
    if (due === undefined) return;
    const wait = Math.max(0, due - Date.now());
    clearTimeout(this.timer);
    // Linger only when work is due now: keys due later start their own batch when they are due.
    this.timer = setTimeout(() => this.runBatch(), wait === 0 ? this.opts.batchLingerMs : wait);
    this.timer.unref();
  }

  private runBatch(): void {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    const keys = this.queue.take(Date.now(), this.opts.maxBatch);
    if (keys.length === 0) return this.schedule();
    const started = performance.now();
    this.running = (async () => {
      let outcomes: Map<string, Outcome>;
      try {
        outcomes = await this.reconcile(keys);
      } catch (error) {
        outcomes = new Map(keys.map((k) => [k, { kind: 'error', error }]));
      }
      this.hooks.batch?.(keys.length, (performance.now() - started) / 1000);
      for (const key of keys) {
        const outcome = outcomes.get(key) ?? { kind: 'error', error: new Error('no outcome for key') };
        this.queue.done(key, outcome, Date.now());
        this.hooks.outcome?.(key, outcome);
      }
    })().finally(() => {
      this.running = undefined;
      this.schedule();
    });
  }
}
