import { expect } from 'chai';
import { createLogger, ProblemError, type EventLog } from '@parley/common';
import { SqliteDocumentStore } from '@parley/common/testing';
import { Access } from '../domain/access.ts';
import { MessageStore } from '../domain/store.ts';
import { principal, seedDirect } from '../testing/seed.ts';
import { SEND_RETRY_AFTER_SEC, Sender } from './send.ts';
import { SendChecks } from './sendchecks.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const alice = principal('alice');

describe('Sender while the event log is down', () => {
  let docs: SqliteDocumentStore;
  let store: MessageStore;
  before(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    store = await MessageStore.open(docs);
    await seedDirect(store, 'd1', ['alice', 'bob']);
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
