import {
  q,
  type Collection,
  type Doc,
  type TextHit,
  type TextIndex,
  type TextEntry,
  type TextRef,
} from './port.ts';

/** The document of one (term, entry) pair; field names as the message service has stored them. */
export interface TermDoc extends Doc {
  term: string;
  messageId: string;
  conversationId: string;
  at: number;
}

/**
 * The collection-backed text index (MongoDB, FerretDB, which has no text indexes): one document
 * per (term, entry). The SQLite store uses FTS5 instead (fts5.ts).
 */
export class CollectionTextIndex implements TextIndex {
  constructor(private readonly terms: Collection<TermDoc>) {}

  async add(entries: readonly TextEntry[]): Promise<void> {
    await this.terms.insertMany(
      entries.flatMap((e) =>
        e.terms.map((term) => ({
          _id: `${term}:${e.ref}`,
          term,
          messageId: e.ref,
          conversationId: e.scope,
          at: e.at,
        })),
      ),
    );
  }

  async remove(entries: readonly TextRef[]): Promise<void> {
    if (entries.length) await this.terms.deleteMany({ messageId: q.in(entries.map((e) => e.ref)) });
  }

  async find(term: string, scopes: readonly string[], limit: number): Promise<TextHit[]> {
    if (scopes.length === 0) return [];
    const docs = await this.terms.find({ term, conversationId: q.in([...scopes]) }, { limit });
    return docs.map((d) => ({ ref: d.messageId, term: d.term, at: d.at }));
  }
}
