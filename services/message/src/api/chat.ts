import type { EventLog, Logger } from '@parley/common';
import { Access } from '../domain/access.ts';
import type { MessageStore } from '../domain/store.ts';
import { Views } from '../read/views.ts';
import { MessageActions } from './actions.ts';
import { Conversations } from './conversations.ts';
import { ChatEvents } from './events.ts';
import { Sender, type SendOptions } from './send.ts';

export interface ChatOptions extends SendOptions {
  topicEvents: string;
  memberCap: number;
  editWindowSec: number;
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
  actions: MessageActions;
}

export function createChat(
  store: MessageStore,
  events: EventLog,
  opts: ChatOptions,
  logger: Logger,
  takeSend?: ConstructorParameters<typeof Sender>[5],
): Chat {
  const access = new Access(store);
  const views = new Views(store, access);
  const chatEvents = new ChatEvents(store, events, opts.topicEvents);
  return {
    access,
    views,
    conversations: new Conversations(store, access, views, chatEvents, opts),
    sender: new Sender(store, access, events, opts, logger, takeSend),
    actions: new MessageActions(store, access, views, chatEvents, opts),
  };
}
