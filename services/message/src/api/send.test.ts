import { expect } from 'chai';
import { createLogger, ProblemError, waitFor, type EventLog } from '@parley/common';
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

  it('in embedded mode tells the caller a send holds its place once handed to the persister, before it is stored', async () => {
    const order: string[] = [];
    let stored!: () => void;
    const direct = {
      attached: true,
      submit: () => {
        order.push('submitted');
        return new Promise<void>((resolve) => (stored = resolve));
      },
    };
    const sender = senderFor(store, {} as EventLog, logger, direct);
    const sent = sender.send(
      alice,
      'd1',
      { clientMsgId: 'q1', body: 'hi' },
      { waitPersisted: false, skipStoredCheck: true, onQueued: () => order.push('queued') },
    );
    await waitFor(() => order.length === 2 || null, { what: 'queued' });
    expect(order).to.deep.equal(['submitted', 'queued']);
    let settled = false;
    void sent.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled, 'the send itself waits for the store').to.equal(false);
    stored();
    expect((await sent).status).to.equal('accepted');

    // A refused send never holds a place.
    const refused: string[] = [];
    const err = await sender
      .send(
        alice,
        'd1',
        { clientMsgId: 'q2', body: 'x\uDBFF' },
        { waitPersisted: false, onQueued: () => refused.push('queued') },
      )
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ProblemError);
    expect(refused).to.deep.equal([]);
  });
});
