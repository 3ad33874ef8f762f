import { expect } from 'chai';
import {
  ConfigError,
  describeConfig,
  field,
  loadConfig,
  optionalField,
  parse,
  redactConfig,
} from './config.ts';
import { commonSettings } from './settings.ts';

const spec = {
  port: field(parse.int(1, 65535), { env: 'PORT', default: '8080', doc: 'port' }),
  kafka: { brokers: optionalField(parse.list(), { env: 'KAFKA_BROKERS', doc: 'brokers' }) },
  redis: { nodes: optionalField(parse.hostPorts(), { env: 'REDIS_NODES', doc: 'nodes' }) },
  mongo: { url: optionalField(parse.url(['mongodb']), { env: 'MONGO_URL', doc: 'url', secret: true }) },
  level: field(parse.oneOf(['info', 'debug']), { env: 'LOG_LEVEL', default: 'info', doc: 'level' }),
  debug: field(parse.bool(), { env: 'DEBUG_MODE', default: 'false', doc: 'debug' }),
  required: field(parse.string(), { env: 'NEEDED', doc: 'needed' }),
};

describe('config', () => {
  const base = { NEEDED: 'x' };

  it('applies defaults and leaves optional settings undefined', () => {
    const cfg = loadConfig(spec, base);
    expect(cfg.port).to.equal(8080);
    expect(cfg.kafka.brokers).to.equal(undefined);
    expect(cfg.debug).to.equal(false);
  });

  it('parses lists and host:port lists', () => {
    const cfg = loadConfig(spec, {
      ...base,
      KAFKA_BROKERS: 'a:9092, b:9092',
      REDIS_NODES: '127.0.0.1:7001,[::1]:7002',
    });
    expect(cfg.kafka.brokers).to.deep.equal(['a:9092', 'b:9092']);
    expect(cfg.redis.nodes).to.deep.equal([
      { host: '127.0.0.1', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
  });

  it('freezes the result', () => {
    const cfg = loadConfig(spec, base);
    expect(Object.isFrozen(cfg)).to.equal(true);
    expect(Object.isFrozen(cfg.kafka)).to.equal(true);
  });

  const bad: [Record<string, string>, string][] = [
    [{}, 'in required (NEEDED): is required'],
    [{ ...base, PORT: 'abc' }, 'in port (PORT): must be an integer (got "abc")'],
    [{ ...base, PORT: '70000' }, 'in port (PORT): must be between 1 and 65535 (got "70000")'],
    [{ ...base, LOG_LEVEL: 'loud' }, 'in level (LOG_LEVEL): must be one of info, debug (got "loud")'],
    [
      { ...base, REDIS_NODES: 'redis-0' },
      'in redis.nodes (REDIS_NODES): "redis-0" is not host:port (got "redis-0")',
    ],
    [
      { ...base, KAFKA_BROKERS: ' , ' },
      'in kafka.brokers (KAFKA_BROKERS): must list at least one item (got ",")',
    ],
    [
      { ...base, MONGO_URL: 'postgres://u:pw@h/db' },
      'in mongo.url (MONGO_URL): must be a URL with scheme mongodb',
    ],
    [{ ...base, DEBUG_MODE: 'maybe' }, 'in debug (DEBUG_MODE): must be true or false (got "maybe")'],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)} with "${message}"`, () => {
      expect(() => loadConfig(spec, env))
        .to.throw(ConfigError)
        .with.property('message', message);
    });
  }

  it('never echoes a secret value in an error', () => {
    expect(() => loadConfig(spec, { ...base, MONGO_URL: 'http://user:hunter2@h' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.does.not.include('hunter2');
  });

  it('masks secrets when the config is logged', () => {
    const cfg = loadConfig(spec, { ...base, MONGO_URL: 'mongodb://u:hunter2@h/db' });
    expect(JSON.stringify(redactConfig(spec, cfg))).to.not.include('hunter2');
    expect((redactConfig(spec, cfg) as { mongo: { url: string } }).mongo.url).to.equal('***');
  });

  it('documents every common setting with a doc string and a unique variable', () => {
    const rows = describeConfig(commonSettings);
    const envs = rows.map((r) => r.env);
    expect(new Set(envs).size).to.equal(envs.length);
    for (const r of rows) expect(r.doc, r.env).to.have.length.greaterThan(5);
    expect(envs).to.include.members([
      'PORT',
      'DATA_DIR',
      'MONGO_URL',
      'KAFKA_BROKERS',
      'REDIS_NODES',
      'LOG_LEVEL',
    ]);
  });

  it('accepts the defaults of the common settings', () => {
    const cfg = loadConfig(commonSettings, {});
    expect(cfg.http.port).to.equal(8080);
    expect(cfg.dataDir).to.equal('./data');
  });

  it('bounds how long a client may take to send headers (10 s) and a whole request (30 s)', () => {
    const cfg = loadConfig(commonSettings, {});
    expect(cfg.http.headersTimeoutMs).to.equal(10_000);
    expect(cfg.http.requestTimeoutMs).to.equal(30_000);
    expect(loadConfig(commonSettings, { HTTP_HEADERS_TIMEOUT_MS: '5000' }).http.headersTimeoutMs).to.equal(
      5000,
    );
    expect(() => loadConfig(commonSettings, { HTTP_HEADERS_TIMEOUT_MS: '0' })).to.throw(
      'in http.headersTimeoutMs (HTTP_HEADERS_TIMEOUT_MS): must be between 1000 and 120000 (got "0")',
    );
    expect(() => loadConfig(commonSettings, { HTTP_REQUEST_TIMEOUT_MS: 'soon' })).to.throw(
      'in http.requestTimeoutMs (HTTP_REQUEST_TIMEOUT_MS): must be an integer (got "soon")',
    );
  });
});

describe('MongoDB connection strings', () => {
  const table: [string, boolean][] = [
    ['mongodb://127.0.0.1:27017/parley', true],
    ['mongodb://u:p%40ss@mongo-0.mongo:27017,mongo-1.mongo:27017,mongo-2.mongo/parley?replicaSet=rs0', true],
    ['mongodb://[::1]:27017/db', true],
    ['mongodb+srv://user:pw@cluster.example.com/db?retryWrites=true', true],
    ['mongodb+srv://a.example.com,b.example.com/db', false],
    ['mongodb://a:27017,,b/db', false],
    ['mongodb://a:port/db', false],
    ['postgres://u:pw@h/db', false],
    ['mongodb://', false],
  ];
  for (const [value, ok] of table)
    it(`${ok ? 'accepts' : 'refuses'} ${value}`, () => {
      expect(parse.mongoUrl().safeParse(value).success).to.equal(ok);
    });
});
