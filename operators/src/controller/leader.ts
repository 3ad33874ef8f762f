/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: the
 * holder renews `renewTime` every retry period; another candidate takes over once the record has
 * not changed for a whole lease duration *as measured by its own clock since it last saw the record
 * change* (no trust in other pods' clocks); a holder that cannot renew within the renew deadline
 * stops leading; on shutdown the holder releases the Lease (empty holder) so a standby takes over
 * at once. Writes carry resourceVersion, so two candidates never both win.
 */
import { ConflictError, type KubePort, type LeaseRecord } from '../kube/port.ts';

export interface LeaseTimings {
  leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down (< leaseDurationMs). */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** What a candidate does after reading the Lease. */
export type LeaseDecision =
  | { kind: 'create'; lease: LeaseRecord }
  | { kind: 'renew'; lease: LeaseRecord }
  | { kind: 'takeover'; lease: LeaseRecord }
  | { kind: 'wait'; holder: string; expiresAt: number };

export interface Observation {
  resourceVersion: string | undefined;
  /** Local time the candidate first saw this resourceVersion. */
  at: number;
}

/** Pure: from the Lease (or its absence), who we are and when we saw it change, what to write. */
export function decideLease(
  current: LeaseRecord | undefined,
  target: { namespace: string; name: string },
  identity: string,
  now: number,
  seen: Observation,
  timings: LeaseTimings,
): LeaseDecision {
  const durationSeconds = Math.max(1, Math.ceil(timings.leaseDurationMs / 1000));
  if (!current) {
    return {
      kind: 'create',
      lease: {
        ...target,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    };
  }
  if (current.holderIdentity === identity) {
    return { kind: 'renew', lease: { ...current, renewTime: now, leaseDurationSeconds: durationSeconds } };
  }
  const released = !current.holderIdentity;
  const duration = (current.leaseDurationSeconds ?? durationSeconds) * 1000;
  const expiresAt = seen.at + duration;
  if (released || now >= expiresAt) {
    return {
      kind: 'takeover',
      lease: {
        ...current,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: (current.leaseTransitions ?? 0) + 1,
      },
    };
  }
  return { kind: 'wait', holder: current.holderIdentity!, expiresAt };
}

export interface LeaderCallbacks {
  onStartedLeading(): void | Promise<void>;
  onStoppedLeading(): void | Promise<void>;
  onError?(err: unknown): void;
}

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private seen: Observation = { resourceVersion: undefined, at: 0 };
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private tick: Promise<void> | undefined;

  constructor(
    private readonly kube: KubePort,
    private readonly lease: { namespace: string; name: string },
    readonly identity: string,
    private readonly timings: LeaseTimings,
    private readonly callbacks: LeaderCallbacks,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.loop();
  }

  /**
   * Stops campaigning. `release` (graceful shutdown) hands the Lease back so a standby takes over
   * without waiting for it to expire; without it (a crash) the others wait a lease duration.
   */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.tick;
    if (!this.leading) return;
    await this.setLeading(false);
    if (!release) return;
    try {
      const current = await this.kube.getLease(this.lease.namespace, this.lease.name);
      if (current?.holderIdentity === this.identity)
        await this.kube.updateLease({ ...current, holderIdentity: '', leaseDurationSeconds: 1 });
    } catch (err) {
      this.callbacks.onError?.(err);
    }
  }

  private loop(): void {
    if (this.stopped) return;
    this.tick = this.tryAcquireOrRenew().finally(() => {
      this.tick = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => this.loop(), this.timings.retryPeriodMs);
      this.timer.unref();
    });
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    try {
      const current = await this.kube.getLease(this.lease.namespace, this.lease.name);
      if (current?.resourceVersion !== this.seen.resourceVersion)
        this.seen = { resourceVersion: current?.resourceVersion, at: now };
      const decision = decideLease(current, this.lease, this.identity, now, this.seen, this.timings);
      if (decision.kind === 'wait') {
        if (this.leading) await this.setLeading(false);
        return;
      }
      const written =
        decision.kind === 'create'
          ? await this.kube.createLease(decision.lease)
          : await this.kube.updateLease(decision.lease);
      this.seen = { resourceVersion: written.resourceVersion, at: now };
      this.lastRenew = now;
      if (!this.leading && !this.stopped) await this.setLeading(true);
    } catch (err) {
      if (!(err instanceof ConflictError)) this.callbacks.onError?.(err);
      // Lost a race or cannot reach the API server: a leader keeps leading until the renew deadline.
      if (this.leading && Date.now() - this.lastRenew > this.timings.renewDeadlineMs)
        await this.setLeading(false);
    }
  }

  private async setLeading(leading: boolean): Promise<void> {
    if (this.leading === leading) return;
    this.leading = leading;
    try {
      await (leading ? this.callbacks.onStartedLeading() : this.callbacks.onStoppedLeading());
    } catch (err) {
      this.callbacks.onError?.(err);
    }
  }
}
