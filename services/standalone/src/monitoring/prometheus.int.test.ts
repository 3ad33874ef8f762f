import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor, type Running } from '@parley/common';
import { TestSocket } from '@parley/common/testing';
import {
  createConversation,
  post,
  realStackEnv,
  registerUsers,
  startAuth,
  startMessage,
  type BenchUser,
  type Proc,
} from '../../../../scripts/bench/services.ts';
import { freePort, waitReady } from '../../../../scripts/bench/lib.ts';
import { FakeApiServer } from '../../../../operators/src/testing/fake-apiserver.ts';
import { alertInputs, allowedWithoutData, monitoringQueries, reasonWithoutData } from './queries.ts';

const ROOT = new URL('../../../../', import.meta.url).pathname;
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';
const NAMESPACE = 'parley-live';
/** How long the load runs: long enough for several 2 s scrapes inside every [5m] rate window. */
const LOAD_MS = Number(process.env.PROMETHEUS_TEST_LOAD_MS ?? 60_000);

interface Child {
  name: string;
  proc: ChildProcess;
  log: () => string;
}

/** A long-running helper process with its output kept for failure messages. */
function run(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
  let out = '';
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.on('error', (err) => keep(Buffer.from(`${name}: ${err.message}\n`)));
  return { name, proc, log: () => out };
}

async function stopChild(p: { proc: ChildProcess }): Promise<void> {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.proc.once('exit', () => resolve());
    p.proc.kill('SIGTERM');
    setTimeout(() => p.proc.kill('SIGKILL'), 10_000).unref();
  });
}

interface PromResult {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus (Debian's package) scraping the Parley processes, the operator and two exporters
 * on the local real stack, with the alerting rules loaded. After a minute of chat traffic, every
 * dashboard query and every alert's inputs must return data (monitoring/queries-without-data.yaml
 * lists the exceptions and why), and no Parley alert may be pending or firing.
 */
describe('monitoring queries against a live Prometheus (real stack)', function () {
  // Building the two exporters the first time takes a few minutes on a busy 2-core machine.
  this.timeout(LOAD_MS + 420_000);
  const children: Child[] = [];
  const dirs: string[] = [];
  let auth: Running | undefined;
  let api: Proc | undefined;
  let worker: Proc | undefined;
  let media: Proc | undefined;
  let notifier: Proc | undefined;
  const started: Proc[] = [];
  let fake: FakeApiServer | undefined;
  let promUrl = '';

  const query = async (expr: string): Promise<PromResult[]> => {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: PromResult[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? res.status}`);
    return body.data!.result;
  };

  before(async function () {
    if (!process.env.KAFKA_BROKERS)
      throw new Error('KAFKA_BROKERS is not set: eval "$(bash scripts/stack/env.sh)"');
    if (!existsSync(PROMETHEUS))
      throw new Error(`${PROMETHEUS} is missing: apt-get install prometheus (scripts/test.sh does)`);
    // Built from the Go module proxy once, then cached (about a minute the first time).
    const exporters = execFileSync('bash', [join(ROOT, 'scripts/monitoring/exporters.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();

    const tag = randomBytes(3).toString('hex');
    const env = realStackEnv('prom', {
      CHAT_TOPIC_PARTITIONS: '4',
      RATE_LIMIT_PER_MINUTE: '1000000',
      SEND_RATE_PER_MINUTE: '1000000',
      RATE_LIMIT_REGISTER_PER_15MIN: '100000',
      WS_TYPING_THROTTLE_MS: '1000',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      NOTIFY_GROUP_ID: `prom-${tag}.message-notifier`,
      TOPIC_NOTIFY_DLQ: `prom-${tag}.chat.events.notify.dlq`,
      MEDIA_GROUP_ID: `prom-${tag}.message-media`,
    });
    dirs.push(env.DATA_DIR!);
    auth = await startAuth(env);
    // Each one into `started` as it comes up, so that after() stops those that did when another did not.
    const start = async (role: 'api' | 'worker' | 'media' | 'notifier') => {
      const proc = await startMessage(role, env);
      started.push(proc);
      return proc;
    };
    [api, worker, media, notifier] = await Promise.all([
      start('api'),
      start('worker'),
      start('media'),
      start('notifier'),
    ]);

    // The operator, against the fake API server, autoscaling this run's worker group.
    fake = await FakeApiServer.start();
    fake.apply('deployments', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'message-worker', namespace: NAMESPACE },
      spec: { replicas: 1 },
    });
    fake.apply('consumerautoscalers', {
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'ConsumerAutoscaler',
      metadata: { name: 'message-worker', namespace: NAMESPACE },
      spec: {
        scaleTargetRef: { name: 'message-worker' },
        consumerGroup: env.WORKER_GROUP_ID,
        topics: [env.TOPIC_CHAT_MESSAGES],
        lagThreshold: 1000,
        minReplicas: 1,
        maxReplicas: 4,
        pollingIntervalSeconds: 2,
      },
    });
    const operatorPort = await freePort();
    const operator = run(
      'operator',
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'operators/src/main.ts')],
      {
        ...process.env,
        KAFKA_BROKERS: process.env.KAFKA_BROKERS,
        KAFKA_CLIENT_ID: `prom-${tag}-operator`,
        KUBE_SERVER: fake.url,
        WATCH_NAMESPACE: NAMESPACE,
        LEASE_NAMESPACE: NAMESPACE,
        LEASE_NAME: `parley-operator-${tag}`,
        POD_NAME: `operator-${tag}`,
        MANAGEMENT_HOST: '127.0.0.1',
        MANAGEMENT_PORT: String(operatorPort),
        LOG_LEVEL: 'warn',
      },
    );
    children.push(operator);
    await waitReady(`http://127.0.0.1:${operatorPort}/readyz`, operator.proc, 'operator');

    const redisPort = await freePort();
    const redisNode = process.env.REDIS_NODES!.split(',')[0]!;
    children.push(
      run('redis_exporter', join(exporters, 'redis_exporter'), [
        '-redis.addr',
        `redis://${redisNode}`,
        '-web.listen-address',
        `127.0.0.1:${redisPort}`,
      ]),
    );
    const nodePort = await freePort();
    children.push(
      run('node_exporter', join(exporters, 'node_exporter'), [
        `--web.listen-address=127.0.0.1:${nodePort}`,
        '--collector.disable-defaults',
        ...['cpu', 'meminfo', 'loadavg', 'filesystem', 'netdev'].map((c) => `--collector.${c}`),
      ]),
    );

    const hostOf = (url: string) => new URL(url).host;
    const targets: [job: string, target: string][] = [
      ['parley-auth', hostOf(auth.managementUrl)],
      ['parley-message-api', hostOf(api.managementUrl)],
      ['parley-message-worker', hostOf(worker.managementUrl)],
      ['parley-message-media', hostOf(media.managementUrl)],
      ['parley-message-notifier', hostOf(notifier.managementUrl)],
      ['parley-operator', `127.0.0.1:${operatorPort}`],
      ['redis-exporter', `127.0.0.1:${redisPort}`],
      ['node-exporter', `127.0.0.1:${nodePort}`],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'parley-prometheus-'));
    dirs.push(dir);
    // JSON is YAML: no serializer needed.
    writeFileSync(
      join(dir, 'prometheus.yml'),
      JSON.stringify({
        global: { scrape_interval: '2s', scrape_timeout: '2s', evaluation_interval: '2s' },
        rule_files: [join(ROOT, 'monitoring/prometheus/rules.yaml')],
        scrape_configs: targets.map(([job, target]) => ({
          job_name: job,
          static_configs: [{ targets: [target], labels: { namespace: NAMESPACE } }],
        })),
      }),
    );
    const promPort = await freePort();
    promUrl = `http://127.0.0.1:${promPort}`;
    const prometheus = run('prometheus', PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      '--log.level=warn',
    ]);
    children.push(prometheus);
    await waitReady(`${promUrl}/-/ready`, prometheus.proc, `prometheus (${prometheus.log().slice(-500)})`);

    await drive(api.url, auth.url, LOAD_MS);
    // Every target scraped once more after the last frame.
    const ended = Date.now() / 1000;
    await waitFor(async () => Number((await query('min(timestamp(up))'))[0]?.value[1] ?? 0) > ended + 0.5, {
      timeoutMs: 30_000,
      what: 'a scrape of every target after the load',
    });
  });

  after(async () => {
    await Promise.all(children.map(stopChild));
    await Promise.all(started.map((p) => p.stop()));
    await auth?.stop();
    await fake?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('scrapes every target', async () => {
    const up = await query('up');
    const down = up.filter((r) => r.value[1] !== '1').map((r) => r.metric.job);
    expect(down, 'targets down').to.deep.equal([]);
    expect(up).to.have.length(8);
  });

  it('every dashboard query and every alert input returns data, or is allowed not to', async () => {
    const allowed = allowedWithoutData();
    const missing: string[] = [];
    const unexpected: string[] = [];
    let withData = 0;
    let checked = 0;
    for (const q of monitoringQueries(NAMESPACE)) {
      const reason = reasonWithoutData(q, allowed);
      for (const expr of q.kind === 'alert' ? alertInputs(q.expr) : [q.expr]) {
        checked++;
        const has = (await query(expr)).length > 0;
        if (has) withData++;
        if (!has && !reason) missing.push(`${q.id}: ${expr}`);
        // An allow-listed query that has data now should leave the list.
        if (has && reason)
          unexpected.push(`${q.id}: has data, remove it from monitoring/queries-without-data.yaml`);
      }
    }
    console.log(
      `      ${checked} queries, ${withData} with data, ${checked - withData} allow-listed without data`,
    );
    expect(missing, 'queries without data').to.deep.equal([]);
    expect(unexpected).to.deep.equal([]);
  });

  it('evaluates every rule without errors (pending alerts are reported, not failed)', async () => {
    const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; state?: string }[] }[] };
    };
    const rules = res.data.groups.flatMap((g) => g.rules);
    expect(rules.length).to.equal(monitoringQueries(NAMESPACE).filter((q) => q.kind !== 'panel').length);
    expect(
      rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`),
    ).to.deep.equal([]);
    // A shared 2-core CI box can be slow enough to make a latency alert pending; none has fired
    // (every `for:` is longer than the run), so pending alerts are shown for the reader only.
    const pending = rules.filter((r) => r.state && r.state !== 'inactive');
    if (pending.length)
      console.log(`      pending: ${pending.map((r) => `${r.name} (${r.state})`).join(', ')}`);
    expect(pending.filter((r) => r.state === 'firing').map((r) => r.name)).to.deep.equal([]);
  });
});

/**
 * About `ms` of chat traffic: users register and sign in, open sockets, send over REST and
 * WebSocket, type, change presence, mark read and delivered, resume, page through history, read
 * presence, and send a frame the server refuses (a typing notice to a conversation the user is
 * not in), so every frame type and the error path have series with traffic.
 */
async function drive(apiUrl: string, authUrl: string, ms: number): Promise<void> {
  const users = await registerUsers(authUrl, 'prom', 6);
  await post(authUrl, '/v1/auth/login', undefined, {
    login: users[0]!.username,
    password: 'benchmark passphrase 42',
  });
  const group = await createConversation(apiUrl, users[0]!, 'group', users.slice(1));
  const direct = await createConversation(apiUrl, users[1]!, 'direct', [users[2]!]);
  const sockets = await Promise.all(users.map((u) => TestSocket.bearer(apiUrl, u.token)));
  const get = async (u: BenchUser, path: string) => {
    const res = await fetch(apiUrl + path, { headers: { authorization: `Bearer ${u.token}` } });
    await res.arrayBuffer();
    if (res.status >= 400) throw new Error(`GET ${path}: ${res.status}`);
  };
  const deadline = Date.now() + ms;
  let seq = 0;
  for (let i = 0; Date.now() < deadline; i++) {
    const n = i % users.length;
    const u = users[n]!;
    const s = sockets[n]!;
    const conv = n === 1 || n === 2 ? (i % 2 ? direct : group) : group;
    await post(apiUrl, `/v1/conversations/${conv}/messages`, u.token, {
      clientMsgId: randomUUID(),
      body: `rest ${i}`,
    });
    s.send({ type: 'send', id: `s${i}`, conversationId: conv, clientMsgId: randomUUID(), body: `ws ${i}` });
    s.send({ type: 'typing', conversationId: conv, state: i % 3 === 2 ? 'stopped' : 'started' });
    s.send({ type: 'presence', id: `p${i}`, status: i % 4 < 2 ? 'away' : 'online' });
    s.send({ type: 'read', conversationId: conv, seq });
    s.send({ type: 'delivered', conversationId: conv, seq });
    s.send({ type: 'ping' });
    if (i % 10 === 0) {
      s.send({ type: 'resume', id: `r${i}`, cursors: { [conv]: Math.max(0, seq - 5) } });
      // Refused: users 3-5 are not in the direct conversation (counted as a rejected frame).
      sockets[3]!.send({ type: 'typing', conversationId: direct, state: 'started' });
      await get(u, `/v1/conversations/${conv}/messages?after=0`);
      await get(u, `/v1/conversations/${conv}/presence`);
    }
    const latest = s.of('message.created').at(-1) as { data?: { seq?: number } } | undefined;
    seq = Math.max(seq, latest?.data?.seq ?? 0);
    await new Promise((r) => setTimeout(r, 100));
  }
  // Closing sockets counts close codes and presence going offline.
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closedWith()));
}
