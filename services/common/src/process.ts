/**
 * What every Parley process shares, the services and the operator alike: configuration parsed once
 * (a ConfigError names the bad setting), JSON logs, OpenTelemetry tracing when an endpoint is set,
 * Prometheus metrics, health, the management server (/healthz, /readyz, /metrics, /version) and an
 * ordered, deadline-bound shutdown that flushes traces and closes the management server last.
 * `runService` builds the HTTP services on it; the operator uses it directly.
 */
import type { Server } from 'node:http';
import { ConfigError, loadConfig, redactConfig, type Infer, type Spec } from './config.ts';
import { Health } from './health.ts';
import { createLogger, type Logger } from './logger.ts';
import { createManagementServer, listenManagement } from './management.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { commonSettings } from './settings.ts';
import { Shutdown } from './shutdown.ts';
import { startTracing } from './tracing.ts';
import { packageVersion } from './version.ts';

/** The settings every process reads, under the same names and environment variables. */
export const processSettings = {
  management: commonSettings.management,
  log: commonSettings.log,
  shutdown: commonSettings.shutdown,
  tracing: commonSettings.tracing,
};
export type ProcessConfig = Infer<typeof processSettings>;

export interface ProcessOptions<S extends Spec> {
  /** Process name in logs, metrics, traces and /version (parley-auth, parley-operator, …). */
  name: string;
  spec: S;
  env?: NodeJS.ProcessEnv;
  /** Cross-field rules of this process's settings; throw (a ConfigError, say) to refuse them. */
  check?: (cfg: Infer<S>) => void;
}

export interface ProcessRuntime<C> {
  cfg: C;
  logger: Logger;
  metrics: Metrics;
  health: Health;
  /** Steps run in the order added, then the runtime's own: flush traces, close the management server. */
  shutdown: Shutdown;
  version: { service: string; version: string; commit: string | undefined };
  management: Server;
  /** Where the management server listens (after `listenManagement`). */
  listenManagement(): Promise<string>;
}

export async function startProcess<S extends Spec & { [K in keyof ProcessConfig]: unknown }>(
  opts: ProcessOptions<S>,
): Promise<ProcessRuntime<Infer<S>>> {
  const cfg = loadConfig(opts.spec, opts.env ?? process.env);
  opts.check?.(cfg);
  const common = cfg as unknown as ProcessConfig;
  const version = { service: opts.name, version: packageVersion(), commit: process.env.GIT_COMMIT };
  const logger = createLogger({
    level: common.log.level,
    name: opts.name,
    base: { version: version.version },
  });
  logger.info({ config: redactConfig(opts.spec, cfg) }, 'starting');
  const tracing = await startTracing(
    {
      endpoint: common.tracing.endpoint,
      serviceName: opts.name,
      serviceVersion: version.version,
      sampleRatio: common.tracing.sampleRatio,
    },
    logger,
  );
  const metrics = createMetrics({ service: opts.name });
  const health = new Health(logger);
  const shutdown = new Shutdown(logger, common.shutdown.timeoutMs);
  const management = createManagementServer({ health, metrics, version });
  shutdown.add('flush traces', () => tracing.shutdown(), { last: true });
  // Last of all: /readyz answers "draining" to the end.
  shutdown.add(
    'close management server',
    async () => {
      management.closeAllConnections();
      await new Promise<void>((resolve) => management.close(() => resolve()));
    },
    { last: true },
  );
  return {
    cfg,
    logger,
    metrics,
    health,
    shutdown,
    version,
    management,
    listenManagement: () => listenManagement(management, common.management.host, common.management.port),
  };
}

/** For main.ts files: says why the process could not start (a bad setting, or a crash), then exits 1. */
export function exitOnStartupFailure(name: string, err: unknown): never {
  process.stderr.write(
    err instanceof ConfigError
      ? `${name}: invalid configuration: ${err.message}\n`
      : `${name}: start-up failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
}
