/**
 * Faults on the one-node cluster (#20 rung 5), with every client going through the ingress the way
 * an app does: users with one SDK socket each send at a steady rate while
 *
 *   gateway   one message-api pod is deleted (the api runs 2 replicas for this run),
 *   worker    one message-worker pod is deleted,
 *   upgrade   `helm upgrade` moves every Parley image to a new tag, so every Deployment rolls,
 *
 * and a REST reader lists conversations and reads history all along. Counting is the fault
 * harness's (scripts/chaos): per phase, what was sent, acked, failed, stored (read back through the
 * history API) and shown to every member; at the end, every conversation's seqs are exactly 1..n.
 * A run passes when nothing acked is lost or stored twice, no send failed, every member was shown
 * every message once, and no REST request failed during the upgrade. WebSocket reconnects are
 * expected (the gateway closes with 1012 on a stop, and the SDK resumes from its cursors); they are
 * counted, not failed.
 *
 *   bash scripts/kube/node-client.sh faults [--rate 20] [--phase 20] [--fault gateway,worker,upgrade]
 */
import { parseArgs } from 'node:util';
import { ParleyApiError } from '@parley/client';
import { sleep, until } from '../chaos/fleet.ts';
import { markdownTable } from '../chaos/table.ts';
import { Balancer, Traffic } from '../chaos/traffic.ts';
import {
  TALLY_HEADER,
  chart,
  env,
  checkStored,
  ingress,
  ingressSocketOptions,
  kubectl,
  nodeIp,
  ns,
  podsOf,
  positive,
  release,
  rolledOut,
  run,
  storedMessages,
  tally,
  tallyCells,
} from './cluster.ts';

const log = (line: string) => process.stderr.write(`[faults] ${line}\n`);

const faultNames = ['gateway', 'worker', 'upgrade'] as const;
type FaultName = (typeof faultNames)[number];

const { values: args } = parseArgs({
  options: {
    rate: { type: 'string', default: '20' },
    phase: { type: 'string', default: '20' },
    users: { type: 'string', default: '12' },
    conversations: { type: 'string', default: '6' },
    fault: { type: 'string', default: faultNames.join(',') },
  },
});
const rate = positive('rate', args.rate);
const phaseS = positive('phase', args.phase);
// --fault none: the baseline alone.
const faults = (args.fault === 'none' ? [] : args.fault.split(',')).map((f) => {
  if (!(faultNames as readonly string[]).includes(f))
    throw new Error(`unknown fault ${f}: expected ${faultNames.join(', ')}`);
  return f as FaultName;
});

async function deleteOne(component: string): Promise<string> {
  const pods = (await podsOf(component)).filter((p) => p.ready && !p.deleting);
  const victim = pods[0];
  if (!victim) throw new Error(`no ready ${component} pod to delete`);
  await kubectl('delete', 'pod', victim.name, '--wait=false');
  return victim.name;
}

/** The new tag every Parley image gets, in containerd, for the upgrade (same content, new name). */
async function retag(): Promise<string> {
  const values = JSON.parse(
    (await run('helm', ['get', 'values', release, '-n', ns, '--all', '-o', 'json'], { maxBuffer: 1 << 24 }))
      .stdout,
  ) as Record<string, { image: { repository: string; tag: string } }>;
  const tag = `${values.message!.image.tag.replace(/-roll\d+$/, '')}-roll${Date.now() % 100000}`;
  for (const part of ['auth', 'message', 'operator']) {
    const { repository, tag: old } = values[part]!.image;
    // containerd's names are fully qualified: parley/auth is docker.io/parley/auth.
    const first = repository.split('/')[0]!;
    const qualified = first.includes('.') || first.includes(':') || first === 'localhost';
    const ref = (t: string) => `${qualified ? '' : 'docker.io/'}${repository}:${t}`;
    await run('ctr', [
      '--address',
      env('PARLEY_NODE_CONTAINERD_SOCK'),
      '-n',
      'k8s.io',
      'images',
      'tag',
      '--force',
      ref(old),
      ref(tag),
    ]);
  }
  return tag;
}

interface Phase {
  name: 'baseline' | FaultName;
  startedAt: number;
  endedAt: number;
  notes: string[];
  restFailures: string[];
  restCalls: number;
}

/** Lists conversations and reads a page of history, as an app's screens do, all along. */
class RestReader {
  calls = 0;
  readonly failures: { at: number; what: string }[] = [];
  private stopped = false;
  private done: Promise<void> | undefined;

  constructor(private readonly t: Traffic) {}

  start(): void {
    this.done = (async () => {
      let i = 0;
      while (!this.stopped) {
        const u = this.t.users[i++ % this.t.users.length]!;
        const conv = u.convs[i % u.convs.length]!;
        for (const call of [
          () => u.client.listConversations({ limit: 20 }),
          () => u.client.latestMessages(conv, 20),
        ]) {
          this.calls++;
          try {
            await call();
          } catch (err) {
            const what =
              err instanceof ParleyApiError ? `HTTP ${err.status} ${err.code}` : (err as Error).message;
            this.failures.push({ at: Date.now(), what });
          }
        }
        await sleep(100);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const apiReplicas = (await podsOf('message-api')).length;
  log(`scaling message-api ${apiReplicas} → 2 for the run (restored at the end)`);
  await kubectl('scale', 'deployment', `${release}-message-api`, '--replicas=2');
  await until(
    async () => (await podsOf('message-api')).filter((p) => p.ready).length === 2,
    180_000,
    '2 ready api pods',
    1000,
  );

  const lb = new Balancer(
    () => [ingress],
    () => `${ingress}/v1/openapi.json`,
    ingressSocketOptions,
  );
  const t = new Traffic(
    {
      users: positive('users', args.users),
      conversations: positive('conversations', args.conversations),
      membersPerConversation: 4,
      rate,
    },
    ingress,
    lb,
  );
  log(
    `registering ${args.users} users and ${args.conversations} conversations through ${ingress} (node ${nodeIp})`,
  );
  await t.setup();
  const rest = new RestReader(t);
  rest.start();
  t.start();
  const phases: Phase[] = [];
  const phase = async (name: Phase['name'], act: () => Promise<string[]>) => {
    const p: Phase = {
      name,
      startedAt: Date.now(),
      endedAt: 0,
      notes: [],
      restFailures: [],
      restCalls: rest.calls,
    };
    log(`phase ${name}`);
    p.notes = await act();
    await sleep(phaseS * 1000);
    p.endedAt = Date.now();
    p.restCalls = rest.calls - p.restCalls;
    p.restFailures = rest.failures.filter((f) => f.at >= p.startedAt && f.at < p.endedAt).map((f) => f.what);
    phases.push(p);
  };
  await phase('baseline', async () => []);
  for (const f of faults) {
    if (f === 'gateway' || f === 'worker') {
      const component = f === 'gateway' ? 'message-api' : 'message-worker';
      await phase(f, async () => {
        const victim = await deleteOne(component);
        const t0 = Date.now();
        await until(
          async () => (await podsOf(component)).every((p) => p.ready && !p.deleting),
          180_000,
          `${component} replaced`,
          500,
        );
        return [`deleted ${victim}; replacement Ready after ${((Date.now() - t0) / 1000).toFixed(1)} s`];
      });
    } else {
      await phase('upgrade', async () => {
        const tag = await retag();
        const t0 = Date.now();
        await run('helm', [
          'upgrade',
          release,
          chart,
          '-n',
          ns,
          '--reuse-values',
          '--set',
          `auth.image.tag=${tag}`,
          '--set',
          `message.image.tag=${tag}`,
          '--set',
          `operator.image.tag=${tag}`,
          '--set',
          'message.api.replicaCount=2',
        ]);
        await until(rolledOut, 600_000, 'every Deployment rolled out', 1000);
        return [
          `helm upgrade to ${tag}; every Deployment rolled out after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
        ];
      });
    }
  }
  t.stop();
  log('traffic stopped; waiting for the last acks and deliveries');
  await until(
    () => t.pending() === 0,
    120_000,
    () => `${t.pending()} unacked sends`,
    500,
  ).catch((e: Error) => log(e.message));
  await until(
    () => t.missingDeliveries() === 0,
    120_000,
    () => `${t.missingDeliveries()} missing deliveries`,
    500,
  ).catch((e: Error) => log(e.message));
  await rest.stop();
  const stored = await storedMessages(t);
  t.close();

  const check = checkStored(t, stored);
  const rows: (string | number)[][] = [];
  let pass = check.seqGaps.length === 0;
  for (const p of phases) {
    const c = tally(t, check.copies, p.startedAt, p.endedAt);
    const restOk = p.name !== 'upgrade' || p.restFailures.length === 0;
    const ok = c.ok && restOk;
    pass &&= ok;
    rows.push([p.name, ...tallyCells(c), `${p.restFailures.length}/${p.restCalls}`, ok ? 'pass' : 'FAIL']);
    for (const n of p.notes) log(`${p.name}: ${n}`);
    if (p.restFailures.length) log(`${p.name}: REST failures: ${[...new Set(p.restFailures)].join('; ')}`);
  }
  const table = markdownTable(['phase', ...TALLY_HEADER, 'REST failed', 'result'], rows);
  log(`scaling message-api back to ${apiReplicas}`);
  await kubectl('scale', 'deployment', `${release}-message-api`, `--replicas=${apiReplicas}`).catch(() => '');
  const reconnects = t.reconnects.reduce((a, b) => a + b, 0);
  process.stdout.write(
    `\n${table}\n\nseq gaps: ${check.seqGaps.length ? check.seqGaps.join(', ') : 'none'}; stored without an ack (re-sent after a cut): ${check.storedUnacked}; ` +
      `WebSocket reconnects: ${reconnects} over ${t.users.length} users; error frames: ${JSON.stringify(Object.fromEntries(t.errorFrames))}; run took ${Math.round((Date.now() - started) / 1000)} s\n` +
      `faults on the cluster: ${pass ? 'pass' : 'FAIL'}\n`,
  );
  process.exit(pass ? 0 : 1);
}

await main();
