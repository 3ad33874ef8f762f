import { q } from '@parley/common';
import type { SendCommand } from '../domain/envelopes.ts';
import { textRef } from '../domain/search.ts';
import type { MessageStore } from '../domain/store.ts';

/**
 * Lists the disappearing messages among commands about to be stored (those not `stored` already).
 * The worker calls it before it stores them, so no message is ever stored unlisted (the sweep
 * finds nothing to delete for an entry whose message never was).
 */
export async function listExpiring(
  store: MessageStore,
  commands: readonly { command: SendCommand }[],
  stored: ReadonlyMap<string, unknown>,
): Promise<void> {
  const expiring = commands.filter((c) => c.command.expiresAt !== undefined && !stored.has(c.command.id));
  if (expiring.length === 0) return;
  await store.expiries.insertMany(
    expiring.map(({ command: c }) => ({
      _id: c.id,
      conversationId: c.conversationId,
      expiresAt: c.expiresAt!,
    })),
  );
}

/**
 * Deletes expired messages (disappearing messages) with their reactions, stars and search terms,
 * found through the store's list of messages that expire; idempotent, so any number of replicas
 * may run it, and a sweep cut short is finished by the next (an entry goes last).
 */
export async function sweepExpired(store: MessageStore, now = Date.now()): Promise<number> {
  // Oldest first, which also has SQLite search the index rather than scan the list.
  const due = await store.expiries.find({ expiresAt: q.lte(now) }, { sort: [['expiresAt', 1]], limit: 1000 });
  if (due.length === 0) return 0;
  const ids = due.map((e) => e._id);
  await store.reactions.deleteMany({ messageId: q.in(ids) });
  await store.stars.deleteMany({ messageId: q.in(ids) });
  // The text index knows an entry by its message's id and creation time. A message already gone
  // had its entry removed before it (below), so a sweep cut short leaves nothing to find.
  const messages = await store.messages.find({ _id: q.in(ids) }, { limit: ids.length });
  await store.text.remove(messages.map(textRef));
  const deleted = await store.messages.deleteMany({ _id: q.in(ids) });
  await store.expiries.deleteMany({ _id: q.in(ids) });
  return deleted;
}
