import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { waitFor } from '../retry.ts';
import type { Cache } from './port.ts';

/** The cases every Cache adapter must pass, run against each implementation. */
export function cacheContract(name: string, open: () => Promise<Cache>): void {
  describe(`Cache contract: ${name}`, function () {
    this.timeout(15_000);
    let cache: Cache;
    // Many distinct keys land on different cluster slots, so each case crosses shards.
    const key = () => `test:${randomUUID()}`;

    before(async () => {
      cache = await open();
    });
    after(async () => {
      await cache?.close();
    });

    it('sets, gets and deletes values on keys spread across slots', async () => {
      const keys = Array.from({ length: 20 }, key);
      for (const [i, k] of keys.entries()) expect(await cache.set(k, `v${i}`)).to.equal(true);
      for (const [i, k] of keys.entries()) expect(await cache.get(k)).to.equal(`v${i}`);
      expect(await cache.del(keys[0]!)).to.equal(true);
      expect(await cache.del(keys[0]!)).to.equal(false);
      expect(await cache.get(keys[0]!)).to.equal(null);
    });

    it('expires keys after their time to live', async () => {
      const k = key();
      await cache.set(k, 'soon', { ttlMs: 150 });
      const ttl = await cache.ttlMs(k);
      expect(ttl).to.be.a('number').within(1, 150);
      await waitFor(async () => (await cache.get(k)) === null, { timeoutMs: 3000, what: 'expiry' });
      expect(await cache.ttlMs(k)).to.equal(null);
    });

    it('set only-if-absent acts as a lock', async () => {
      const k = key();
      expect(await cache.set(k, 'owner-1', { onlyIfAbsent: true, ttlMs: 5000 })).to.equal(true);
      expect(await cache.set(k, 'owner-2', { onlyIfAbsent: true, ttlMs: 5000 })).to.equal(false);
      expect(await cache.deleteIfEquals(k, 'owner-2')).to.equal(false);
      expect(await cache.get(k)).to.equal('owner-1');
      expect(await cache.deleteIfEquals(k, 'owner-1')).to.equal(true);
      expect(await cache.get(k)).to.equal(null);
    });

    it('counts in a fixed window whose expiry is set on the first hit', async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 10 }, () => cache.incr(k, 1, 200)));
      expect([...counts].sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await cache.ttlMs(k))
        .to.be.a('number')
        .within(1, 200);
      await waitFor(async () => (await cache.get(k)) === null, { timeoutMs: 3000, what: 'window reset' });
      expect(await cache.incr(k, 2, 200)).to.equal(2);
    });

    it('lets a burst through a token bucket at once, then refuses with the wait, then refills', async () => {
      const k = key();
      // Ten concurrent takes from a bucket of 4 (one token per 300 ms): exactly 4 pass.
      const takes = await Promise.all(Array.from({ length: 10 }, () => cache.takeToken(k, 300, 4)));
      expect(takes.filter((t) => t.allowed)).to.have.length(4);
      const refused = takes.filter((t) => !t.allowed);
      for (const t of refused) expect(t.retryAfterMs).to.be.within(1, 300);
      await waitFor(async () => (await cache.takeToken(k, 300, 4)).allowed, {
        timeoutMs: 3000,
        intervalMs: 50,
        what: 'one token refilled',
      });
    });

    it('takes tokens at rates that are not whole milliseconds (a million a minute)', async () => {
      const k = key();
      const takes = await Promise.all(
        Array.from({ length: 20 }, () => cache.takeToken(k, 60_000 / 1_000_000, 10)),
      );
      expect(takes.filter((t) => t.allowed).length).to.be.within(10, 20);
    });

    it('keeps hash fields under one key, removes them, and expires the whole hash', async () => {
      const k = key();
      expect(await cache.hashGetAll(k)).to.deep.equal({});
      await cache.hashSet(k, 'conn-1', 'online|1', 5000);
      await cache.hashSet(k, 'conn-2', 'away|2', 5000);
      await cache.hashSet(k, 'conn-1', 'away|3', 5000);
      expect(await cache.hashGetAll(k)).to.deep.equal({ 'conn-1': 'away|3', 'conn-2': 'away|2' });
      expect(await cache.hashDelete(k, 'conn-2', 'missing')).to.equal(1);
      expect(await cache.hashGetAll(k)).to.deep.equal({ 'conn-1': 'away|3' });
      expect(await cache.hashDelete(k)).to.equal(0);
      // Each set renews the time to live of the whole hash.
      await cache.hashSet(k, 'conn-3', 'online|4', 150);
      expect(await cache.ttlMs(k))
        .to.be.a('number')
        .within(1, 150);
      await waitFor(async () => Object.keys(await cache.hashGetAll(k)).length === 0, {
        timeoutMs: 3000,
        what: 'hash expiry',
      });
      expect(await cache.hashDelete(k, 'conn-1')).to.equal(0);
    });

    it('publishes to subscribers of a channel on any shard, and stops after unsubscribe', async () => {
      const channels = Array.from({ length: 6 }, () => `ch:${randomUUID()}`);
      const got = new Map<string, string[]>();
      const unsubs = await Promise.all(
        channels.map((c) => cache.subscribe(c, (m) => got.set(c, [...(got.get(c) ?? []), m]))),
      );
      for (const c of channels) await cache.publish(c, `hello ${c}`);
      await waitFor(() => channels.every((c) => got.get(c)?.length === 1), {
        timeoutMs: 5000,
        what: 'messages',
      });
      for (const c of channels) expect(got.get(c)).to.deep.equal([`hello ${c}`]);
      await Promise.all(unsubs.map((u) => u()));
      // A new subscriber of the channel receives 'after'; the removed handler, dispatched the same
      // way, must not have.
      const still: string[] = [];
      const unsubStill = await cache.subscribe(channels[0]!, (m) => still.push(m));
      await cache.publish(channels[0]!, 'after');
      await waitFor(() => still.includes('after'), {
        timeoutMs: 5000,
        what: "'after' at the new subscriber",
      });
      expect(got.get(channels[0]!)).to.deep.equal([`hello ${channels[0]}`]);
      await unsubStill();
    });

    it('delivers to every subscriber of a channel, in publish order', async () => {
      const c = `ch:${randomUUID()}`;
      const a: string[] = [];
      const b: string[] = [];
      const ua = await cache.subscribe(c, (m) => a.push(m));
      const ub = await cache.subscribe(c, (m) => b.push(m));
      for (let i = 0; i < 50; i++) await cache.publish(c, String(i));
      await waitFor(() => a.length === 50 && b.length === 50, { timeoutMs: 5000, what: '50 each' });
      expect(a).to.deep.equal(Array.from({ length: 50 }, (_, i) => String(i)));
      expect(b).to.deep.equal(a);
      await ua();
      await ub();
    });

    it('answers ping (resolves, with nothing)', async () => {
      expect(await cache.ping()).to.equal(undefined);
    });
  });
}
