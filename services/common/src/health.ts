import type { Logger } from './logger.ts';

export type DependencyState = 'starting' | 'up' | 'down';

export interface DependencyStatus {
  state: DependencyState;
  since: string;
  error?: string;
}

/**
 * Tracks the state of each dependency. Logs once per state change, not per attempt, so a Kafka
 * outage is two log lines, not thousands.
 */
export class Health {
  private readonly deps = new Map<string, DependencyStatus>();
  private draining = false;

  constructor(private readonly logger: Logger) {}

  /** Declares a dependency; readiness waits for it. */
  register(name: string): void {
    if (!this.deps.has(name)) this.deps.set(name, { state: 'starting', since: new Date().toISOString() });
  }

  up(name: string): void {
    this.set(name, 'up');
  }

  down(name: string, err: unknown): void {
    this.set(name, 'down', err instanceof Error ? err.message : String(err));
  }

  private set(name: string, state: DependencyState, error?: string): void {
    const prev = this.deps.get(name);
    if (prev && prev.state === state) return;
    this.deps.set(name, { state, since: new Date().toISOString(), ...(error ? { error } : {}) });
    if (state === 'up') this.logger.info({ dependency: name }, `${name} is up`);
    else this.logger.warn({ dependency: name, err: error }, `${name} is down`);
  }

  /** After SIGTERM readiness fails so load balancers stop sending traffic. */
  startDraining(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  readiness(): { ready: boolean; draining: boolean; dependencies: Record<string, DependencyStatus> } {
    const dependencies = Object.fromEntries(this.deps);
    const ready = !this.draining && [...this.deps.values()].every((d) => d.state === 'up');
    return { ready, draining: this.draining, dependencies };
  }
}
