import type { Logger, Principal } from '@parley/common';
import type { Access } from '../domain/access.ts';
import type { Conversation, Member, MessageStore } from '../domain/store.ts';

/** What a send checks before it is produced: the conversation, the sender's membership, a block. */
export interface SendCheck {
  conv: Conversation;
  me: Member;
  /** In a direct conversation: the other member blocked the sender. */
  blocked: boolean;
}

/** Which cached checks a change makes stale: those of a conversation, of a user, or of both. */
export interface Scope {
  conversationId?: string;
  userId?: string;
}

export interface SendChecksOptions {
  /** How long a check is trusted without an invalidation (the bound when one is lost). */
  ttlMs: number;
  /** Checks kept per process; the oldest go first. */
  maxEntries: number;
}

/** The pub/sub channel that carries invalidations to every API process. */
export const SEND_CHECKS_CHANNEL = 'send-checks:invalidate';

/**
 * The membership and block cache of the send path (#19): in steady state a send reads nothing
 * from the store. An entry lives `ttlMs` at most. Every change that can refuse a send (a member
 * removed or leaving, a block, a conversation updated) forgets the affected entries on the
 * process that made it at once, and on every other API process through pub/sub, so a removed
 * member's sends are refused after a pub/sub hop; were that message lost, after `ttlMs` at most.
 * Only checks that passed are cached: a refused sender is asked again each time, so an added
 * member can send at once.
 */
export class SendChecks {
  private readonly entries = new Map<string, { expires: number; check: Promise<SendCheck> }>();

  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
    private readonly opts: SendChecksOptions,
    private readonly logger: Logger,
    /** Sends an invalidation to the other API processes (absent: this process only). */
    private readonly publish?: (message: string) => Promise<void>,
  ) {}

  get(p: Principal, conversationId: string, now = Date.now()): Promise<SendCheck> {
    const key = `${conversationId}\u0000${p.userId}`;
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) return hit.check;
    const check = this.load(p, conversationId);
    this.entries.delete(key);
    this.entries.set(key, { expires: now + this.opts.ttlMs, check });
    check.catch(() => {
      if (this.entries.get(key)?.check === check) this.entries.delete(key);
    });
    if (this.entries.size > this.opts.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    return check;
  }

  private async load(p: Principal, conversationId: string): Promise<SendCheck> {
    const { conv, me } = await this.access.member(p, conversationId);
    const other = conv.type === 'direct' ? conv.directKey!.split(':').find((u) => u !== p.userId) : undefined;
    const blocked = other ? await this.store.isBlocked(other, p.userId) : false;
    return { conv, me, blocked };
  }

  /** Forgets the checks `scope` names, on this process only. */
  forget(scope: Scope): void {
    if (!scope.conversationId && !scope.userId) return;
    for (const key of this.entries.keys()) {
      const [conversationId, userId] = key.split('\u0000');
      if (scope.conversationId && scope.conversationId !== conversationId) continue;
      if (scope.userId && scope.userId !== userId) continue;
      this.entries.delete(key);
    }
  }

  /** Forgets the checks `scope` names here, and on every other API process through pub/sub. */
  async invalidate(scope: Scope): Promise<void> {
    this.forget(scope);
    await this.publish?.(JSON.stringify(scope)).catch((err: unknown) =>
      this.logger.warn({ err, ...scope }, 'send-check invalidation not published; other pods expire it'),
    );
  }

  /** An invalidation from another process (malformed ones are ignored). */
  onInvalidation(message: string): void {
    try {
      const s = JSON.parse(message) as Scope;
      this.forget({
        ...(typeof s.conversationId === 'string' ? { conversationId: s.conversationId } : {}),
        ...(typeof s.userId === 'string' ? { userId: s.userId } : {}),
      });
    } catch {
      this.logger.warn('ignored a malformed send-check invalidation');
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
