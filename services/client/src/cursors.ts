import type { ResumeCursor, ResumedFrame } from './frames.ts';

/**
 * Per-conversation resume cursors: the highest seq up to which the client holds every message.
 * Messages above a hole wait in a small set until the hole fills (or a resume says it cannot).
 */
export class CursorTracker {
  private readonly contiguous = new Map<string, number>();
  private readonly ahead = new Map<string, Set<number>>();

  /** Cursors to send in a `resume` frame. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.contiguous);
  }

  get(conversationId: string): number | undefined {
    return this.contiguous.get(conversationId);
  }

  /** Declares that every message up to `seq` is held (e.g. loaded over REST); never moves back. */
  set(conversationId: string, seq: number): void {
    const cur = this.contiguous.get(conversationId);
    if (cur === undefined || seq > cur) this.contiguous.set(conversationId, seq);
    this.drain(conversationId);
  }

  /**
   * Records a received message. Returns `gap` when it lies beyond the next expected seq (the
   * messages in between are missing), `old` when at or below the cursor, else `next`.
   * The first message of a conversation without a cursor sets the cursor.
   */
  observe(conversationId: string, seq: number): 'next' | 'old' | 'gap' {
    const cur = this.contiguous.get(conversationId);
    if (cur === undefined) {
      this.contiguous.set(conversationId, seq);
      return 'next';
    }
    if (seq <= cur) return 'old';
    if (seq === cur + 1) {
      this.contiguous.set(conversationId, seq);
      this.drain(conversationId);
      return 'next';
    }
    let set = this.ahead.get(conversationId);
    if (!set) this.ahead.set(conversationId, (set = new Set()));
    set.add(seq);
    return 'gap';
  }

  /**
   * A resume finished with `lastSeq` the last seq the server replayed (or the cursor): what the
   * server did not replay below it does not exist any more (expired or never will), so the
   * cursor passes it.
   */
  settle(conversationId: string, lastSeq: number): void {
    const set = this.ahead.get(conversationId);
    let top = lastSeq;
    if (set) for (const s of set) if (s <= lastSeq) set.delete(s);
    const cur = this.contiguous.get(conversationId);
    if (cur !== undefined && cur > top) top = cur;
    this.contiguous.set(conversationId, top);
    this.drain(conversationId);
  }

  /** True when messages above a hole are waiting. */
  hasGap(conversationId: string): boolean {
    return (this.ahead.get(conversationId)?.size ?? 0) > 0;
  }

  forget(conversationId: string): void {
    this.contiguous.delete(conversationId);
    this.ahead.delete(conversationId);
  }

  private drain(conversationId: string): void {
    const set = this.ahead.get(conversationId);
    if (!set) return;
    let cur = this.contiguous.get(conversationId)!;
    for (const s of set) if (s <= cur) set.delete(s);
    while (set.delete(cur + 1)) cur++;
    this.contiguous.set(conversationId, cur);
    if (set.size === 0) this.ahead.delete(conversationId);
  }
}

/**
 * Both cursors of every tracked conversation: message seqs and change positions (edits,
 * deletions, reactions, receipts, membership), as `resume` frames name them.
 */
export class ResumeCursors {
  readonly seqs = new CursorTracker();
  readonly positions = new CursorTracker();

  /**
   * The `cursors` of resume frames for `conversations` (default: every one), `chunk` a frame.
   * Only conversations with a seq are resumed: the others are not tracked.
   */
  frames(conversations = Object.keys(this.seqs.snapshot()), chunk = 100): Record<string, ResumeCursor>[] {
    conversations = conversations.filter((c) => this.seqs.get(c) !== undefined);
    const out: Record<string, ResumeCursor>[] = [];
    for (let i = 0; i < conversations.length; i += chunk)
      out.push(Object.fromEntries(conversations.slice(i, i + chunk).map((c) => [c, this.cursor(c)])));
    return out;
  }

  /** A conversation's cursor: `{seq, pos}` once a change position is known, else the seq. */
  cursor(conversationId: string): ResumeCursor {
    const seq = this.seqs.get(conversationId)!;
    const pos = this.positions.get(conversationId);
    return pos === undefined ? seq : { seq, pos };
  }

  /**
   * Records a live or replayed change's position; false when it is at or below the cursor (a
   * duplicate), `gap` when changes before it are missing.
   */
  observe(conversationId: string, pos: number): boolean | 'gap' {
    const r = this.positions.observe(conversationId, pos);
    return r === 'old' ? false : r === 'gap' ? 'gap' : true;
  }

  /** Applies a `resumed` frame: each cursor moves to what the server covered. */
  settle(f: ResumedFrame): void {
    for (const [c, seq] of Object.entries(f.conversations)) this.seqs.settle(c, seq);
    // Only for a tracked conversation: one the client was removed from is forgotten, not revived.
    for (const [c, pos] of Object.entries(f.positions ?? {}))
      if (this.seqs.get(c) !== undefined) this.positions.settle(c, pos);
  }

  forget(conversationId: string): void {
    this.seqs.forget(conversationId);
    this.positions.forget(conversationId);
  }
}
