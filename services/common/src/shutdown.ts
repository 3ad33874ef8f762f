import type { Logger } from './logger.ts';

export interface ShutdownStep {
  name: string;
  run: () => Promise<void> | void;
  /** Runs after every step without it (the process runtime's own: flush traces, close management). */
  last?: boolean;
}

/**
 * Runs shutdown steps in registration order (stop accepting → drain → close adapters) within a
 * deadline. A step that throws is logged and the next one still runs.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private running: Promise<boolean> | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs: number,
  ) {}

  add(name: string, run: ShutdownStep['run'], opts: { last?: boolean } = {}): void {
    this.steps.push({ name, run, last: opts.last === true });
  }

  /** Resolves true when every step finished in time. Idempotent. */
  run(reason: string): Promise<boolean> {
    this.running ??= this.execute(reason);
    return this.running;
  }

  private async execute(reason: string): Promise<boolean> {
    const started = Date.now();
    this.logger.info({ reason, deadlineMs: this.deadlineMs }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.deadlineMs);
      timer.unref();
    });
    const all = (async () => {
      const ordered = [...this.steps.filter((s) => !s.last), ...this.steps.filter((s) => s.last)];
      for (const step of ordered) {
        try {
          await step.run();
          this.logger.debug({ step: step.name }, 'shutdown step done');
        } catch (err) {
          this.logger.error({ step: step.name, err }, 'shutdown step failed');
        }
      }
      return 'done' as const;
    })();
    const outcome = await Promise.race([all, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.error({ elapsedMs: Date.now() - started }, 'shutdown deadline passed; exiting anyway');
      return false;
    }
    this.logger.info({ elapsedMs: Date.now() - started }, 'shutdown complete');
    return true;
  }

  /** Wires SIGTERM/SIGINT to run the steps then exit the process. Only main.ts calls this. */
  installSignalHandlers(exit: (code: number) => void = (c) => process.exit(c)): void {
    const handler = (signal: NodeJS.Signals) => {
      if (this.running) {
        this.logger.warn({ signal }, 'already shutting down');
        return;
      }
      void this.run(signal).then((ok) => exit(ok ? 0 : 1));
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  }
}
