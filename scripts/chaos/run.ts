/**
 * Fault harness: steady chat traffic through the SDK over two gateways and two workers on the real
 * local stack, while faults are injected one at a time (then combined). For each fault it counts
 * messages acked, stored (queried from the store) and shown by each member's SDK socket, checks
 * exactly-once storage with gap-free seqs, and measures the recovery time. It restores the stack
 * to healthy at the end, also on failure.
 *
 *   bash scripts/stack/up.sh && eval "$(bash scripts/stack/env.sh)"
 *   node --import tsx scripts/chaos/run.ts [--fault all|worker|gateway|kafka|redis|mongo|combined[,…]]
 *        [--duration S] [--rate N] [--users N] [--conversations N] [--short]
 */
import { loadavg } from 'node:os';
import { q } from '@parley/common';
import { MongoDocumentStore } from '@parley/common/testing';
import { faultNames, faults, type FaultName } from './faults.ts';
import { Fleet, sleep, until } from './fleet.ts';
import { stack } from './stack.ts';
import { summary } from './report.ts';
import type { ChaosOptions, ChaosResult, PhaseResult } from './result.ts';

export type { ChaosOptions, ChaosResult, PhaseResult } from './result.ts';
import { percentile } from './table.ts';
import { groupLag, topicSize } from './topics.ts';
import { Balancer, Traffic, type SendRecord } from './traffic.ts';

export const defaultOptions: ChaosOptions = {
  faults: [...faultNames],
  phaseS: 30,
  rate: 10,
  users: 24,
  conversations: 16,
  membersPerConversation: 4,
  warmupS: 8,
  settleS: 8,
  catchUpS: 90,
  finalWaitS: 120,
};

/** CI's form: worker and gateway kills and one Redis master failover, at a low rate. */
export const shortOptions: ChaosOptions = {
  ...defaultOptions,
  faults: ['worker', 'gateway', 'redis'],
  phaseS: 12,
  rate: 6,
  users: 12,
  conversations: 8,
  warmupS: 4,
  settleS: 5,
  catchUpS: 20,
  finalWaitS: 30,
};

interface StoredMessage {
  [field: string]: unknown;
  _id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
}

export async function runChaos(partial: Partial<ChaosOptions> = {}): Promise<ChaosResult> {
  const o: ChaosOptions = { ...defaultOptions, ...partial };
  const log = o.log ?? ((l: string) => process.stderr.write(`[chaos] ${l}\n`));
  const errors: string[] = [];
  const diagnostics: string[] = [];
  const phases: PhaseResult[] = [];
  let fleet: Fleet | undefined;
  let lb: Balancer | undefined;
  let traffic: Traffic | undefined;
  let seqGaps: string[] = [];
  let storedUnacked = 0;
  let dlqRecords = 0;
  let stackHealthyAtEnd = false;

  const load = () =>
    loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');
  const loadAtStart = load();
  log(`checking the local stack (load average ${loadAtStart})`);
  await stack.heal();
  try {
    fleet = new Fleet({ env: { KAFKA_SESSION_TIMEOUT_MS: '6000' } });
    const f = fleet;
    log(`starting auth, 2 gateways, 2 workers (tag ${f.tag})`);
    await f.startParley();
    lb = new Balancer(
      () => f.names('api').map((n) => f.url(n)),
      (g) => f.readyUrl(g),
    );
    lb.start();
    traffic = new Traffic(o, f.url('auth'), lb);
    log(
      `${o.users} users, ${o.conversations} conversations of ${o.membersPerConversation}; ${o.rate} sends/s`,
    );
    await traffic.setup();
    traffic.start();

    // Consumer groups form while the first sends flow: wait until sends complete within a second
    // or two, then measure the baseline.
    const t1 = traffic;
    await until(
      () => {
        const recent = t1.sends.filter((s) => s.sentAt >= Date.now() - 4000 && s.sentAt < Date.now() - 2000);
        return recent.length > 0 && recent.every((s) => t1.e2e(s) !== undefined);
      },
      120_000,
      'the pipeline to flow (sends shown to every member within 2 s)',
      500,
    );
    const warmStart = Date.now();
    await sleep(o.warmupS * 1000);
    phases.push(blankPhase('baseline', warmStart, Date.now()));
    const rounds = new Map<FaultName, number>();
    for (const name of o.faults) {
      const round = rounds.get(name) ?? 0;
      rounds.set(name, round + 1);
      const exitsBefore = f.info().reduce((n, p) => n + p.unexpectedExits, 0);
      const t0 = Date.now();
      const phase = blankPhase(name, t0, t0);
      phases.push(phase);
      const note = (msg: string) => {
        phase.notes.push(`+${((Date.now() - t0) / 1000).toFixed(1)}s ${msg}`);
        log(`${name}: ${msg}`);
      };
      log(`${name}: injecting`);
      try {
        await faults[name]({ fleet: f, note, round });
        phase.healedMs = Date.now() - t0;
        await sleep(Math.max(t0 + o.phaseS * 1000 - Date.now(), o.settleS * 1000));
        // Recovered without a manual step: every process is ready again on its own, and the
        // phase's sends are all acked and shown to every member.
        for (const n of f.names()) await f.waitReady(n, 60_000);
        const t = traffic;
        const cutoff = Date.now() - 1000;
        const behind = () =>
          t.sends.filter((s) => s.sentAt >= t0 && s.sentAt < cutoff && t.e2e(s) === undefined).length;
        await until(() => behind() === 0, o.catchUpS * 1000, 'caught up', 500).catch(() => {
          phase.notes.push(
            `not caught up ${o.catchUpS} s after healing: ${behind()} sends not acked or not shown to all`,
          );
          log(`${name}: ${behind()} sends still not acked or not shown to every member`);
        });
      } catch (err) {
        phase.error = (err as Error).message;
        errors.push(`${name}: ${phase.error}`);
        log(`${name}: FAILED ${phase.error}`);
        await stack.heal().catch((e: Error) => errors.push(`heal after ${name}: ${e.message}`));
        for (const n of f.names()) await f.waitReady(n, 60_000).catch(() => f.restart(n));
      }
      phase.unexpectedExits = f.info().reduce((n, p) => n + p.unexpectedExits, 0) - exitsBefore;
      phase.endedAt = Date.now();
    }

    traffic.stop();
    const t = traffic;
    log(`sending stopped; waiting for ${t.pending()} unacknowledged sends`);
    await until(() => t.pending() === 0, o.finalWaitS * 1000, 'every send acknowledged', 500).catch(
      (e: Error) => errors.push(e.message),
    );
    const acked = t.sends.filter((s) => s.messageId);
    const convs = [...t.members.keys()];
    const store = await MongoDocumentStore.connect({ url: f.env.MONGO_URL! });
    let stored: StoredMessage[] = [];
    try {
      const messages = await store.collection<StoredMessage>('messages');
      const ackedIds = new Set(acked.map((s) => s.messageId!));
      log(`waiting until ${ackedIds.size} acked messages are stored`);
      await until(
        async () => (await messages.count({ conversationId: q.in(convs) })) >= ackedIds.size,
        o.finalWaitS * 1000,
        `${ackedIds.size} acked messages stored`,
        1000,
      ).catch((e: Error) => errors.push(e.message));
      stored = await messages.find({ conversationId: q.in(convs) }, { limit: 1_000_000 });
    } finally {
      await store.close();
    }
    log('waiting until every member was shown every acked message');
    await until(
      () => t.missingDeliveries() === 0,
      o.finalWaitS * 1000,
      'every member shown every message',
      500,
    ).catch((e: Error) =>
      errors.push(`${e.message} (${t.missingDeliveries()} (message, member) pairs missing)`),
    );
    dlqRecords = await topicSize(f.env.KAFKA_BROKERS!, f.env.TOPIC_CHAT_DLQ!).catch(() => -1);
    // What is behind a lost or missing message: the sends, and any partition a group did not finish.
    const lostOnes = acked.filter((s) => !stored.some((m) => m._id === s.messageId));
    for (const s of [...lostOnes, ...t.sends.filter((x) => !x.messageId)].slice(0, 20))
      diagnostics.push(
        `${s.messageId ? 'acked, not stored' : 'never acked'}: clientMsgId ${s.clientMsgId} conv ${s.conv} ` +
          `sender ${s.sender} sent ${new Date(s.sentAt).toISOString()}` +
          (s.ackedAt ? ` acked +${s.ackedAt - s.sentAt} ms id ${s.messageId}` : '') +
          (s.failed ? ` failed: ${s.failed}` : ''),
      );
    for (const [group, topic] of [
      [f.env.WORKER_GROUP_ID!, f.env.TOPIC_CHAT_MESSAGES!],
      [f.env.FANOUT_GROUP_ID!, f.env.TOPIC_CHAT_EVENTS!],
    ] as const) {
      const lag = await groupLag(f.env.KAFKA_BROKERS!, group, topic).catch((e: Error) => [e.message]);
      if (lag.length) diagnostics.push(`${group} behind on ${topic}: ${lag.join(', ')}`);
    }

    // Storage: per conversation, seqs exactly 1..n; once per (sender, clientMsgId).
    const byConv = new Map<string, number[]>();
    const copies = new Map<string, number>();
    const storedIds = new Set<string>();
    for (const m of stored) {
      (byConv.get(m.conversationId) ?? byConv.set(m.conversationId, []).get(m.conversationId)!).push(m.seq);
      const k = `${m.conversationId}/${m.senderId}/${m.clientMsgId}`;
      copies.set(k, (copies.get(k) ?? 0) + 1);
      storedIds.add(m._id);
    }
    seqGaps = [...byConv]
      .filter(([, seqs]) => seqs.sort((a, b) => a - b).some((s, i) => s !== i + 1))
      .map(([c]) => c);
    const ackedSet = new Set(acked.map((s) => s.messageId!));
    storedUnacked = stored.filter((m) => !ackedSet.has(m._id)).length;
    const twice = new Set(
      stored
        .filter((m) => (copies.get(`${m.conversationId}/${m.senderId}/${m.clientMsgId}`) ?? 0) > 1)
        .map((m) => m.clientMsgId),
    );

    // Thresholds for "delayed by the fault": well above what the baseline shows.
    const base = phases[0]!;
    const baseSends = t.sends.filter((s) => s.sentAt >= base.startedAt && s.sentAt < base.endedAt);
    const ackThreshold = Math.max(1000, 3 * percentile(ackLatencies(baseSends), 99) || 0);
    const e2eThreshold = Math.max(
      2000,
      3 *
        percentile(
          baseSends.map((s) => t.e2e(s) ?? 0),
          99,
        ) || 0,
    );
    log(
      `delayed means: ack > ${ackThreshold} ms or shown to every member > ${e2eThreshold} ms after the send`,
    );

    for (let i = 0; i < phases.length; i++) {
      const p = phases[i]!;
      const end = phases[i + 1]?.startedAt ?? Infinity;
      const sends = t.sends.filter((s) => s.sentAt >= p.startedAt && s.sentAt < end);
      fill(p, t, sends, storedIds, twice);
      if (p.fault !== 'baseline') {
        const window = t.sends.filter((s) => s.sentAt >= p.startedAt - 2000 && s.sentAt < end);
        let last = p.startedAt;
        let lastAck = p.startedAt;
        let complete = true;
        for (const s of window) {
          const ackMs = s.ackedAt !== undefined ? s.ackedAt - s.sentAt : undefined;
          const e = t.e2e(s);
          if (ackMs === undefined || e === undefined) {
            complete = false;
            continue;
          }
          if (ackMs > ackThreshold) lastAck = Math.max(lastAck, s.ackedAt!);
          if (ackMs > ackThreshold || e > e2eThreshold) last = Math.max(last, s.sentAt + e);
        }
        p.recoveryMs = complete ? last - p.startedAt : undefined;
        p.ackRecoveryMs = complete ? lastAck - p.startedAt : undefined;
      }
      p.pass =
        !p.error &&
        p.lost === 0 &&
        p.storedTwice === 0 &&
        p.unacked === 0 &&
        p.failed === 0 &&
        p.delivered === p.expectedDeliveries &&
        p.duplicatesShown === 0 &&
        p.unexpectedExits === 0 &&
        (p.fault === 'baseline' || p.recoveryMs !== undefined);
    }
  } catch (err) {
    errors.push((err as Error).stack ?? String(err));
    log(`FAILED: ${(err as Error).message}`);
    if (fleet) for (const p of fleet.info()) log(`${p.name} log tail:\n${fleet.logTail(p.name, 10)}`);
  } finally {
    traffic?.close();
    lb?.stop();
    await fleet?.close();
    if (fleet) log(`process logs: ${fleet.logDir}`);
    log('restoring the local stack');
    stackHealthyAtEnd = await stack.heal().then(
      () => true,
      (e: Error) => (errors.push(`final heal: ${e.message}`), false),
    );
  }
  const pass =
    errors.length === 0 &&
    phases.length === o.faults.length + 1 &&
    phases.every((p) => p.pass) &&
    seqGaps.length === 0 &&
    stackHealthyAtEnd;
  const result: ChaosResult = {
    options: o,
    phases,
    seqGaps,
    storedUnacked,
    dlqRecords,
    stackHealthyAtEnd,
    pass,
    table: '',
    errors,
    diagnostics,
    ...(fleet ? { logDir: fleet.logDir } : {}),
  };
  result.loadAverage = `${loadAtStart} at the start, ${load()} at the end`;
  result.table = summary(result);
  return result;
}

function blankPhase(fault: PhaseResult['fault'], startedAt: number, endedAt: number): PhaseResult {
  return {
    fault,
    startedAt,
    endedAt,
    notes: [],
    sent: 0,
    acked: 0,
    failed: 0,
    unacked: 0,
    stored: 0,
    lost: 0,
    storedTwice: 0,
    expectedDeliveries: 0,
    delivered: 0,
    duplicatesShown: 0,
    unexpectedExits: 0,
    pass: false,
  };
}

const ackLatencies = (sends: SendRecord[]) =>
  sends.filter((s) => s.ackedAt !== undefined).map((s) => s.ackedAt! - s.sentAt);

function fill(
  p: PhaseResult,
  t: Traffic,
  sends: SendRecord[],
  storedIds: Set<string>,
  twice: Set<string>,
): void {
  p.sent = sends.length;
  const acked = sends.filter((s) => s.messageId);
  p.acked = acked.length;
  p.failed = sends.filter((s) => s.failed).length;
  p.unacked = sends.filter((s) => !s.messageId && !s.failed).length;
  p.stored = acked.filter((s) => storedIds.has(s.messageId!)).length;
  p.lost = p.acked - p.stored;
  p.storedTwice = acked.filter((s) => twice.has(s.clientMsgId)).length;
  const e2es: number[] = [];
  for (const s of acked) {
    const members = t.members.get(s.conv)!;
    const d = t.deliveries.get(s.messageId!);
    p.expectedDeliveries += members.length;
    for (const u of members) {
      const c = d?.count.get(u) ?? 0;
      if (c > 0) p.delivered++;
      if (c > 1) p.duplicatesShown += c - 1;
    }
    const e = t.e2e(s);
    if (e !== undefined) e2es.push(e);
  }
  p.maxAckMs = Math.max(0, ...ackLatencies(acked));
  p.maxE2eMs = e2es.length ? Math.max(...e2es) : undefined;
  p.p99E2eMs = percentile(e2es, 99);
}

function parseArgs(argv: string[]): Partial<ChaosOptions> {
  const out: Partial<ChaosOptions> = {};
  let base: ChaosOptions = defaultOptions;
  const num = (v: string | undefined, flag: string) => {
    const n = Number(v);
    if (!v || !Number.isFinite(n) || n <= 0) throw new Error(`${flag} takes a positive number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    switch (a) {
      case '--short':
        base = shortOptions;
        break;
      case '--fault': {
        if (!v) throw new Error('--fault takes all or a list of ' + faultNames.join(','));
        const list = v === 'all' ? [...faultNames] : v.split(',');
        for (const f of list)
          if (!(faultNames as readonly string[]).includes(f))
            throw new Error(`unknown fault ${f}: expected all or ${faultNames.join(', ')}`);
        out.faults = list as FaultName[];
        i++;
        break;
      }
      case '--duration':
        out.phaseS = num(v, a);
        i++;
        break;
      case '--rate':
        out.rate = num(v, a);
        i++;
        break;
      case '--users':
        out.users = num(v, a);
        i++;
        break;
      case '--conversations':
        out.conversations = num(v, a);
        i++;
        break;
      case '-h':
      case '--help':
        process.stdout.write(
          'node --import tsx scripts/chaos/run.ts [--fault all|worker|gateway|kafka|redis|mongo|combined[,…]] [--duration S] [--rate N] [--users N] [--conversations N] [--short]\n',
        );
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${a} (--help)`);
    }
  }
  return { ...base, ...out };
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const result = await runChaos(opts);
  process.stdout.write(`\n${result.table}\nrun took ${Math.round((Date.now() - started) / 1000)} s\n`);
  process.exit(result.pass ? 0 : 1);
}
