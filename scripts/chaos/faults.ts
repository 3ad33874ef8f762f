/**
 * The faults: each one injects and then heals the way a cluster would without an operator (a
 * killed pod is restarted, a broker or database comes back, a dead Redis master is replaced by its
 * replica and rejoins as a replica), and resolves when the healing step is done.
 */
import { sleep, until, type Fleet } from './fleet.ts';
import { stack } from './stack.ts';

export const faultNames = [
  'worker',
  'gateway',
  'redis',
  'kafka',
  'mongo',
  'combined',
  'kafka-outage',
] as const;
export type FaultName = (typeof faultNames)[number];

export interface FaultContext {
  fleet: Fleet;
  note: (msg: string) => void;
  /** Which worker/gateway to hit (alternates between runs of the same fault). */
  round: number;
}

const pick = (names: string[], round: number) => names[round % names.length]!;

async function killWorker(ctx: FaultContext): Promise<void> {
  const w = pick(ctx.fleet.names('worker'), ctx.round);
  await ctx.fleet.kill(w, 'SIGKILL');
  ctx.note(`SIGKILL ${w}`);
  await ctx.fleet.restart(w);
  ctx.note(`${w} restarted and ready`);
}

async function killGateway(ctx: FaultContext, downMs = 2000): Promise<void> {
  const g = pick(ctx.fleet.names('api'), ctx.round);
  await ctx.fleet.kill(g, 'SIGKILL');
  ctx.note(`SIGKILL ${g}`);
  await sleep(downMs);
  await ctx.fleet.restart(g);
  ctx.note(`${g} restarted and ready`);
}

async function failRedisMaster(ctx: FaultContext): Promise<void> {
  const port = await stack.killRedisMaster();
  ctx.note(`SIGKILL redis master :${port}`);
  await until(() => stack.redisFailedOver(port), 60_000, `redis :${port} failed over`, 250);
  ctx.note(`redis :${port} failed over to its replica`);
  await stack.heal();
  ctx.note(`redis :${port} restarted, rejoined as a replica`);
}

async function restartKafka(ctx: FaultContext, downMs = 5000): Promise<void> {
  await stack.stop('kafka');
  ctx.note('kafka stopped');
  await sleep(downMs);
  await stack.start('kafka');
  ctx.note('kafka started and answering');
}

/** What a process's /readyz says of one dependency (`up`, `down`, …), or why it could not tell. */
async function dependencyState(fleet: Fleet, name: string, dependency: string): Promise<string> {
  try {
    const res = await fetch(`${fleet.managementUrl(name)}/readyz`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { dependencies?: Record<string, { state?: string }> };
    return body.dependencies?.[dependency]?.state ?? 'not reported';
  } catch (err) {
    return `unreachable (${(err as Error).message})`;
  }
}

/**
 * Kafka down for a minute with clients connected (#21): every process stays up (the harness counts
 * unplanned exits), sends meanwhile are refused with 503 UNAVAILABLE and Retry-After, which the SDK
 * retries. A gateway restarted during the outage starts without Kafka, says so on /readyz, and
 * turns ready on its own once Kafka is back.
 */
async function kafkaOutage(ctx: FaultContext, downMs = 60_000): Promise<void> {
  const t0 = Date.now();
  await stack.stop('kafka');
  ctx.note('kafka stopped');
  await sleep(5000);
  const g = pick(ctx.fleet.names('api'), ctx.round);
  await ctx.fleet.kill(g, 'SIGKILL');
  ctx.fleet.start(g);
  ctx.note(`SIGKILL ${g}, started again while kafka is down`);
  await until(
    async () => (await dependencyState(ctx.fleet, g, 'eventlog')) === 'down',
    60_000,
    () => `${g} up, with /readyz naming the event log as down`,
    500,
  );
  ctx.note(`${g} up; /readyz: eventlog down, store ${await dependencyState(ctx.fleet, g, 'store')}`);
  for (const n of ctx.fleet.names())
    if (n !== g && (await dependencyState(ctx.fleet, n, 'eventlog')) !== 'down')
      throw new Error(`${n}'s /readyz does not report the event log down while Kafka is stopped`);
  await sleep(Math.max(0, t0 + downMs - Date.now()));
  await stack.start('kafka');
  ctx.note(`kafka started again after ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  for (const n of ctx.fleet.names()) await ctx.fleet.waitReady(n, 120_000);
  ctx.note('every process ready again on its own');
}

async function restartMongo(ctx: FaultContext): Promise<void> {
  await stack.restart('ferretdb');
  ctx.note('ferretdb restarted and answering');
}

export const faults: Record<FaultName, (ctx: FaultContext) => Promise<void>> = {
  worker: killWorker,
  gateway: (ctx) => killGateway(ctx),
  redis: failRedisMaster,
  kafka: (ctx) => restartKafka(ctx),
  mongo: restartMongo,
  'kafka-outage': (ctx) => kafkaOutage(ctx),
  combined: async (ctx) => {
    await Promise.all([
      failRedisMaster(ctx),
      killWorker({ ...ctx, round: ctx.round + 1 }),
      killGateway({ ...ctx, round: ctx.round + 1 }),
      sleep(1000).then(() => restartMongo(ctx)),
      sleep(2000).then(() => restartKafka(ctx)),
    ]);
  },
};
