import type { EventLog, Logger, Principal, TopicSpec } from '@parley/common';
import { EmbeddedEventLog, MemoryCache, SqliteDocumentStore } from '@parley/common/testing';
import { Sender } from '../api/send.ts';
import { SendChecks } from '../api/sendchecks.ts';
import { Access } from '../domain/access.ts';
import { messageIdFor, type DirectSink, type SendCommand } from '../domain/envelopes.ts';
import { MessageStore } from '../domain/store.ts';

/** A principal for unit tests that call the api classes directly. */
export function principal(userId: string): Principal {
  return { userId, sessionId: `s-${userId}`, roles: [], token: 't', expiresAt: Date.now() + 60_000 };
}

/** A direct conversation `id` between two users, written straight to the store. */
export async function seedDirect(store: MessageStore, id: string, [a, b]: [string, string]): Promise<void> {
  const at = new Date().toISOString();
  await store.conversations.insertOne({
    _id: id,
    type: 'direct',
    directKey: [a, b].sort().join(':'),
    createdBy: a,
    createdAt: at,
    updatedAt: at,
  });
  for (const u of [a, b])
    await store.members.insertOne({
      _id: store.memberId(id, u),
      conversationId: id,
      userId: u,
      role: 'member',
      joinedAt: at,
      readSeq: 0,
      deliveredSeq: 0,
    });
}

/** The API's write path on `store`, producing to `events`, with no send limit to speak of. */
export function senderFor(
  store: MessageStore,
  events: EventLog,
  logger: Logger,
  direct?: DirectSink,
): Sender {
  const access = new Access(store);
  return new Sender(
    store,
    access,
    new SendChecks(store, access, { ttlMs: 60_000, maxEntries: 100 }, logger),
    events,
    {
      topicMessages: 'chat.messages',
      persistWaitMs: 1000,
      sendRatePerMinute: 1e6,
      sendBurst: 1e6,
      direct,
    },
    logger,
  );
}

/** A valid send command from `sender`, as the API produces it, as JSON. */
export function sendCommandJson(
  conversationId: string,
  clientMsgId: string,
  acceptedAt = Date.now(),
  senderId = 'sender',
): string {
  const c: SendCommand = {
    type: 'message.send',
    version: 1,
    id: messageIdFor(conversationId, senderId, clientMsgId),
    conversationId,
    senderId,
    clientMsgId,
    body: `body of ${clientMsgId}`,
    acceptedAt,
  };
  return JSON.stringify(c);
}

/** What the worker's unit tests run on: SQLite in memory, the embedded log on it, a memory cache. */
export interface EmbeddedWorld {
  docs: SqliteDocumentStore;
  events: EmbeddedEventLog;
  cache: MemoryCache;
  store: MessageStore;
  close(): Promise<void>;
}

/** Opens an EmbeddedWorld with `topics` created. */
export async function openEmbeddedWorld(topics: readonly TopicSpec[]): Promise<EmbeddedWorld> {
  const docs = new SqliteDocumentStore({ path: ':memory:' });
  const events = new EmbeddedEventLog({ db: docs.handle });
  const cache = new MemoryCache();
  const store = await MessageStore.open(docs);
  await events.ensureTopics(topics);
  return {
    docs,
    events,
    cache,
    store,
    close: async () => {
      await events.close();
      await cache.close();
      await docs.close();
    },
  };
}
