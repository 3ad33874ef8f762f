import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSigningJwk } from '@parley/auth';
import type { Running } from '@parley/common';
import { TestSocket, wsUrl } from '@parley/common/testing';
import type { JWK } from 'jose';
import { runStandalone } from './app.ts';
import { restClient, SocketPool, type User } from './testkit.ts';

/**
 * One embedded Parley for a gateway suite, with tight WebSocket limits, three users and a direct
 * chat between alice and bob. Registers the suite's hooks; the fields are set once `before` ran.
 */
export interface GatewayFixture extends ReturnType<typeof restClient> {
  running: Running;
  dir: string;
  base: string;
  jwk: JWK;
  alice: User;
  bob: User;
  carol: User;
  /** alice and bob's direct conversation. */
  direct: string;
  pool: SocketPool;
  connect(u: User): Promise<TestSocket>;
  /** A socket with the given subprotocols and no automatic auth. */
  raw(protocols?: string[]): TestSocket;
}

export function gatewayFixture(): GatewayFixture {
  const f: GatewayFixture = {
    running: undefined as unknown as Running,
    dir: '',
    base: '',
    jwk: undefined as unknown as JWK,
    alice: undefined as unknown as User,
    bob: undefined as unknown as User,
    carol: undefined as unknown as User,
    direct: '',
    ...restClient(() => f.base),
    pool: new SocketPool(() => f.base),
    connect: (u: User) => f.pool.connect(u),
    raw: (protocols?: string[]) => {
      const s = new TestSocket(wsUrl(f.base), protocols);
      f.pool.sockets.push(s);
      return s;
    },
  };

  before(async () => {
    f.dir = mkdtempSync(join(tmpdir(), 'parley-gw-'));
    f.jwk = await generateSigningJwk('test-key');
    f.running = await runStandalone({
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: f.dir,
      LOG_LEVEL: 'silent',
      JWT_SIGNING_KEYS: JSON.stringify([f.jwk]),
      ACCESS_TOKEN_TTL_SECONDS: '30',
      WS_AUTH_TIMEOUT_MS: '400',
      WS_MAX_FRAME_BYTES: '32768',
      WS_FRAMES_PER_SECOND: '20',
      WS_FRAME_BURST: '40',
      WS_MAX_CONNECTIONS_PER_USER: '3',
      WS_TYPING_THROTTLE_MS: '60000',
      WS_DRAIN_MS: '300',
      RATE_LIMIT_PER_MINUTE: '100000',
      SEND_RATE_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_15MIN: '1000',
    });
    await f.running.ready;
    f.base = f.running.url;
    [f.alice, f.bob, f.carol] = (await Promise.all(['alice', 'bob', 'carol'].map(f.register))) as [
      User,
      User,
      User,
    ];
    f.direct = (
      await f.call('POST', '/v1/conversations', f.alice.token, { type: 'direct', members: ['bob'] })
    ).body.id;
  });
  afterEach(() => f.pool.closeAll());
  after(async () => {
    await f.running?.stop('test');
    rmSync(f.dir, { recursive: true, force: true });
  });
  return f;
}
