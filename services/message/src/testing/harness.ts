import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModule, authSettings, generateSigningJwk } from '@parley/auth';
import type { Infer, Running, ServiceModule } from '@parley/common';
import { runService } from '@parley/common/service';
import { OpenApiChecker } from '@parley/common/testing';
import { messageSettings } from '../config.ts';
import { mediaModule } from '../media/module.ts';
import { messageApiAndWorkerModules } from '../module.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export interface Res {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
  json: () => Json;
}

export const PASSWORD = 'a long and unusual passphrase';
export const uname = () => `m_${randomBytes(5).toString('hex')}`;
const ip = () =>
  `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

const spec = (() => {
  const { role: _r, ...m } = messageSettings;
  return { ...authSettings, ...m };
})();
export type Cfg = Infer<typeof spec>;

/**
 * One embedded Parley (auth + message api + worker) for the message service's REST cases, on the
 * adapters `stackEnv` selects, with helpers that check every response against /v1/openapi.json.
 */
export class MessageHarness {
  running!: Running;
  env!: Record<string, string>;
  private dir = '';
  private checker!: OpenApiChecker;

  constructor(
    private readonly stackEnv: () => Record<string, string>,
    /** More modules in the same process (the notifier, with channels at local servers). */
    private readonly extraModules: () => ServiceModule<Cfg>[] = () => [],
  ) {}

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), 'parley-msg-'));
    this.env = {
      PORT: '0',
      MANAGEMENT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: this.dir,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      JWT_SIGNING_KEYS: JSON.stringify([await generateSigningJwk('k1')]),
      REDIS_KEY_PREFIX: `parley-test-${randomBytes(4).toString('hex')}:`,
      GROUP_MEMBER_CAP: '4',
      // Each run uses its own topics so a shared Kafka never replays another run's records.
      TOPIC_CHAT_MESSAGES: `t-${randomBytes(3).toString('hex')}.chat.messages`,
      TOPIC_CHAT_EVENTS: `t-${randomBytes(3).toString('hex')}.chat.events`,
      TOPIC_CHAT_DLQ: `t-${randomBytes(3).toString('hex')}.chat.messages.dlq`,
      CHAT_TOPIC_PARTITIONS: '4',
      WORKER_GROUP_ID: `t-${randomBytes(3).toString('hex')}.message-worker`,
      RATE_LIMIT_PER_MINUTE: '10000',
      SEND_RATE_PER_MINUTE: '10000',
      ...this.stackEnv(),
    };
    this.running = await this.boot();
    this.checker = new OpenApiChecker(
      (await this.running.inject({ method: 'GET', url: '/v1/openapi.json' })).json(),
    );
  }

  async stop(): Promise<void> {
    await this.running?.stop('test');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Another process on the same stores and topics, with some settings changed. */
  boot = async (extra: Record<string, string> = {}): Promise<Running> => {
    const r = await runService({
      name: 'parley',
      spec,
      env: { ...this.env, ...extra },
      modules: () => [
        authModule<Cfg>(),
        // As in embedded mode: over the embedded log, sends reach the worker without the log.
        ...messageApiAndWorkerModules<Cfg>(),
        mediaModule<Cfg>(),
        ...this.extraModules(),
      ],
    });
    await r.ready;
    return r;
  };

  /** One request from a random client address, checked against the OpenAPI document. */
  call = async (
    method: string,
    route: string,
    opts: {
      body?: unknown;
      token?: string;
      params?: Record<string, string>;
      query?: string;
      on?: Running;
    } = {},
  ): Promise<Res> => {
    let url = route;
    for (const [k, v] of Object.entries(opts.params ?? {})) url = url.replace(`:${k}`, encodeURIComponent(v));
    const res = await (opts.on ?? this.running).inject({
      method: method as 'GET',
      url: url + (opts.query ? `?${opts.query}` : ''),
      remoteAddress: ip(),
      headers: {
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
        ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}),
    });
    if (!opts.on) this.checker.check(method, route, res);
    return res as unknown as Res;
  };

  user = async () => {
    const username = uname();
    const res = await this.call('POST', '/v1/auth/register', { body: { username, password: PASSWORD } });
    expect(res.statusCode, res.body).to.equal(201);
    const b = res.json();
    return { username, id: b.user.id as string, token: b.tokens.accessToken as string };
  };

  direct = async (a: { token: string }, b: { username: string }) => {
    const res = await this.call('POST', '/v1/conversations', {
      token: a.token,
      body: { type: 'direct', members: [b.username] },
    });
    expect([200, 201]).to.include(res.statusCode);
    return res.json().id as string;
  };

  send = async (token: string, conv: string, body: Record<string, unknown>, wait = true) =>
    this.call('POST', '/v1/conversations/:id/messages', {
      token,
      params: { id: conv },
      body,
      ...(wait ? { query: 'wait=persisted' } : {}),
    });
}
