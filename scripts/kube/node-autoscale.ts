/**
 * The ConsumerAutoscaler on real lag (#20 rung 4), on the one-node cluster: SDK clients send
 * through the ingress faster than the worker Deployment persists, so the chat topic's consumer
 * group falls behind for real; the operator reads that lag from the in-cluster Kafka and scales the
 * workers out. The run passes when the autoscaler asked for more workers than it started with, the
 * Deployment got them Ready, the lag drained back to zero once the load stopped, and nothing acked
 * was lost (counted as the fault harness does, through the history API). It prints the timeline
 * (lag, desired and ready workers every poll) and, after the load, how far the workers scaled back
 * within --cooldown seconds (the default scale-down stabilization is 300 s).
 *
 *   bash scripts/kube/node-client.sh autoscale [--rate 200] [--users 120] [--max-load 180] [--cooldown 0]
 */
import { parseArgs } from 'node:util';
import { sleep, until } from '../chaos/fleet.ts';
import { markdownTable } from '../chaos/table.ts';
import { Balancer, Traffic } from '../chaos/traffic.ts';
import {
  TALLY_HEADER,
  checkStored,
  ingress,
  ingressSocketOptions,
  kubectl,
  nodeIp,
  positive,
  release,
  storedMessages,
  tally,
  tallyCells,
} from './cluster.ts';

const log = (line: string) => process.stderr.write(`[autoscale] ${line}\n`);
const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    'max-load': { type: 'string', default: '180' },
    cooldown: { type: 'string', default: '0' },
    users: { type: 'string', default: '120' },
  },
});
const rate = positive('rate', args.rate);
const maxLoadS = positive('max-load', args['max-load']);
const cooldownS = Number(args.cooldown);
const workers = `${release}-message-worker`;

interface Sample {
  at: number;
  lag: number | undefined;
  desired: number | undefined;
  replicas: number;
  ready: number;
}

interface AutoscalerObj {
  metadata: { name: string };
  spec: { scaleTargetRef: { name: string }; minReplicas?: number; maxReplicas: number; policy?: string };
  status?: { totalLag?: number; desiredReplicas?: number; lastScaleTime?: string };
}

async function autoscaler(): Promise<AutoscalerObj> {
  const list = JSON.parse(await kubectl('get', 'consumerautoscalers', '-o', 'json')) as {
    items: AutoscalerObj[];
  };
  const ca = list.items.find((c) => c.spec.scaleTargetRef.name === workers);
  if (!ca) throw new Error(`no ConsumerAutoscaler targets ${workers}`);
  return ca;
}

async function sample(): Promise<Sample> {
  const ca = await autoscaler();
  const d = JSON.parse(await kubectl('get', 'deployment', workers, '-o', 'json')) as {
    spec: { replicas?: number };
    status: { readyReplicas?: number };
  };
  return {
    at: Date.now(),
    lag: ca.status?.totalLag,
    desired: ca.status?.desiredReplicas,
    replicas: d.spec.replicas ?? 1,
    ready: d.status.readyReplicas ?? 0,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const ca = await autoscaler();
  const first = await sample();
  log(
    `${ca.metadata.name}: policy ${ca.spec.policy ?? 'DrainTime'}, ${ca.spec.minReplicas ?? 1}..${ca.spec.maxReplicas} ` +
      `workers; now ${first.replicas} (lag ${first.lag ?? '?'})`,
  );
  const lb = new Balancer(
    () => [ingress],
    () => `${ingress}/v1/openapi.json`,
    ingressSocketOptions,
  );
  const users = positive('users', args.users);
  // Direct-message sized conversations: the load is persisting, not fan-out.
  const t = new Traffic({ users, conversations: users, membersPerConversation: 2, rate }, ingress, lb);
  log(`registering ${users} users through ${ingress} (node ${nodeIp})`);
  await t.setup();
  const samples: Sample[] = [first];
  const poll = async () => {
    const s = await sample();
    samples.push(s);
    log(`lag ${s.lag ?? '?'}, desired ${s.desired ?? '?'}, workers ${s.ready}/${s.replicas}`);
    return s;
  };
  log(`sending ${rate} msg/s until the workers scale out (at most ${maxLoadS} s)`);
  const loadStart = Date.now();
  t.start();
  let scaledAt: number | undefined;
  while (Date.now() - loadStart < maxLoadS * 1000) {
    await sleep(5_000);
    const s = await poll();
    if (s.replicas > first.replicas && s.ready > first.ready) {
      scaledAt = s.at;
      // Keep the load a little longer, so the new workers take partitions under load.
      await sleep(15_000);
      await poll();
      break;
    }
  }
  t.stop();
  const loadEnd = Date.now();
  const maxLag = Math.max(0, ...samples.map((s) => s.lag ?? 0));
  const maxReady = Math.max(...samples.map((s) => s.ready));
  log(`load stopped after ${((loadEnd - loadStart) / 1000).toFixed(0)} s; waiting for the lag to drain`);
  let drainedAt: number | undefined;
  await until(
    async () => {
      const s = await poll();
      if (s.lag === 0) drainedAt ??= s.at;
      return s.lag === 0;
    },
    300_000,
    'the lag to drain',
    5_000,
  ).catch((e: Error) => log(e.message));
  await until(
    () => t.pending() === 0 && t.missingDeliveries() === 0,
    120_000,
    'every ack and delivery',
    500,
  ).catch((e: Error) => log(e.message));
  const stored = await storedMessages(t);
  t.close();
  const check = checkStored(t, stored);
  const c = tally(t, check.copies, 0, Date.now());
  if (cooldownS > 0) {
    log(`watching the scale-in for ${cooldownS} s`);
    const end = Date.now() + cooldownS * 1000;
    while (Date.now() < end && (await poll()).replicas > first.replicas) await sleep(10_000);
  }
  const last = samples.at(-1)!;
  const pass = scaledAt !== undefined && drainedAt !== undefined && c.ok && check.seqGaps.length === 0;
  const rel = (at: number) => `${((at - loadStart) / 1000).toFixed(0)} s`;
  process.stdout.write(
    `\n${markdownTable(
      ['t', 'total lag', 'desired', 'workers ready/spec'],
      samples.map((s) => [rel(s.at), s.lag ?? '?', s.desired ?? '?', `${s.ready}/${s.replicas}`]),
    )}\n\n${markdownTable(TALLY_HEADER, [tallyCells(c)])}\n\n` +
      `offered ${rate} msg/s for ${((loadEnd - loadStart) / 1000).toFixed(0)} s; highest lag ${maxLag}; ` +
      `workers ${first.ready} → ${maxReady} (scaled out ${scaledAt ? `at ${rel(scaledAt)}` : 'never'}); ` +
      `lag back to 0 ${drainedAt ? `at ${rel(drainedAt)}` : 'never'}; workers at the end ${last.ready}/${last.replicas}; ` +
      `seq gaps: ${check.seqGaps.length || 'none'}; error frames: ${JSON.stringify(Object.fromEntries(t.errorFrames))}; ` +
      `WebSocket reconnects: ${t.reconnects.reduce((a, b) => a + b, 0)}; run took ${Math.round((Date.now() - started) / 1000)} s\n` +
      `autoscaler on real lag: ${pass ? 'pass' : 'FAIL'}\n`,
  );
  process.exit(pass ? 0 : 1);
}

await main();
