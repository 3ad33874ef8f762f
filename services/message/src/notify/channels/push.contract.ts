import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { Outgoing, PushChannel } from './port.ts';

/** What a push contract run needs of one provider's local server. */
export interface PushRig<T> {
  channel: PushChannel<T>;
  /** A fresh, valid subscription (a device). */
  target(): T;
  /** Makes the provider answer "unsubscribed" for this target (uninstalled app, revoked permission). */
  unsubscribe(target: T): void;
  /** Makes the next send fail the way a provider outage does. */
  failNext(): void;
  /** The payloads the target received, decoded as the device sees them. */
  received(target: T): Promise<{ title: string; body: string; conversationId: string }[]>;
}

export const outgoing = (over: Partial<Outgoing> = {}): Outgoing => ({
  idempotencyKey: randomUUID(),
  collapseKey: `conv:${randomUUID()}`,
  title: 'Alice',
  body: 'hello there',
  conversationId: randomUUID(),
  count: 1,
  ...over,
});

/** The same cases against every push adapter: Web Push and FCM. */
export function pushChannelContract<T>(name: string, rig: () => PushRig<T>): void {
  describe(`push channel contract: ${name}`, () => {
    it('delivers a notification the device can read', async () => {
      const r = rig();
      const t = r.target();
      const n = outgoing();
      expect(await r.channel.send(t, n)).to.include({ ok: true });
      const got = await r.received(t);
      expect(got.map((g) => [g.title, g.body, g.conversationId])).to.deep.equal([
        [n.title, n.body, n.conversationId],
      ]);
    });

    it('reports an unsubscribed device as gone (the subscription is then removed)', async () => {
      const r = rig();
      const t = r.target();
      r.unsubscribe(t);
      const res = await r.channel.send(t, outgoing());
      expect(res).to.include({ ok: false, kind: 'gone' });
    });

    it('refuses an oversized payload with a clear error, and the next send still goes', async () => {
      const r = rig();
      const t = r.target();
      const res = await r.channel.send(t, outgoing({ body: 'x'.repeat(5000) }));
      expect(res).to.deep.include({ ok: false, kind: 'rejected' });
      expect((res as { error: string }).error).to.match(/^payload too large: \d+ bytes \(limit 3993\)$/);
      expect(await r.channel.send(t, outgoing())).to.include({ ok: true });
      expect(await r.received(t)).to.have.length(1);
    });

    it('reports a provider outage as retryable', async () => {
      const r = rig();
      const t = r.target();
      r.failNext();
      expect(await r.channel.send(t, outgoing())).to.include({ ok: false, kind: 'retry' });
      expect(await r.channel.send(t, outgoing())).to.include({ ok: true });
    });
  });
}
