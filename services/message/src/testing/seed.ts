import type { Principal } from '@parley/common';
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
