import { expect } from 'chai';
import { createLogger, ProblemError, type EventLog } from '@parley/common';
import { SqliteDocumentStore } from '@parley/common/testing';
import { MessageStore } from '../domain/store.ts';
import { principal, seedDirect, senderFor } from '../testing/seed.ts';
import { SEND_RETRY_AFTER_SEC } from './send.ts';

const logger = createLogger({ level: 'silent', name: 'test' });
const alice = principal('alice');

describe('Sender: refusals before the ack', () => {
  let docs: SqliteDocumentStore;
  let store: MessageStore;
  before(async () => {
    docs = new SqliteDocumentStore({ path: ':memory:' });
    store = await MessageStore.open(docs);
    await seedDirect(store, 'd1', ['alice', 'bob']);
  });
  after(() => docs.close());
  const senderOn = (events: EventLog) => senderFor(store, events, logger);

  it('answers 503 UNAVAILABLE with Retry-After (not a hang, not a 500) when the produce fails', async () => {
    const down = {
      produce: () => Promise.reject(new Error('Kafka did not acknowledge a write within 10000 ms')),
    } as unknown as EventLog;
    const sender = senderOn(down);
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

  it('refuses a command the worker could not store before producing it (the shared rules, #21)', async () => {
    const produced: unknown[] = [];
    const log = {
      produce: async (_t: string, r: unknown[]) => void produced.push(...r),
    } as unknown as EventLog;
    const sender = senderOn(log);
    // Past the schemas (a caller that skipped them): the command check still refuses it.
    const err = await sender
      .send(alice, 'd1', { clientMsgId: 'lone', body: 'x\uDBFF' }, { waitPersisted: false })
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProblemError);
    expect([(err as ProblemError).code, (err as ProblemError).detail]).to.deep.equal([
      'VALIDATION_FAILED',
      'body: text must be well-formed Unicode: lone surrogate U+DBFF at index 1',
    ]);
    expect(produced).to.deep.equal([]);
  });
});
