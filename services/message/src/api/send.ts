import { randomUUID } from 'node:crypto';
import {
  context,
  problems,
  tooMany,
  traceHeaders,
  type EventLog,
  type Logger,
  type Principal,
} from '@parley/common';
import type { Access } from '../domain/access.ts';
import type { AttachmentStore } from '../media/attachments.ts';
import type { SendChecks } from './sendchecks.ts';
import { messageIdFor, type DirectSink, type SendCommand } from '../domain/envelopes.ts';
import { messageProblems as P } from '../domain/errors.ts';
import { commandProblem } from '../domain/sendrules.ts';
import type { MessageStore } from '../domain/store.ts';
import { messageView } from '../domain/view.ts';

/** Seconds a client is told to wait before re-sending when the event log refused a send. */
export const SEND_RETRY_AFTER_SEC = 2;

export interface SendOptions {
  topicMessages: string;
  persistWaitMs: number;
  /** The send limit, for its message (the bucket itself is the takeSend function's). */
  sendRatePerMinute: number;
  sendBurst: number;
  /**
   * In embedded mode, the worker's persister in this process: a send stores its message without
   * the commands log, and resolves once it is stored (worker/direct.ts).
   */
  direct?: DirectSink | undefined;
}

/**
 * The write path of a message, REST and WebSocket alike: check membership, blocks, the reply
 * target and the send limit, then produce a `message.send` command to `chat.messages`, keyed by
 * conversation. The worker sequences and stores it (worker/worker.ts); a REST send may wait for
 * that, woken through pub/sub on `persistedChannel`.
 */
export class Sender {
  /** One channel per API process: the worker tells it when a message it waits for is stored. */
  readonly persistedChannel = `persisted:${randomUUID()}`;
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(
    private readonly store: MessageStore,
    private readonly access: Access,
    /** Membership, conversation and block, cached (see sendchecks.ts). */
    private readonly checks: SendChecks,
    /** The event log (Kafka, or the embedded one). */
    private readonly events: EventLog,
    private readonly opts: SendOptions,
    private readonly logger: Logger,
    /** Takes one send from the user's bucket, shared by REST and every socket on every pod. */
    private readonly takeSend: (
      userId: string,
    ) => Promise<{ allowed: boolean; retryAfterMs: number }> = async () => ({
      allowed: true,
      retryAfterMs: 0,
    }),
    /** Attachment metadata, to check and bind ids on send. */
    private readonly attachments?: AttachmentStore,
  ) {}

  /** Called with each id published on `persistedChannel`. */
  notifyPersisted(id: string): void {
    for (const wake of this.waiters.get(id) ?? []) wake();
  }

  private waitPersisted(id: string, ms: number): { done: Promise<void>; cancel: () => void } {
    let wake!: () => void;
    const done = new Promise<void>((resolve) => (wake = resolve));
    const set = this.waiters.get(id) ?? new Set();
    set.add(wake);
    this.waiters.set(id, set);
    const timer = setTimeout(wake, ms);
    const cancel = () => {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0) this.waiters.delete(id);
    };
    void done.then(cancel);
    return { done, cancel };
  }

  async send(
    p: Principal,
    conversationId: string,
    input: {
      clientMsgId: string;
      body?: string | undefined;
      ciphertext?: string | undefined;
      replyTo?: string | undefined;
      ttlSeconds?: number | undefined;
      attachments?: string[] | undefined;
    },
    opts: {
      /** Answer with the stored message (REST), within persistWaitMs; else with its id at once. */
      waitPersisted: boolean;
      /** Skip the read that answers a re-send from the store (a socket's first send: its id is new). */
      skipStoredCheck?: boolean;
      /**
       * Called once the send holds its place among this process's sends, before it is stored:
       * when it is handed to the persister in embedded mode (which keeps the order sends reach
       * it). Not called on the log path (the caller waits for the result there) or when refused.
       */
      onQueued?: () => void;
    },
  ): Promise<
    { status: 'accepted'; id: string } | { status: 'persisted'; message: ReturnType<typeof messageView> }
  > {
    const id = messageIdFor(conversationId, p.userId, input.clientMsgId);
    // The checks come from the send-check cache (no store read in steady state); the stored-check
    // and reply-target reads run beside it. Nothing is used before membership passes, so a
    // non-member learns nothing.
    const [{ conv, me, blocked }, stored, parent] = await Promise.all([
      this.checks.get(p, conversationId),
      opts.skipStoredCheck ? null : this.store.messages.findById(id),
      input.replyTo ? this.store.messages.findById(input.replyTo) : undefined,
    ]);
    if (blocked) throw P.BLOCKED();
    // Replying accepts a conversation request.
    if (me.pending) {
      await this.access.markAccepted(me);
      this.checks.forget({ conversationId, userId: p.userId });
    }
    if (
      parent !== undefined &&
      (!parent || parent.conversationId !== conversationId || parent.expiresAt <= Date.now())
    )
      throw P.MESSAGE_NOT_FOUND('replyTo is not a message of this conversation');
    // A re-send of a stored message is answered with it (id and seq) and broadcasts nothing (#18).
    // Only if its event never went out (a crash in between) does the command go again, for the
    // worker to announce it. Either way it costs no token.
    if (stored && (await this.store.announced(stored)))
      return { status: 'persisted', message: messageView(stored) };
    // Decided once: a send that started on one path finishes on it (see DirectCommands).
    const direct = this.opts.direct?.attached ? this.opts.direct : undefined;
    const ttl = input.ttlSeconds ?? conv.defaultTtlSeconds;
    const now = Date.now();
    // Bound before the command goes out: the worker stores what the api checked.
    if (input.attachments?.length) {
      if (!this.attachments) throw problems.UNAVAILABLE('attachments are not available');
      await this.attachments.claim(
        p.userId,
        conversationId,
        id,
        input.attachments,
        ttl ? now + ttl * 1000 : undefined,
      );
    }
    const command: SendCommand = {
      type: 'message.send',
      version: 1,
      id,
      conversationId,
      senderId: p.userId,
      clientMsgId: input.clientMsgId,
      ...(input.body !== undefined ? { body: input.body } : {}),
      ...(input.ciphertext !== undefined ? { ciphertext: input.ciphertext } : {}),
      ...(input.replyTo ? { replyTo: input.replyTo } : {}),
      ...(input.attachments?.length ? { attachments: input.attachments } : {}),
      ...(ttl ? { expiresAt: now + ttl * 1000 } : {}),
      acceptedAt: now,
      ...(opts.waitPersisted && !direct ? { notify: this.persistedChannel } : {}),
    };
    // The worker's own check (domain/sendrules.ts), on the very command it will consume: what
    // passes here is stored, so nothing acked can end in the dead-letter topic (#21).
    const problem = commandProblem(command);
    if (problem)
      throw problems.VALIDATION_FAILED(`${problem.path}: ${problem.message}`, {
        extensions: { errors: [problem] },
      });
    const quota = stored ? { allowed: true, retryAfterMs: 0 } : await this.takeSend(p.userId);
    if (!quota.allowed)
      throw tooMany(
        `at most ${this.opts.sendRatePerMinute} messages per minute (bursts of ${this.opts.sendBurst})`,
        Math.max(1, Math.ceil(quota.retryAfterMs / 1000)),
      );
    // Registered before producing, so a fast worker cannot notify before we listen.
    const waiter =
      opts.waitPersisted && !stored && !direct ? this.waitPersisted(id, this.opts.persistWaitMs) : undefined;
    try {
      if (direct) {
        const storing = direct.submit(command, traceHeaders(context.active()));
        opts.onQueued?.();
        await storing;
      } else
        await this.events.produce(this.opts.topicMessages, [
          {
            key: conversationId,
            value: JSON.stringify(command),
            headers: { 'command-type': 'message.send' },
          },
        ]);
    } catch (err) {
      waiter?.cancel();
      this.logger.warn({ err, conversationId, messageId: id }, direct ? 'store failed' : 'produce failed');
      // Kafka down or slow (the adapter bounds a produce at its timeout): nothing hangs, and the
      // client retries with the same clientMsgId, which the worker de-duplicates (#21).
      throw problems.UNAVAILABLE(
        direct
          ? 'the message could not be stored; retry with the same clientMsgId'
          : 'the event log did not acknowledge the message; retry with the same clientMsgId',
        {
          headers: { 'retry-after': String(SEND_RETRY_AFTER_SEC) },
          extensions: { retryAfter: SEND_RETRY_AFTER_SEC },
        },
      );
    }
    if (stored) return { status: 'persisted', message: messageView(stored) };
    if (!opts.waitPersisted) return { status: 'accepted', id };
    if (direct) {
      // submit() resolved, so it is stored: answer with it.
      const m = await this.store.messages.findById(id);
      return m ? { status: 'persisted', message: messageView(m) } : { status: 'accepted', id };
    }
    if (!waiter) return { status: 'accepted', id };
    await waiter.done;
    // One read after the notification (or the timeout): the store is the source of truth.
    const m = await this.store.messages.findById(id);
    return m ? { status: 'persisted', message: messageView(m) } : { status: 'accepted', id };
  }
}
