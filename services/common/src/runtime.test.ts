import { expect } from 'chai';
import { Writable } from 'node:stream';
import { loadConfig } from './config.ts';
import { selectAdapters } from './dependencies.ts';
import { Health } from './health.ts';
import { createLogger } from './logger.ts';
import { backoffDelay } from './retry.ts';
import { commonSettings } from './settings.ts';
import { Shutdown } from './shutdown.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, logger: createLogger({ level: 'debug', name: 't' }, stream) };
}

describe('adapter selection', () => {
  const cases: [Record<string, string>, Record<string, string>][] = [
    [{}, { store: 'sqlite', events: 'embedded', cachePubSub: 'memory', sms: 'console' }],
    [
      {
        MONGO_URL: 'mongodb://h/db',
        KAFKA_BROKERS: 'k:9092',
        REDIS_NODES: 'r:7001',
        TWILIO_ACCOUNT_SID: 'AC1',
      },
      { store: 'mongo', events: 'kafka', cachePubSub: 'redis', sms: 'twilio' },
    ],
    [
      { KAFKA_BROKERS: 'k:9092' },
      { store: 'sqlite', events: 'kafka', cachePubSub: 'memory', sms: 'console' },
    ],
  ];
  for (const [env, want] of cases)
    it(`picks ${JSON.stringify(want)} for ${JSON.stringify(env)}`, () => {
      expect(selectAdapters(loadConfig(commonSettings, env))).to.deep.equal(want);
    });
});

describe('backoff', () => {
  const p = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 };
  const cases: [number, number][] = [
    [0, 100],
    [1, 200],
    [3, 800],
    [4, 1000],
    [30, 1000],
  ];
  for (const [attempt, want] of cases)
    it(`waits ${want} ms before attempt ${attempt}`, () => expect(backoffDelay(attempt, p)).to.equal(want));

  it('keeps jitter within its band', () => {
    const j = { ...p, jitter: 0.2 };
    expect(backoffDelay(0, j, () => 0)).to.equal(80);
    expect(backoffDelay(0, j, () => 1)).to.equal(120);
  });
});

describe('health', () => {
  it('logs once per state change, not once per failed attempt', () => {
    const { lines, logger } = capture();
    const h = new Health(logger);
    h.register('kafka');
    for (let i = 0; i < 50; i++) h.down('kafka', new Error('ECONNREFUSED'));
    h.up('kafka');
    h.up('kafka');
    h.down('kafka', new Error('gone'));
    const about = lines.filter((l) => l.dependency === 'kafka').map((l) => l.msg);
    expect(about).to.deep.equal(['kafka is down', 'kafka is up', 'kafka is down']);
  });
});

describe('shutdown', () => {
  it('runs steps in order, keeps going after a failing step, and reports success', async () => {
    const { logger } = capture();
    const s = new Shutdown(logger, 1000);
    const order: string[] = [];
    s.add('stop accepting', () => void order.push('stop'));
    s.add('broken', () => {
      throw new Error('x');
    });
    s.add('close adapters', async () => void order.push('close'));
    expect(await s.run('SIGTERM')).to.equal(true);
    expect(order).to.deep.equal(['stop', 'close']);
  });

  it('gives up at the deadline and reports failure', async () => {
    const { lines, logger } = capture();
    const s = new Shutdown(logger, 50);
    s.add('hangs', () => new Promise(() => {}));
    const started = Date.now();
    expect(await s.run('SIGTERM')).to.equal(false);
    expect(Date.now() - started).to.be.lessThan(1000);
    expect(lines.some((l) => l.msg === 'shutdown deadline passed; exiting anyway')).to.equal(true);
  });

  it('is idempotent when signalled twice', async () => {
    const { logger } = capture();
    const s = new Shutdown(logger, 1000);
    let runs = 0;
    s.add('once', () => void runs++);
    await Promise.all([s.run('SIGTERM'), s.run('SIGINT')]);
    expect(runs).to.equal(1);
  });
});
