import type { EventLog, Logger } from '@parley/common';
import { Access } from '../domain/access.ts';
import type { MessageStore } from '../domain/store.ts';
import type { AttachmentStore } from '../media/attachments.ts';
import { Views } from '../read/views.ts';
import { MessageActions } from './actions.ts';
import { Conversations } from './conversations.ts';
import { ChatEvents } from './events.ts';
import { Sender, type SendOptions } from './send.ts';
import { SendChecks } from './sendchecks.ts';

export interface ChatOptions extends SendOptions {
  topicEvents: string;
  /** How long a cached send check lives without an invalidation. */
  sendCheckTtlMs: number;
  memberCap: number;
  editWindowSec: number;
  /** Change log entries kept per conversation (resume replays at most this many). */
  changeRetention: number;
}

/**
 * What the REST routes and the gateway call: the access checks, the read models, and the three
 * write paths (conversations, the send of a message, actions on stored messages).
 */
export interface Chat {
  access: Access;
  views: Views;
  conversations: Conversations;
  sender: Sender;
  /** The send path's membership and block cache; invalidations from other pods go to it. */
  sendChecks: SendChecks;
  actions: MessageActions;
}

export function createChat(
  store: MessageStore,
  events: EventLog,
  opts: ChatOptions,
  logger: Logger,
  takeSend?: ConstructorParameters<typeof Sender>[6],
  /** Publishes a send-check invalidation to the other API processes. */
  publishInvalidation?: (message: string) => Promise<void>,
  attachments?: AttachmentStore,
): Chat {
  const access = new Access(store);
  const views = new Views(store, access);
  const chatEvents = new ChatEvents(store, events, opts.topicEvents, opts.changeRetention);
  const sendChecks = new SendChecks(
    store,
    access,
    { ttlMs: opts.sendCheckTtlMs, maxEntries: 100_000 },
    logger,
    publishInvalidation,
  );
  return {
    access,
    views,
    conversations: new Conversations(store, access, views, chatEvents, opts, sendChecks),
    sender: new Sender(store, access, sendChecks, events, opts, logger, takeSend, attachments),
    sendChecks,
    actions: new MessageActions(store, access, views, chatEvents, opts),
  };
}
