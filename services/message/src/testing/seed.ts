import type { EventLog, Logger, Principal } from '@parley/common';
import { Sender } from '../api/send.ts';
import { SendChecks } from '../api/sendchecks.ts';
import { Access } from '../domain/access.ts';
import { messageIdFor, type DirectSink, type SendCommand } from '../domain/envelopes.ts';
import type { MessageStore } from '../domain/store.ts';

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
