import type { Logger } from '@parley/common';
import { parseScope } from '../api/sendchecks.ts';
import { LoadingCache } from '../domain/memo.ts';
import type { MessageStore } from '../domain/store.ts';

export interface RecipientsOptions {
  /** How long a conversation's members are trusted without an invalidation. */
  ttlMs: number;
  /** Conversations kept per process; the oldest go first. */
  maxEntries: number;
}

/**
 * The members a worker names as recipients of a conversation's events, cached (#19): reading
 * them cost the store a query per conversation and batch, on FerretDB a scan. Every change of a
 * conversation's members (added, removed, left) is published on SEND_CHECKS_CHANNEL, which
 * forgets the conversation here: an added member receives what is stored after that message
 * arrives, a removed one stops receiving then; were the message lost, within `ttlMs` (the same
 * bound as the send path's check, SEND_CHECK_TTL_SECONDS).
 */
export class Recipients {
  private readonly cache: LoadingCache<string[]>;

  constructor(
    private readonly store: MessageStore,
    opts: RecipientsOptions,
    private readonly logger: Logger,
  ) {
    this.cache = new LoadingCache(opts);
  }

  of(conversationId: string): Promise<string[]> {
    return this.cache.get(conversationId, async () =>
      (await this.store.membersOf(conversationId)).map((m) => m.userId),
    );
  }

  /** An invalidation from SEND_CHECKS_CHANNEL: one naming a conversation forgets its members. */
  onInvalidation(message: string): void {
    const scope = parseScope(message);
    if (!scope) this.logger.warn('ignored a malformed membership invalidation');
    else if (scope.conversationId) this.cache.forget(scope.conversationId);
  }

  get size(): number {
    return this.cache.size;
  }
}
