/**
 * What the one-node cluster's client scripts (node-faults.ts, node-autoscale.ts) share: the
 * cluster's settings from the environment node-client.sh exports, clients that reach the
 * ingress by its host name (resolved to the node, as /etc/hosts or DNS would for a user), kubectl,
 * and reading every conversation back through the history API.
 */
import { execFile } from 'node:child_process';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { promisify } from 'node:util';
import { Agent, setGlobalDispatcher } from 'undici';
import type { ClientOptions } from 'ws';
import { fmt, percentile } from '../chaos/table.ts';
import type { Traffic } from '../chaos/traffic.ts';

export const run = promisify(execFile);
export const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through scripts/kube/node-client.sh)`);
  return v;
};
export const positive = (flag: string, v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} takes a positive number`);
  return n;
};
export const nodeIp = env('PARLEY_NODE_IP');
export const port = env('PARLEY_NODE_INGRESS_NODEPORT');
export const host = env('PARLEY_NODE_INGRESS_HOST');
export const ns = env('PARLEY_NODE_NAMESPACE');
export const release = env('PARLEY_NODE_RELEASE');
export const chart = env('PARLEY_NODE_CHART');
export const ingress = `http://${host}:${port}`;

// The ingress host name resolves to the node, as /etc/hosts or DNS would for a real user; the
// Host header stays the Ingress rule's host (fetch and ws both connect through this lookup).
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
export function lookup(hostname: string, options: { all?: boolean }, cb: LookupCallback): void {
  if (hostname !== host) {
    dnsLookup(hostname, options, cb as never);
    return;
  }
  if (options.all) cb(null, [{ address: nodeIp, family: 4 }]);
  else cb(null, nodeIp, 4);
}
setGlobalDispatcher(new Agent({ connect: { lookup: lookup as never } }));

export const kubectl = async (...a: string[]) =>
  (await run('kubectl', ['-n', ns, ...a], { maxBuffer: 1 << 24 })).stdout;

export async function podsOf(
  component: string,
): Promise<{ name: string; ready: boolean; deleting: boolean }[]> {
  const out = JSON.parse(
    await kubectl('get', 'pods', '-l', `app.kubernetes.io/component=${component}`, '-o', 'json'),
  ) as {
    items: {
      metadata: { name: string; deletionTimestamp?: string };
      status: { conditions?: { type: string; status: string }[] };
    }[];
  };
  return out.items.map((p) => ({
    name: p.metadata.name,
    deleting: !!p.metadata.deletionTimestamp,
    ready: !!p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
  }));
}

/** Every Deployment of the release has rolled out (all replicas updated and available). */
export async function rolledOut(): Promise<boolean> {
  const out = JSON.parse(
    await kubectl('get', 'deployments', '-l', `app.kubernetes.io/instance=${release}`, '-o', 'json'),
  ) as {
    items: {
      metadata: { generation: number };
      spec: { replicas?: number };
      status: {
        observedGeneration?: number;
        updatedReplicas?: number;
        availableReplicas?: number;
        replicas?: number;
      };
    }[];
  };
  return out.items.every((d) => {
    const want = d.spec.replicas ?? 1;
    const s = d.status;
    return (
      s.observedGeneration === d.metadata.generation &&
      (s.updatedReplicas ?? 0) === want &&
      (s.availableReplicas ?? 0) === want &&
      (s.replicas ?? 0) === want
    );
  });
}

/**
 * Every conversation's history through the API. A message id is derived from (conversation,
 * sender, clientMsgId), so one send stored twice shows as the same id twice.
 */
export async function storedMessages(t: Traffic): Promise<Map<string, { id: string; seq: number }[]>> {
  const out = new Map<string, { id: string; seq: number }[]>();
  for (const [conv, members] of t.members) {
    const reader = t.users[members[0]!]!;
    const all: { id: string; seq: number }[] = [];
    let after = 0;
    for (;;) {
      const page = await reader.client.listMessages(conv, { after, limit: 100 });
      for (const m of page.messages) all.push({ id: m.id, seq: m.seq });
      if (page.messages.length < 100) break;
      after = page.messages[page.messages.length - 1]!.seq;
    }
    out.set(conv, all);
  }
  return out;
}

/** WebSocket options that reach the ingress host through the same lookup as fetch. */
// ws hands its options to http.request, whose socket takes `lookup` (not in ws's types).
export const ingressSocketOptions = { lookup } as ClientOptions;

/** What the history holds: copies of each message id, conversations whose seqs are not 1..n. */
export function checkStored(t: Traffic, stored: Map<string, { id: string; seq: number }[]>) {
  const copies = new Map<string, number>();
  const seqGaps: string[] = [];
  for (const [conv, msgs] of stored) {
    msgs.forEach((m, i) => {
      copies.set(m.id, (copies.get(m.id) ?? 0) + 1);
      if (m.seq !== i + 1 && seqGaps.at(-1) !== conv) seqGaps.push(conv);
    });
  }
  const acked = new Set(t.sends.flatMap((s) => (s.messageId ? [s.messageId] : [])));
  /** Stored messages nobody got an ack for (a send in flight at a cut, re-sent: still stored once). */
  const storedUnacked = [...copies.keys()].filter((id) => !acked.has(id)).length;
  return { copies, seqGaps, storedUnacked };
}

/** The fault harness's counts (scripts/chaos/result.ts) for the sends made in [from, to). */
export function tally(t: Traffic, copies: Map<string, number>, from: number, to: number) {
  const sends = t.sends.filter((s) => s.sentAt >= from && s.sentAt < to);
  const acked = sends.filter((s) => s.messageId);
  const stored = acked.filter((s) => copies.has(s.messageId!)).length;
  const storedTwice = acked.filter((s) => (copies.get(s.messageId!) ?? 0) > 1).length;
  const failed = sends.filter((s) => s.failed).length;
  const unacked = sends.filter((s) => !s.messageId && !s.failed).length;
  const expected = acked.reduce((n, s) => n + t.members.get(s.conv)!.length, 0);
  let delivered = 0;
  let duplicatesShown = 0;
  for (const s of acked) {
    const d = t.deliveries.get(s.messageId!);
    for (const u of t.members.get(s.conv)!) {
      const c = d?.count.get(u) ?? 0;
      if (c > 0) delivered++;
      if (c > 1) duplicatesShown += c - 1;
    }
  }
  const e2e = acked.map((s) => t.e2e(s)).filter((x): x is number => x !== undefined);
  const ok =
    acked.length === stored &&
    storedTwice === 0 &&
    failed === 0 &&
    unacked === 0 &&
    delivered === expected &&
    duplicatesShown === 0;
  return {
    sent: sends.length,
    acked: acked.length,
    failed,
    unacked,
    stored,
    lost: acked.length - stored,
    storedTwice,
    delivered,
    expected,
    duplicatesShown,
    maxAckMs: Math.max(0, ...acked.map((s) => s.ackedAt! - s.sentAt)),
    p99E2eMs: percentile(e2e, 99),
    ok,
  };
}
export type Tally = ReturnType<typeof tally>;

export const TALLY_HEADER = [
  'sent',
  'acked',
  'failed',
  'unacked',
  'stored',
  'lost',
  'stored twice',
  'delivered',
  'duplicates shown',
  'max ack s',
  'p99 e2e ms',
];
export const tallyCells = (c: Tally): (string | number)[] => [
  c.sent,
  c.acked,
  c.failed,
  c.unacked,
  c.stored,
  c.lost,
  c.storedTwice,
  `${c.delivered}/${c.expected}`,
  c.duplicatesShown,
  fmt(c.maxAckMs / 1000),
  fmt(c.p99E2eMs),
];
