import { expect } from 'chai';
import { createLogger, ProblemError, type EventLog, type Principal } from '@parley/common';
import { SqliteDocumentStore } from '@parley/common/testing';
import { Access } from '../domain/access.ts';
import { MessageStore } from '../domain/store.ts';
import { SEND_RETRY_AFTER_SEC, Sender } from './send.ts';
import { SendChecks } from './sendchecks.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const alice: Principal = {
  userId: 'alice',
  sessionId: 's',
  roles: [],
  token: 't',
  expiresAt: Date.now() + 60_000,
};

describe('Sender while the event log is down', () => {
  let docs: SqliteDocumentStore;
  let store: MessageStore;
  before(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    store = await MessageStore.open(docs);
    const at = new Date().toISOString();
    await store.conversations.insertOne({
      _id: 'd1',
      type: 'direct',
      directKey: 'alice:bob',
      createdBy: 'alice',
      createdAt: at,
      updatedAt: at,
    });
    for (const u of ['alice', 'bob'])
      await store.members.insertOne({
        _id: store.memberId('d1', u),
        conversationId: 'd1',
        userId: u,
        role: 'member',
        joinedAt: at,
        readSeq: 0,
        deliveredSeq: 0,
      });
  });
  after(() => docs.close());

  it('answers 503 UNAVAILABLE with Retry-After (not a hang, not a 500) when the produce fails', async () => {
    const down = {
      produce: () => Promise.reject(new Error('Kafka did not acknowledge a write within 10000 ms')),
    } as unknown as EventLog;
    const access = new Access(store);
    const sender = new Sender(
      store,
      access,
      new SendChecks(store, access, { ttlMs: 1000, maxEntries: 10 }, logger),
      down,
      { topicMessages: 'chat.messages', persistWaitMs: 1000, sendRatePerMinute: 60, sendBurst: 10 },
      logger,
    );
    let err: unknown;
    try {
      await sender.send(alice, 'd1', { clientMsgId: 'm1', body: 'hi' }, { waitPersisted: true });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ProblemError);
    const p = err as ProblemError;
    expect([p.status, p.code]).to.deep.equal([503, 'UNAVAILABLE']);
    expect(p.headers['retry-after']).to.equal(String(SEND_RETRY_AFTER_SEC));
    expect(p.detail).to.match(/same clientMsgId/);
  });
});
