import { problems, type Api, type Principal } from '@parley/common';
import { z } from 'zod';
import type { Chat } from './chat.ts';
import type { Presence } from '../domain/presence.ts';
import { ConversationParams, ConversationView } from './schemas.ts';

const PresenceList = z.object({
  members: z.array(
    z.object({
      userId: z.string(),
      status: z.enum(['online', 'away', 'offline']),
      lastSeen: z.string().optional(),
    }),
  ),
});

/** What these routes need of the gateway (module.ts passes it in): presence, and pushing it. */
export interface PresenceSource {
  presence: Pick<Presence, 'view'>;
  sharePresence(userId: string, conversationId: string): Promise<void>;
}

/** Presence over REST, for large groups (no pushed presence) and for a client's first paint. */
export function presenceRoutes(api: Api, started: () => { chat: Chat; gateway: PresenceSource }): void {
  // Accepting is what shares presence, so it lives here, where the gateway is at hand.
  api.route({
    method: 'POST',
    url: '/v1/conversations/:id/accept',
    operationId: 'acceptConversation',
    summary: 'Accept a conversation request (someone else started it or added you)',
    description:
      'Until you accept a conversation, or send in it, your presence is not shared with its members. Accepting twice is a no-op.',
    tags: ['conversations'],
    access: 'user',
    params: ConversationParams,
    responses: { 200: { description: 'The conversation', schema: ConversationView } },
    errors: ['CONVERSATION_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => {
      const p: Principal | undefined = req.principal;
      if (!p) throw problems.UNAUTHENTICATED();
      const { chat, gateway } = started();
      const view = await chat.conversations.accept(p, req.params.id);
      await gateway.sharePresence(p.userId, req.params.id);
      return view;
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/conversations/:id/presence',
    operationId: 'getConversationPresence',
    summary: 'Presence (online, away, offline with last-seen) of a conversation’s members',
    description:
      'Visible only to members. Lists the members who accepted the conversation (started it, sent in it or accepted the request) and have not blocked you. Changes are pushed over the WebSocket for direct chats and groups up to `PRESENCE_MAX_MEMBERS`; larger groups poll this.',
    tags: ['presence'],
    access: 'user',
    params: ConversationParams,
    responses: { 200: { description: 'Each member’s presence', schema: PresenceList } },
    errors: ['CONVERSATION_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => {
      const p: Principal | undefined = req.principal;
      if (!p) throw problems.UNAUTHENTICATED();
      const { chat, gateway } = started();
      const members = await chat.views.presenceVisibleTo(p, req.params.id);
      return { members: await Promise.all(members.map((u) => gateway.presence.view(u))) };
    },
  });
}
