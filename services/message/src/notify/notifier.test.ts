import { expect } from 'chai';
import client from 'prom-client';
import { createLogger } from '@parley/common';
import { encodeEntry } from '../domain/presence.ts';
import { NotifyMetrics } from './metrics.ts';
import { Notifier } from './notifier.ts';

/** A dependency the notifier must not touch: any use of it throws. */
const untouchable = <T>(what: string): T =>
  new Proxy({} as object, {
    get: (_t, prop) => {
      throw new Error(`${what}.${String(prop)} was used`);
    },
  }) as T;

describe('Notifier, everyone else online', () => {
  const now = 1_700_000_000_000;
  const notifierWith = (onlineUsers: readonly string[]) => {
    const registry = new client.Registry();
    const metrics = new NotifyMetrics(registry);
    const notifier = new Notifier({
      store: untouchable('store'),
      messages: untouchable('messages'),
      events: untouchable('events'),
      deliverer: untouchable('deliverer'),
      presence: {
        entries: async (u: string): Promise<Record<string, string>> =>
          onlineUsers.includes(u) ? { s1: encodeEntry('online', now + 60_000) } : {},
      },
      opts: { topicDlq: 'dlq', maxAttempts: 3, collapseMs: 60_000 },
      logger: createLogger({ level: 'silent', name: 'test' }),
      metrics,
      now: () => now,
    });
    const decisions = async () =>
      Object.fromEntries(
        (await metrics.decisions.get()).values.map((v) => [v.labels.outcome as string, v.value]),
      );
    return { notifier, decisions };
  };
  const m = { id: 'm1', seq: 1, senderId: 'alice', body: 'hi' };

  it('reads no store and counts each member as decide() would: the sender, then the online', async () => {
    const { notifier, decisions } = notifierWith(['bob', 'carol']);
    await notifier.onMessage('c1', ['alice', 'bob', 'carol'], m);
    expect(await decisions()).to.deep.equal({ notify: 0, sender: 1, online: 2, blocked: 0, muted: 0 });
  });

  it('still reads the store for a member who is offline', async () => {
    const { notifier } = notifierWith(['bob']);
    const err = await notifier.onMessage('c1', ['alice', 'bob', 'carol'], m).catch((e: unknown) => e);
    expect((err as Error).message).to.match(/was used$/);
  });
});
