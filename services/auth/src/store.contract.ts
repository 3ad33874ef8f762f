import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { DocumentStore } from '@parley/common';
import { AccountTakenError, AuthStore, type Session, type User } from './store.ts';

function user(over: Partial<User> = {}): User {
  const now = new Date().toISOString();
  return {
    _id: randomUUID(),
    username: `u_${randomUUID().slice(0, 8)}`,
    displayName: 'U',
    roles: ['user'],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    lastActiveAt: Date.now(),
    ...over,
  };
}

function session(userId: string, over: Partial<Session> = {}): Session {
  const now = new Date().toISOString();
  return {
    _id: randomUUID(),
    userId,
    device: { name: 'd', platform: 'p' },
    ip: '127.0.0.1',
    userAgent: 'ua',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: Date.now() + 60_000,
    refreshGen: 0,
    refreshHash: 'h',
    ...over,
  };
}

/** The auth store's cases, run against every document store adapter. */
export function authStoreContract(name: string, open: () => Promise<DocumentStore>): void {
  describe(`AuthStore contract: ${name}`, function () {
    this.timeout(20_000);
    let ds: DocumentStore;
    let store: AuthStore;
    before(async () => {
      ds = await open();
      store = await AuthStore.open(ds);
    });
    after(() => ds?.close());

    it('creates users and finds them by id, username, email, phone and GitHub id', async () => {
      const u = user({
        email: `${randomUUID()}@x.io`,
        phone: `+47${Date.now() % 1e8}`,
        githubId: randomUUID(),
      });
      await store.createUser(u);
      expect((await store.userById(u._id))?.username).to.equal(u.username);
      expect((await store.userByUsername(u.username.toUpperCase()))?._id).to.equal(u._id);
      expect((await store.userByEmail(u.email!.toUpperCase()))?._id).to.equal(u._id);
      expect((await store.userByPhone(u.phone!))?._id).to.equal(u._id);
      expect((await store.userByGithubId(u.githubId!))?._id).to.equal(u._id);
    });

    for (const field of ['username', 'email', 'phone', 'githubId'] as const) {
      it(`reports which field is taken: ${field}`, async () => {
        const value =
          field === 'phone' ? `+47${Math.floor(Math.random() * 1e8)}` : `v_${randomUUID().slice(0, 12)}`;
        await store.createUser(user({ [field]: value }));
        const err = await store.createUser(user({ [field]: value })).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(AccountTakenError);
        expect((err as AccountTakenError).field).to.equal(field);
      });
    }

    it('lets many users have no email, phone or GitHub id', async () => {
      for (let i = 0; i < 3; i++) await store.createUser(user());
    });

    it('refuses an update that takes another user’s email', async () => {
      const email = `${randomUUID()}@x.io`;
      await store.createUser(user({ email }));
      const other = user();
      await store.createUser(other);
      const err = await store.updateUser(other._id, { email }).catch((e: unknown) => e);
      expect((err as AccountTakenError).field).to.equal('email');
    });

    it('lists only active, unexpired sessions and revokes them', async () => {
      const u = user();
      await store.createUser(u);
      const a = session(u._id);
      const b = session(u._id, { createdAt: new Date(Date.now() + 1000).toISOString() });
      const expired = session(u._id, { expiresAt: Date.now() - 1 });
      for (const s of [a, b, expired]) await store.createSession(s);
      expect((await store.activeSessions(u._id)).map((s) => s._id)).to.deep.equal([b._id, a._id]);
      expect(await store.revokeSession(a._id, 'logout')).to.not.equal(null);
      expect(await store.revokeSession(a._id, 'again')).to.equal(null);
      expect((await store.activeSessions(u._id)).map((s) => s._id)).to.deep.equal([b._id]);
      const all = await store.revokeAllSessions(u._id, 'logout-all');
      expect(all.map((s) => s._id).sort()).to.deep.equal([b._id, expired._id].sort());
      expect(await store.activeSessions(u._id)).to.deep.equal([]);
    });

    it('lets exactly one concurrent caller claim a refresh generation', async () => {
      const sid = randomUUID();
      const wins = await Promise.all(Array.from({ length: 8 }, () => store.claimRefresh(sid, 3)));
      expect(wins.filter(Boolean)).to.have.length(1);
      expect(await store.claimRefresh(sid, 4)).to.equal(true);
    });

    it('lets exactly one concurrent caller claim a one-time secret (the admin bootstrap)', async () => {
      const id = `admin-bootstrap:${randomUUID()}`;
      const wins = await Promise.all(Array.from({ length: 8 }, () => store.claimOnce(id)));
      expect(wins.filter(Boolean)).to.have.length(1);
      expect(await store.claimOnce(id)).to.equal(false);
    });

    it('keeps pending emails and phones out of the unique indexes and out of lookups', async () => {
      const email = `${randomUUID()}@example.com`;
      const phone = `+4793${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
      const a = user({ pendingEmail: email, pendingPhone: phone });
      const b = user({ pendingEmail: email, pendingPhone: phone });
      await store.createUser(a);
      await store.createUser(b);
      expect(await store.userByEmail(email)).to.equal(null);
      expect(await store.userByPhone(phone)).to.equal(null);
      await store.updateUser(a._id, { phone }, ['pendingPhone']);
      expect((await store.userByPhone(phone))?._id).to.equal(a._id);
      const err = await store.updateUser(b._id, { phone }, ['pendingPhone']).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AccountTakenError);
      expect((err as AccountTakenError).field).to.equal('phone');
    });

    it('counts OTP attempts exactly under concurrency and consumes a code once', async () => {
      const id = randomUUID();
      await store.saveOtp({
        _id: id,
        phone: '+4700000000',
        codeHash: 'x',
        createdAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      });
      const counts = await Promise.all(
        Array.from({ length: 10 }, () => store.recordOtpAttempt(id, randomUUID())),
      );
      expect(Math.max(...counts)).to.equal(10);
      const uses = await Promise.all([store.consumeOtp(id), store.consumeOtp(id)]);
      expect(uses.filter(Boolean)).to.have.length(1);
    });

    it('returns the newest code for a phone and purges expired ones', async () => {
      const phone = `+47${Math.floor(Math.random() * 1e8)}`;
      const old = {
        _id: randomUUID(),
        phone,
        codeHash: 'a',
        createdAt: Date.now() - 10_000,
        expiresAt: Date.now() - 5000,
      };
      const fresh = {
        _id: randomUUID(),
        phone,
        codeHash: 'b',
        createdAt: Date.now(),
        expiresAt: Date.now() + 60_000,
      };
      await store.saveOtp(old);
      await store.saveOtp(fresh);
      expect((await store.latestOtp(phone))?._id).to.equal(fresh._id);
      expect(await store.purgeOtps(Date.now())).to.be.greaterThanOrEqual(1);
      expect((await store.latestOtp(phone))?._id).to.equal(fresh._id);
    });

    it('finds users inactive before a time, oldest first, skipping blocked ones', async () => {
      const t = Date.now() - 400 * 86_400_000 - Math.floor(Math.random() * 1000);
      const a = user({ lastActiveAt: t - 2 });
      const b = user({ lastActiveAt: t - 1 });
      const blocked = user({ lastActiveAt: t - 3, status: 'blocked' });
      for (const u of [a, b, blocked]) await store.createUser(u);
      const found = (await store.inactiveUsers(t, 10_000)).filter((u) =>
        [a._id, b._id, blocked._id].includes(u._id),
      );
      expect(found.map((u) => u._id)).to.deep.equal([a._id, b._id]);
    });
  });
}
