import type { EventLog } from '@parley/common';
import { chatEvent, type ChatEventType } from '../domain/envelopes.ts';
import type { MessageStore } from '../domain/store.ts';

/**
 * The api side of `chat.events`: events of writes the api makes itself (conversation and member
 * changes, edits, deletions, reactions, receipts), addressed to every member at that moment.
 * (message.created comes from the worker, once the message is stored.)
 */
export class ChatEvents {
  constructor(
    private readonly store: MessageStore,
    private readonly events: EventLog,
    private readonly topic: string,
  ) {}

  /** Produces one event, keyed by conversation, with the members as recipients. */
  async emit(type: ChatEventType, conversationId: string, data: Record<string, unknown>): Promise<void> {
    const recipients = (await this.store.membersOf(conversationId)).map((m) => m.userId);
    await this.events.produce(this.topic, [
      {
        key: conversationId,
        value: JSON.stringify(chatEvent(type, conversationId, recipients, data)),
        headers: { 'event-type': type },
      },
    ]);
  }
}
