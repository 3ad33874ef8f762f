import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';

const SCRIPT = new URL('../../scripts/checks/chart-version.sh', import.meta.url).pathname;
const RULE = 'every change to charts/parley needs a new chart version';

/** A scratch repository holding a minimal charts/parley, committed at version 0.1.0. */
class ScratchRepo {
  readonly dir = mkdtempSync(join(tmpdir(), 'chart-version-'));

  constructor() {
    mkdirSync(join(this.dir, 'charts/parley/templates'), { recursive: true });
    this.git('init', '-q', '-b', 'main');
    this.chart('0.1.0');
    this.write('templates/service.yaml', 'kind: Service\n');
    this.commit('chart 0.1.0');
  }

  chart(version: string): void {
    this.write('Chart.yaml', `apiVersion: v2\nname: parley\nversion: ${version}\nappVersion: 0.1.0\n`);
  }

  write(file: string, text: string): void {
    writeFileSync(join(this.dir, 'charts/parley', file), text);
  }

  commit(message: string): void {
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
  }

  git(...args: string[]): void {
    const r = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  }

  check(dir = this.dir): { status: number | null; output: string } {
    const r = spawnSync('bash', [SCRIPT, dir], { encoding: 'utf8' });
    return { status: r.status, output: r.stdout + r.stderr };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('scripts/checks/chart-version.sh', () => {
  let repo: ScratchRepo;
  beforeEach(() => (repo = new ScratchRepo()));
  afterEach(() => repo.remove());

  it('passes when the chart is unchanged since its version was set', () => {
    const { status, output } = repo.check();
    expect(status, output).to.equal(0);
    expect(output).to.include('unchanged since');
  });

  it('fails on a committed template change without a version bump, naming the rule and the file', () => {
    repo.write('templates/service.yaml', 'kind: Service\nspec: {}\n');
    repo.commit('change the Service');
    const { status, output } = repo.check();
    expect(status, output).to.equal(1);
    expect(output).to.include(RULE);
    expect(output).to.include('charts/parley/templates/service.yaml');
  });

  it('fails on an uncommitted change and on a new untracked template', () => {
    repo.write('templates/service.yaml', 'kind: Service\nspec: {}\n');
    expect(repo.check().status).to.equal(1);
    repo.git('checkout', '--', '.');
    repo.write('templates/configmap.yaml', 'kind: ConfigMap\n');
    const { status, output } = repo.check();
    expect(status, output).to.equal(1);
    expect(output).to.include('charts/parley/templates/configmap.yaml');
  });

  it('passes once the change comes with a bump, committed or not', () => {
    repo.write('templates/service.yaml', 'kind: Service\nspec: {}\n');
    repo.commit('change the Service');
    repo.chart('0.1.1');
    expect(repo.check().output).to.include('0.1.0 -> 0.1.1 (not committed yet)');
    repo.commit('chart 0.1.1');
    const { status, output } = repo.check();
    expect(status, output).to.equal(0);
  });

  it('fails when the version goes down or is not semver', () => {
    repo.chart('0.0.9');
    const lower = repo.check();
    expect(lower.status, lower.output).to.equal(1);
    expect(lower.output).to.include('lower than 0.1.0');
    repo.chart('1.0');
    const { status, output } = repo.check();
    expect(status, output).to.equal(1);
    expect(output).to.include('is not semver');
  });

  it('skips, saying why, in a shallow clone', () => {
    repo.write('templates/service.yaml', 'kind: Service\nspec: {}\n');
    repo.commit('change the Service');
    const clone = `${repo.dir}-shallow`;
    repo.git('clone', '-q', '--depth', '1', `file://${repo.dir}`, clone);
    try {
      const { status, output } = repo.check(clone);
      expect(status, output).to.equal(0);
      expect(output).to.include('skipped: shallow clone');
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
