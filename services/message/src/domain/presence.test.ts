import { expect } from 'chai';
import type { Cache } from '@parley/common';
import { MemoryCache } from '@parley/common/testing';
import { encodeEntry, Presence } from './presence.ts';

const TTL = 90_000;

/** Two gateway processes sharing one cache, on a clock the test moves. */
function twoProcesses() {
  const clock = { t: 1_000_000 };
  const now = () => clock.t;
  const cache = new MemoryCache(now);
  const a = new Presence(cache, TTL, now, () => {}, 'p:a');
  const b = new Presence(cache, TTL, now, () => {}, 'p:b');
  return { clock, cache, a, b };
}

const sockets = (...ids: string[]) => ids.map((id) => ({ id }));

describe('presence over processes', () => {
  let env: ReturnType<typeof twoProcesses>;
  beforeEach(() => (env = twoProcesses()));
  afterEach(() => env.cache.close());

  it('keeps one entry per process, however many sockets the user holds there', async () => {
    const { cache, a, b } = env;
    for (let i = 0; i < 500; i++) await a.set('u1', `a${i}`, 'away');
    const second = await b.set('u1', 'b0', 'away');
    expect(second).to.deep.equal({ before: 'away', after: 'away', live: 501 });
    expect(await cache.hashGetAll('presence:u1')).to.deep.equal({
      'p:a': encodeEntry('away', 1_000_000 + TTL, 500),
      'p:b': encodeEntry('away', 1_000_000 + TTL),
    });
    expect(await a.view('u1')).to.deep.equal({ userId: 'u1', status: 'away' });
  });

  it('is online while any socket on any process is, and offline with last-seen once none is left', async () => {
    const { clock, a, b } = env;
    expect(await a.set('u1', 'a1', 'away')).to.include({ before: 'offline', after: 'away' });
    expect(await b.set('u1', 'b1', 'online')).to.include({ before: 'away', after: 'online' });
    expect(await a.set('u1', 'a2', 'online')).to.include({ before: 'online', after: 'online' });
    expect(await b.remove('u1', ['b1'])).to.deep.equal({ before: 'online', after: 'online' });
    expect(await a.set('u1', 'a2', 'away')).to.include({ before: 'online', after: 'away', live: 2 });
    clock.t += 5_000;
    expect(await a.remove('u1', ['a1', 'a2'])).to.deep.equal({
      before: 'away',
      after: 'offline',
      lastSeen: new Date(clock.t).toISOString(),
    });
    expect(await env.cache.hashGetAll('presence:u1')).to.deep.equal({});
    expect(await b.view('u1')).to.deep.equal({
      userId: 'u1',
      status: 'offline',
      lastSeen: new Date(clock.t).toISOString(),
    });
  });

  it('stops counting a crashed process at its entry’s expiry while the other one refreshes its own', async () => {
    const { clock, a, b } = env;
    await a.set('u1', 'a1', 'online');
    await b.set('u1', 'b1', 'away');
    // a crashes: it never refreshes again. b refreshes every third of the TTL.
    for (let i = 0; i < 4; i++) {
      clock.t += TTL / 3;
      await b.refresh(new Map([['u1', sockets('b1')]]));
    }
    expect(await b.view('u1')).to.deep.equal({ userId: 'u1', status: 'away' });
    expect(await b.set('u1', 'b2', 'away')).to.include({ before: 'away', live: 2 });
  });

  it('drops on refresh a socket the gateway never admitted once the TTL has passed, and keeps a pending one until then', async () => {
    const { clock, cache, a } = env;
    await a.set('u1', 'admitted', 'online');
    await a.set('u1', 'failed', 'online');
    clock.t += TTL / 3;
    await a.refresh(new Map([['u1', sockets('admitted')]]));
    expect((await a.set('u1', 'admitted', 'online')).live).to.equal(2);
    clock.t += TTL;
    await a.refresh(new Map([['u1', sockets('admitted')]]));
    expect(await cache.hashGetAll('presence:u1')).to.deep.equal({
      'p:a': encodeEntry('online', clock.t + TTL),
    });
    await a.refresh(new Map());
    clock.t += TTL + 1;
    await a.refresh(new Map());
    expect(await cache.hashGetAll('presence:u1')).to.deep.equal({});
  });

  it('leaves nothing behind when the cache refuses a write, and keeps the status it had', async () => {
    const { clock, cache } = env;
    let down = false;
    const flaky: Cache = Object.create(cache) as Cache;
    flaky.hashSet = (...args) => (down ? Promise.reject(new Error('cache down')) : cache.hashSet(...args));
    const p = new Presence(
      flaky,
      TTL,
      () => clock.t,
      () => {},
      'p:a',
    );
    await p.set('u1', 'kept', 'away');
    down = true;
    const refused = (id: string) => p.set('u1', id, 'online').catch((e: unknown) => String(e));
    expect(await refused('refused')).to.equal('Error: cache down');
    expect(await refused('kept')).to.equal('Error: cache down');
    down = false;
    await p.refresh(new Map([['u1', sockets('kept')]]));
    expect(await cache.hashGetAll('presence:u1')).to.deep.equal({
      'p:a': encodeEntry('away', clock.t + TTL),
    });
  });

  it('still counts the per-socket entries an older version writes (a rolling upgrade)', async () => {
    const { cache, a } = env;
    await cache.hashSet('presence:u1', 'old-conn-1', encodeEntry('away', 1_000_000 + TTL), TTL);
    await cache.hashSet('presence:u1', 'old-conn-2', encodeEntry('away', 1_000_000 + TTL), TTL);
    expect(await a.set('u1', 'a1', 'online')).to.deep.equal({ before: 'away', after: 'online', live: 3 });
    expect(await a.remove('u1', ['a1'])).to.deep.equal({ before: 'online', after: 'away' });
  });
});
