/**
 * The real Kubernetes control plane of the local stack (scripts/kube/up.sh: etcd, kube-apiserver,
 * kube-controller-manager) as tests use it: the admin kubeconfig, kubectl and helm, a fresh
 * namespace per test, credentials of a ServiceAccount (TokenRequest), and an API server restart.
 *
 * Needs KUBECONFIG, PARLEY_KUBE_BIN and PARLEY_KUBE_DIR from `eval "$(bash scripts/kube/env.sh)"`
 * (scripts/test.sh sets them).
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { requireEnv } from '@parley/common/testing';
import { waitFor } from '@parley/common';

const run = promisify(execFile);

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command; never throws on a non-zero exit (the result says). */
export async function command(
  file: string,
  args: readonly string[],
  opts: ExecFileOptions & { input?: string } = {},
): Promise<CommandResult> {
  const child = run(file, [...args], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', ...opts });
  if (opts.input !== undefined) {
    child.child.stdin?.end(opts.input);
  }
  try {
    const { stdout, stderr } = await child;
    return { code: 0, stdout: String(stdout), stderr: String(stderr) };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export class Cluster {
  readonly kubeconfig = requireEnv('KUBECONFIG');
  readonly bin = requireEnv('PARLEY_KUBE_BIN');
  readonly dir = requireEnv('PARLEY_KUBE_DIR');
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;

  constructor() {
    this.kc = new KubeConfig();
    this.kc.loadFromFile(this.kubeconfig);
    this.core = this.kc.makeApiClient(CoreV1Api);
  }

  /** kubectl as the admin; `check` throws with its stderr on a non-zero exit. */
  kubectl(args: readonly string[], input?: string): Promise<CommandResult> {
    return command(join(this.bin, 'kubectl'), ['--kubeconfig', this.kubeconfig, ...args], { input });
  }

  async check(args: readonly string[], input?: string): Promise<string> {
    const r = await this.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r.stdout;
  }

  /** `kubectl get -o json` of one object, or undefined when it does not exist. */
  async get<T = Record<string, unknown>>(args: readonly string[]): Promise<T | undefined> {
    const r = await this.kubectl(['get', ...args, '-o', 'json']);
    if (r.code !== 0) {
      if (/NotFound|not found/.test(r.stderr)) return undefined;
      throw new Error(`kubectl get ${args.join(' ')}: ${r.stderr}`);
    }
    return JSON.parse(r.stdout) as T;
  }

  /** Applies the chart's CRDs (charts/parley/crds) server-side and waits until both are Established. */
  async applyParleyCrds(): Promise<void> {
    const dir = new URL('../../../charts/parley/crds/', import.meta.url).pathname;
    await this.check(['apply', '--server-side', '--force-conflicts', '-f', dir]);
    await this.established(['topics.parley.dev', 'consumerautoscalers.parley.dev']);
  }

  async established(crds: readonly string[]): Promise<void> {
    await this.check([
      'wait',
      '--for=condition=Established',
      ...crds.map((c) => `crd/${c}`),
      '--timeout=60s',
    ]);
  }

  /** helm (from scripts/stack/tools.sh, on PATH in the test run) against this cluster. */
  helm(args: readonly string[]): Promise<CommandResult> {
    return command('helm', [...args], { env: { ...process.env, KUBECONFIG: this.kubeconfig } });
  }

  /** A new namespace `<prefix>-<random>`, with labels (Pod Security, say). */
  async namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.core.createNamespace({ body: { metadata: { name, labels } } });
    // The ServiceAccount admission plugin needs the namespace's "default" ServiceAccount.
    await waitFor(() => this.core.readNamespacedServiceAccount({ namespace: name, name: 'default' }), {
      timeoutMs: 30_000,
    });
    return name;
  }

  /**
   * Deletes a namespace. Topics left with the operator's finalizer (no operator runs any more to
   * remove it) would hold the namespace, and any later CRD deletion, forever: they lose it first.
   */
  async deleteNamespace(name: string): Promise<void> {
    await this.releaseTopics(name);
    await this.core.deleteNamespace({ name }).catch(() => undefined);
  }

  /** Removes finalizers from the Topics of a namespace (all namespaces when absent). */
  async releaseTopics(namespace?: string): Promise<void> {
    const scope = namespace ? ['-n', namespace] : ['--all-namespaces'];
    const r = await this.kubectl(['get', 'topics.parley.dev', ...scope, '-o', 'json']);
    if (r.code !== 0) return; // no CRD: no Topics
    const items = (
      JSON.parse(r.stdout) as {
        items: { metadata: { name: string; namespace: string; finalizers?: string[] } }[];
      }
    ).items;
    for (const t of items.filter((i) => (i.metadata.finalizers ?? []).length > 0))
      await this.kubectl([
        'patch',
        'topics.parley.dev',
        t.metadata.name,
        '-n',
        t.metadata.namespace,
        '--type=merge',
        '-p',
        '{"metadata":{"finalizers":null}}',
      ]);
  }

  /** A kubeconfig that authenticates as a ServiceAccount (a bound token, one hour). */
  async as(namespace: string, serviceAccount: string): Promise<KubeConfig> {
    const tr = await this.core.createNamespacedServiceAccountToken({
      namespace,
      name: serviceAccount,
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    const cluster = this.kc.getCurrentCluster()!;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ ...cluster, name: 'parley-test' }],
      users: [{ name: serviceAccount, token: tr.status!.token }],
      contexts: [{ name: 'sa', cluster: 'parley-test', user: serviceAccount }],
      currentContext: 'sa',
    });
    return kc;
  }

  /**
   * Stops and starts kube-apiserver (etcd keeps the data): open watches end, clients reconnect.
   * SIGTERM first; an API server still draining long-running requests after 5 s is killed.
   */
  async restartApiServer(): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, 'run', 'kube-apiserver.pid'), 'utf8'));
    const gone = () => {
      try {
        process.kill(pid, 0);
        // A zombie (not reaped yet) is gone too.
        return readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2] === 'Z';
      } catch {
        return true;
      }
    };
    process.kill(pid, 'SIGTERM');
    await waitFor(gone, { timeoutMs: 5_000, intervalMs: 100 }).catch(() => process.kill(pid, 'SIGKILL'));
    await waitFor(gone, { timeoutMs: 10_000, intervalMs: 100 });
    const up = await command('bash', [new URL('../../../scripts/kube/up.sh', import.meta.url).pathname]);
    if (up.code !== 0) throw new Error(`scripts/kube/up.sh failed: ${up.stderr}`);
  }
}
