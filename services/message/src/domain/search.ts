import { q } from '@parley/common';
import type { Message, MessageStore, SearchTerm } from './store.ts';

/**
 * Message search without text indexes (FerretDB v1 has none): the worker writes one small
 * document per (term, message) and a query intersects term lists inside the caller's
 * conversations. Ciphertext is never indexed.
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

/** The term documents of a message; none for ciphertext or a tombstone. */
export function searchTerms(m: Message): SearchTerm[] {
  if (m.body === undefined || m.deleted) return [];
  return tokenize(m.body).map((term) => ({
    _id: `${term}:${m._id}`,
    term,
    messageId: m._id,
    conversationId: m.conversationId,
    at: Date.parse(m.createdAt),
  }));
}

export async function indexMessage(store: MessageStore, m: Message): Promise<void> {
  await store.terms.insertMany(searchTerms(m));
}

export async function unindexMessage(store: MessageStore, messageId: string): Promise<void> {
  await store.terms.deleteMany({ messageId });
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
    hits.push(
      ...(await store.terms.find({ term, conversationId: q.in([...conversationIds]) }, { limit: 5000 })),
    );
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
