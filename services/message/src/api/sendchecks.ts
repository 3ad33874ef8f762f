import type { Logger, Principal } from '@parley/common';
import type { Access } from '../domain/access.ts';
import type { Conversation, Member, MessageStore } from '../domain/store.ts';
import { LoadingCache } from '../domain/memo.ts';

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

/** An invalidation's scope, as published on SEND_CHECKS_CHANNEL (undefined: malformed). */
export function parseScope(message: string): Scope | undefined {
  try {
    const s = JSON.parse(message) as Scope | null;
    if (typeof s !== 'object' || s === null) return undefined;
    return {
      ...(typeof s.conversationId === 'string' ? { conversationId: s.conversationId } : {}),
      ...(typeof s.userId === 'string' ? { userId: s.userId } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * The pub/sub channel that carries invalidations to every API process, and to the workers'
 * recipients cache (worker/recipients.ts): every change of a conversation's members is on it.
 */
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
  private readonly entries: LoadingCache<SendCheck>;

  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
    private readonly opts: SendChecksOptions,
    private readonly logger: Logger,
    /** Sends an invalidation to the other API processes (absent: this process only). */
    private readonly publish?: (message: string) => Promise<void>,
  ) {
    this.entries = new LoadingCache(opts);
  }

  get(p: Principal, conversationId: string, now = Date.now()): Promise<SendCheck> {
    return this.entries.get(`${conversationId}\u0000${p.userId}`, () => this.load(p, conversationId), now);
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
    this.entries.forgetWhere((key) => {
      const [conversationId, userId] = key.split('\u0000');
      if (scope.conversationId && scope.conversationId !== conversationId) return false;
      return !scope.userId || scope.userId === userId;
    });
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
    const scope = parseScope(message);
    if (scope) this.forget(scope);
    else this.logger.warn('ignored a malformed send-check invalidation');
  }

  get size(): number {
    return this.entries.size;
  }
}
