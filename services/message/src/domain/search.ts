import type { TextEntry, TextRef } from '@parley/common';
import type { Message, MessageStore } from './store.ts';

/**
 * Message search on the store's text index (FTS5 in SQLite; one document per term and message in
 * MongoDB, as FerretDB v1 has no text indexes). This tokenizer is the only one, so both match the
 * same way; a query ranks the messages of the caller's conversations by the query terms they hold.
 * Ciphertext is never indexed.
 */
export function tokenize(text: string, max = 64): string[] {
  const norm = text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
  const out = new Set<string>();
  for (const t of norm.split(/[^\p{L}\p{N}]+/u)) {
    if (t.length >= 2 && t.length <= 32) out.add(t);
    if (out.size >= max) break;
  }
  return [...out];
}

/** A message's text index entry; none for ciphertext, a tombstone or a body without terms. */
export function textEntry(m: Message): TextEntry[] {
  if (m.body === undefined || m.deleted) return [];
  const terms = tokenize(m.body);
  if (terms.length === 0) return [];
  return [{ ...textRef(m), scope: m.conversationId, terms }];
}

export async function indexMessage(store: MessageStore, m: Message): Promise<void> {
  await store.text.add(textEntry(m));
}

/** How the text index knows a message's entry: its id and creation time. */
export function textRef(m: Pick<Message, '_id' | 'createdAt'>): TextRef {
  return { ref: m._id, at: Date.parse(m.createdAt) };
}

export async function unindexMessage(store: MessageStore, m: Message): Promise<void> {
  await store.text.remove([textRef(m)]);
}

/** Ranks by how many query terms a message contains, then by recency. Pure, so it is table-tested. */
export function rank(
  hits: readonly { messageId: string; term: string; at: number }[],
): { messageId: string; score: number; at: number }[] {
  const by = new Map<string, { terms: Set<string>; at: number }>();
  for (const h of hits) {
    const e = by.get(h.messageId) ?? { terms: new Set<string>(), at: h.at };
    e.terms.add(h.term);
    by.set(h.messageId, e);
  }
  return [...by]
    .map(([messageId, e]) => ({ messageId, score: e.terms.size, at: e.at }))
    .sort((a, b) => b.score - a.score || b.at - a.at || a.messageId.localeCompare(b.messageId));
}

export async function searchMessages(
  store: MessageStore,
  conversationIds: readonly string[],
  query: string,
  offset: number,
  limit: number,
): Promise<{ messages: Message[]; more: boolean }> {
  const terms = tokenize(query, 8);
  if (terms.length === 0 || conversationIds.length === 0) return { messages: [], more: false };
  const hits = [];
  for (const term of terms)
    for (const h of await store.text.find(term, conversationIds, 5000))
      hits.push({ messageId: h.ref, term: h.term, at: h.at });
  const ranked = rank(hits);
  const out: Message[] = [];
  let i = offset;
  const now = Date.now();
  for (; i < ranked.length && out.length < limit; i++) {
    const m = await store.messages.findById(ranked[i]!.messageId);
    if (m && !m.deleted && m.expiresAt > now && m.body !== undefined) out.push(m);
  }
  return { messages: out, more: i < ranked.length };
}
