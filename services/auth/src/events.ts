import { randomUUID } from 'node:crypto';
import type { EventLog } from '@parley/common';

export type UserEventType =
  'user.registered' | 'user.updated' | 'user.blocked' | 'user.unblocked' | 'session.revoked';

/** The versioned envelope of every event on `user.events` (key = user id). */
export interface UserEvent<T = Record<string, unknown>> {
  type: UserEventType;
  version: 1;
  id: string;
  occurredAt: string;
  data: T & { userId: string };
}

export function userEvent(
  type: UserEventType,
  data: Record<string, unknown> & { userId: string },
): UserEvent {
  return { type, version: 1, id: randomUUID(), occurredAt: new Date().toISOString(), data };
}

export class UserEvents {
  constructor(
    private readonly events: EventLog,
    private readonly topic: string,
  ) {}

  async emit(...events: UserEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.events.produce(
      this.topic,
      events.map((e) => ({
        key: e.data.userId,
        value: JSON.stringify(e),
        headers: {
          'content-type': 'application/json',
          'event-type': e.type,
          'event-version': String(e.version),
        },
      })),
    );
  }
}
