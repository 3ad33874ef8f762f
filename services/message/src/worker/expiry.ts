import { q } from '@parley/common';
import type { MessageStore } from '../domain/store.ts';

/** Deletes expired messages (disappearing messages); idempotent, so any number of replicas may run it. */
export async function sweepExpired(store: MessageStore, now = Date.now()): Promise<number> {
  const expired = await store.messages.find({ expiresAt: q.lte(now) }, { limit: 1000 });
  if (expired.length === 0) return 0;
  const ids = expired.map((m) => m._id);
  await store.reactions.deleteMany({ messageId: q.in(ids) });
  await store.stars.deleteMany({ messageId: q.in(ids) });
  await store.text.remove(ids);
  return store.messages.deleteMany({ _id: q.in(ids) });
}
