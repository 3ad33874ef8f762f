import type { Logger } from '@parley/common';
import { parseScope } from '../api/sendchecks.ts';
import { LoadingCache, type LoadingCacheOptions } from '../domain/memo.ts';
import type { MessageStore } from '../domain/store.ts';

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
    /** ttlMs: how long a conversation's members are trusted without an invalidation. */
    opts: LoadingCacheOptions,
    private readonly logger: Logger,
  ) {
    this.cache = new LoadingCache(opts);
  }

  of(conversationId: string): Promise<string[]> {
    return this.cache.get(conversationId, () => this.store.memberIdsOf(conversationId));
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
