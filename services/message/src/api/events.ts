import type { EventLog } from '@parley/common';
import { appendChange, loggedData, type Change } from '../domain/changes.ts';
import { chatEvent } from '../domain/envelopes.ts';
import type { MessageStore } from '../domain/store.ts';

/**
 * The api side of `chat.events`: events of writes the api makes itself (conversation and member
 * changes, edits, deletions, reactions, receipts), addressed to every member at that moment.
 * (message.created comes from the worker, once the message is stored.) Each is first written to
 * the conversation's change log, so a resume on any pod replays it; its position rides on the event.
 */
export class ChatEvents {
  constructor(
    private readonly store: MessageStore,
    private readonly events: EventLog,
    private readonly topic: string,
    /** Entries kept per conversation: older ones could only be replayed past the resume cap. */
    private readonly retain: number,
  ) {}

  /**
   * Logs and produces one event, keyed by conversation, with the members as recipients.
   * `messageSeq`: the seq of the message it changes, if any.
   */
  async emit(
    type: Change['type'],
    conversationId: string,
    data: Record<string, unknown>,
    messageSeq?: number,
  ): Promise<void> {
    const [members, state] = await Promise.all([
      this.store.membersOf(conversationId),
      this.store.states.findById(conversationId),
    ]);
    const ev = chatEvent(
      type,
      conversationId,
      members.map((m) => m.userId),
      data,
    );
    const pos = await appendChange(
      this.store.changes,
      {
        conversationId,
        afterSeq: Math.max(state?.lastSeq ?? 0, messageSeq ?? 0),
        ...(messageSeq !== undefined ? { messageSeq } : {}),
        type,
        eventId: ev.id,
        occurredAt: ev.occurredAt,
        data: loggedData(type, data),
      },
      this.retain,
    );
    await this.events.produce(this.topic, [
      {
        key: conversationId,
        value: JSON.stringify({ ...ev, pos }),
        headers: { 'event-type': type },
      },
    ]);
  }
}
