import type { Logger, Principal } from '@parley/common';
import type { Sender } from '../api/send.ts';
import type { MessageActions } from '../api/actions.ts';
import type { Presence } from '../domain/presence.ts';
import type { Hub } from '../fanout/hub.ts';
import type { Views } from '../read/views.ts';
import type { GatewayMetrics } from './metrics.ts';

export interface GatewayOptions {
  maxFrameBytes: number;
  maxBufferedBytes: number;
  heartbeatMs: number;
  authTimeoutMs: number;
  maxPendingAuth: number;
  framesPerSecond: number;
  frameBurst: number;
  maxConnectionsPerUser: number;
  resumeMaxMessages: number;
  resumeMaxEvents: number;
  resumeMaxConversations: number;
  typingThrottleMs: number;
  presenceTtlMs: number;
  presenceMaxMembers: number;
  drainMs: number;
}

/** What the gateway needs of the message service: the send path, receipts and the read models. */
export interface GatewayChat {
  sender: Pick<Sender, 'send'>;
  actions: Pick<MessageActions, 'receipt'>;
  views: Pick<
    Views,
    'memberships' | 'memberCount' | 'presenceAudience' | 'replay' | 'changes' | 'visibleByIds'
  >;
}

/** What the gateway's frame handlers (auth, presence, typing, resume) share. */
export interface GatewayContext {
  opts: GatewayOptions;
  chat: GatewayChat;
  authenticate: (token: string) => Promise<Principal>;
  logger: Logger;
  metrics: GatewayMetrics;
  hub: Hub;
  presence: Presence;
}
