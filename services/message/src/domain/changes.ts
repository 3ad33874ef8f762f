import { DuplicateKeyError, q, type Collection, type Doc } from '@parley/common';
import type { ChatEventType } from './envelopes.ts';

/**
 * One entry of a conversation's change log: every chat event other than `message.created`
 * (edits, deletions, reactions, receipts, membership and conversation changes), at a
 * per-conversation position `pos` (1, 2, 3, … with no gaps). Resume replays the entries after a
 * client's position. Messages keep their own seq and are not logged here: the hot path (the
 * worker's store of each message) writes nothing more.
 */
export interface Change extends Doc, NewChange {
  pos: number;
}

/** A change before it has a position. */
export interface NewChange {
  conversationId: string;
  /** The conversation's last message seq when the change was made: where it falls among messages. */
  afterSeq: number;
  /** For changes to one message: its seq. */
  messageSeq?: number;
  type: Exclude<ChatEventType, 'message.created'>;
  eventId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** How often an append retries when other writers claimed the next positions first. */
const CLAIM_ATTEMPTS = 50;

export const changeId = (conversationId: string, pos: number) => `${conversationId}:${pos}`;

/**
 * Appends at the next position. Positions are claimed with `insertOne` on the unique id (FerretDB
 * v1 has no atomic increment), so concurrent api pods never share one and a reader that sees
 * position n also sees every position below it.
 */
export async function appendChange(
  changes: Collection<Change>,
  change: NewChange,
  retain: number,
): Promise<number> {
  for (let i = 0; i < CLAIM_ATTEMPTS; i++) {
    const pos = (await changeHead(changes, change.conversationId)) + 1;
    try {
      await changes.insertOne({ _id: changeId(change.conversationId, pos), pos, ...change });
    } catch (err) {
      if (err instanceof DuplicateKeyError) continue;
      throw err;
    }
    // Keeps `retain` entries: a client further behind is told to refetch anyway (replayable()).
    // One point delete per append; an entry a crash left behind only costs its storage.
    if (pos > retain) await changes.deleteMany({ _id: changeId(change.conversationId, pos - retain) });
    return pos;
  }
  throw new Error(`no change position claimed in ${change.conversationId} after ${CLAIM_ATTEMPTS} tries`);
}

/**
 * What the log keeps of an event's data: an edit keeps only the message's id and seq, so an edited
 * text is not stored twice, and never outlives its message (a resume sends the message as it is
 * then, and nothing once it expired or is gone).
 */
export function loggedData(type: Change['type'], data: Record<string, unknown>): Record<string, unknown> {
  if (type !== 'message.edited') return data;
  const m = data.message as { id: string; seq: number };
  return { message: { id: m.id, seq: m.seq } };
}

/** The ids of the messages whose edits a replay of `changes` sends (their current view). */
export function editedIds(changes: readonly Change[]): string[] {
  return [
    ...new Set(
      changes.filter((c) => c.type === 'message.edited').map((c) => (c.data.message as { id: string }).id),
    ),
  ];
}

/** The last position of a conversation's change log (0 when empty). */
export async function changeHead(changes: Collection<Change>, conversationId: string): Promise<number> {
  // pos > 0 (always true) lets the SQLite store answer from the (conversationId, pos) index.
  const last = await changes.findOne({ conversationId, pos: q.gt(0) }, { sort: [['pos', -1]] });
  return last?.pos ?? 0;
}

/** Up to `limit` changes after `afterPos`, in position order. */
export function changesAfter(
  changes: Collection<Change>,
  conversationId: string,
  afterPos: number,
  limit: number,
): Promise<Change[]> {
  return changes.find({ conversationId, pos: q.gt(afterPos) }, { sort: [['pos', 1]], limit });
}

/**
 * What a resume sends of the change log, beside the messages it replays (pure): the changes after
 * the client's position in position order, each placed after the messages stored before it was
 * made. `pos` is how far the client is covered.
 */
export class ChangeMerge {
  private next = 0;
  pos: number;

  constructor(
    private readonly changes: readonly Change[],
    private readonly fromSeq: number,
    fromPos: number,
  ) {
    this.pos = fromPos;
  }

  /** The changes due before the message with seq `seq` (every remaining one when Infinity). */
  before(seq: number): Change[] {
    const due: Change[] = [];
    while (this.next < this.changes.length && this.changes[this.next]!.afterSeq < seq) {
      const c = this.changes[this.next++]!;
      this.pos = c.pos;
      if (!folded(c, this.fromSeq)) due.push(c);
    }
    return due;
  }
}

/**
 * An edit or deletion of a message the replay sends whole (seq above the client's message cursor)
 * is already in it (current text, tombstone). Reactions are not: a message view has none.
 */
export function folded(c: Change, fromSeq: number): boolean {
  return (
    (c.type === 'message.edited' || c.type === 'message.deleted') &&
    c.messageSeq !== undefined &&
    c.messageSeq > fromSeq
  );
}

/**
 * Whether the log after `fromPos` can be replayed: not past the cap, and starting right after the
 * client's position (a gap means entries were removed). Otherwise the client refetches.
 */
export function replayable(changes: readonly Change[], fromPos: number, cap: number): boolean {
  if (changes.length > cap) return false;
  return changes.length === 0 || changes[0]!.pos === fromPos + 1;
}
