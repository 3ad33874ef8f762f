import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { requireEnv } from '@parley/common/testing';
import { waitFor } from '@parley/common';
import { realServer, type TestServer } from './testing/servers.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const MAIN = new URL('./main.ts', import.meta.url).pathname;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

/** A TCP proxy to Kafka that refuses connections until `open()`: Kafka "down", then back. */
class KafkaGate {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}
  async open(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}

/** One operator process (operators/src/main.ts) as the chart runs it, with its output kept. */
class OperatorProcess {
  readonly child: ChildProcess;
  output = '';
  constructor(
    readonly identity: string,
    readonly managementPort: number,
    env: NodeJS.ProcessEnv,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, ...env, POD_NAME: identity, MANAGEMENT_PORT: String(managementPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }
  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }
  async readyz(): Promise<{ status: number; body: string }> {
    const res = await fetch(`http://127.0.0.1:${this.managementPort}/readyz`);
    return { status: res.status, body: await res.text() };
  }
  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }
}

/**
 * The operator as a process (operators/src/main.ts) against the real API server, as the chart's
 * ServiceAccount, and the real local Kafka: running without Kafka, failover between processes when
 * the leader is killed, and watches that survive an API server restart. Status as a user reads it
 * with `kubectl get -o yaml`.
 */
describe('operator processes against the real API server and real Kafka', function () {
  this.timeout(180_000);
  let server: TestServer;
  let ns: string;
  let dir: string;
  let admin: Admin;
  const processes: OperatorProcess[] = [];
  const topics: string[] = [];
  const suffix = randomBytes(3).toString('hex');

  before(async function () {
    if (!process.env.PARLEY_KUBE_BIN) this.skip();
    server = await realServer('opproc');
    ns = server.namespace;
    dir = mkdtempSync(join(tmpdir(), 'parley-operator-'));
    // The operator's own credentials, as in its pod: the chart's ServiceAccount.
    writeFileSync(join(dir, 'kubeconfig'), server.kc.exportConfig(), { mode: 0o600 });
    admin = new Kafka({
      clientId: 'operator-process-test',
      brokers: requireEnv('KAFKA_BROKERS').split(','),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed')
      for (const p of processes) process.stderr.write(`--- ${p.identity}\n${p.output.slice(-4000)}\n`);
    for (const p of processes.splice(0)) p.kill('SIGKILL');
  });
  after(async () => {
    if (!server) return;
    const existing = new Set(await admin.listTopics());
    const mine = topics.filter((t) => existing.has(t));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine });
    await admin.disconnect();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(identity: string, env: NodeJS.ProcessEnv = {}): Promise<OperatorProcess> {
    const p = new OperatorProcess(identity, await freePort(), {
      KUBECONFIG: join(dir, 'kubeconfig'),
      KAFKA_BROKERS: requireEnv('KAFKA_BROKERS'),
      WATCH_NAMESPACE: ns,
      LEASE_NAMESPACE: ns,
      LEASE_NAME: 'parley-operator',
      LEASE_DURATION_MS: '3000',
      LEASE_RENEW_DEADLINE_MS: '2000',
      LEASE_RETRY_PERIOD_MS: '500',
      TOPIC_RESYNC_MS: '5000',
      RECONCILE_BACKOFF_BASE_MS: '200',
      RECONCILE_BACKOFF_MAX_MS: '2000',
      LOG_LEVEL: 'info',
      ...env,
    });
    processes.push(p);
    await waitFor(async () => expect((await p.readyz()).status).to.be.oneOf([200, 503]), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    return p;
  }

  const topicName = (what: string) => {
    const name = `opproc-${what}-${suffix}`;
    topics.push(name);
    return name;
  };
  const applyTopic = (name: string, partitions = 1) =>
    server.apply('topics', {
      apiVersion: 'parley.dev/v1alpha1',
      kind: 'Topic',
      metadata: { name },
      spec: { partitions, replicationFactor: 1 },
    });
  /** The Topic as `kubectl get topic -o yaml` shows it to a user. */
  const asUserSees = async (name: string): Promise<Json> =>
    parse(await server.cluster!.check(['get', 'topics.parley.dev', name, '-n', ns, '-o', 'yaml'])) as Json;
  const readyOf = (t: Json) => (t.status?.conditions as Json[] | undefined)?.find((c) => c.type === 'Ready');
  const holder = async () => (await server.get('leases', 'parley-operator'))?.spec?.holderIdentity as string;

  it('runs without Kafka: Ready=False KafkaError on its Topics and /readyz names kafka; reconciles once Kafka is reachable', async () => {
    const [host, port] = requireEnv('KAFKA_BROKERS').split(',')[0]!.split(':');
    const gate = new KafkaGate(await freePort(), { host: host!, port: Number(port) });
    const op = await start('solo', { KAFKA_BROKERS: `127.0.0.1:${gate.port}` });
    try {
      const name = topicName('nokafka');
      await applyTopic(name);
      await waitFor(
        async () =>
          expect(readyOf(await asUserSees(name))).to.include({ status: 'False', reason: 'KafkaError' }),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const readyz = await op.readyz();
      expect(readyz.status).to.equal(503);
      expect(readyz.body).to.contain('kafka');
      expect(op.exited).to.equal(false);

      await gate.open();
      await waitFor(
        async () =>
          expect(readyOf(await asUserSees(name))).to.include({ status: 'True', reason: 'Reconciled' }),
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      await waitFor(async () => expect((await op.readyz()).status).to.equal(200), {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
      const seen = await asUserSees(name);
      expect(seen.status.observedGeneration).to.equal(seen.metadata.generation);
      expect(readyOf(seen)!.observedGeneration).to.equal(seen.metadata.generation);
      expect(seen.status).to.include({ topicName: name, partitions: 1, replicationFactor: 1 });
      expect(seen.status.topicId).to.match(UUID);
      // deletionPolicy Retain: nothing to clean up in Kafka, so no finalizer to outlive the operator.
      expect(seen.metadata.finalizers ?? []).to.deep.equal([]);
      const events = parse(
        await server.cluster!.check([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          `involvedObject.name=${name}`,
          '-o',
          'yaml',
        ]),
      ) as Json;
      expect((events.items as Json[]).map((e) => e.source?.component ?? e.reportingComponent)).to.include(
        'parley-operator',
      );
    } finally {
      await gate.close();
    }
  });

  it('fails over between processes: the leader is killed (SIGKILL), the other holds the Lease within its duration and reconciles', async () => {
    const a = await start('process-a');
    await waitFor(async () => expect(await holder()).to.equal('process-a'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const b = await start('process-b');
    const first = topicName('before');
    await applyTopic(first);
    await waitFor(async () => expect(readyOf(await asUserSees(first))).to.include({ status: 'True' }), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });

    a.kill('SIGKILL');
    const killed = Date.now();
    await waitFor(async () => expect(await holder()).to.equal('process-b'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // Lease duration 3 s, retry period 0.5 s: the standby takes over within about 3.5 s.
    expect(Date.now() - killed).to.be.below(6_000);
    const second = topicName('after');
    await applyTopic(second);
    await waitFor(async () => expect(readyOf(await asUserSees(second))).to.include({ status: 'True' }), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });
    expect(b.exited).to.equal(false);
  });

  it('keeps reconciling across an API server restart (its watches end and are made again)', async () => {
    const op = await start('restart');
    await waitFor(async () => expect(await holder()).to.equal('restart'), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const name = topicName('restart');
    await applyTopic(name, 1);
    await waitFor(async () => expect(readyOf(await asUserSees(name))).to.include({ status: 'True' }), {
      timeoutMs: 30_000,
      intervalMs: 250,
    });

    await server.cluster!.restartApiServer();
    await applyTopic(name, 3);
    await waitFor(
      async () => {
        const seen = await asUserSees(name);
        expect(seen.status.partitions).to.equal(3);
        return expect(seen.status.observedGeneration).to.equal(seen.metadata.generation);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const created = topicName('after-restart');
    await applyTopic(created);
    await waitFor(async () => expect(readyOf(await asUserSees(created))).to.include({ status: 'True' }), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    expect(op.exited).to.equal(false);
  });
});
