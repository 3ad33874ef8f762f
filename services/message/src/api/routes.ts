import { problems, type Api, type Principal } from '@parley/common';
import type { Chat } from './chat.ts';
import * as S from './schemas.ts';

const who = (req: { principal: Principal | undefined }): Principal => {
  if (!req.principal) throw problems.UNAUTHENTICATED();
  return req.principal;
};

/** The message service's REST contract (see /v1/openapi.json). */
export function messageRoutes(api: Api, chat: () => Chat): void {
  const convTags = ['conversations'];
  const msgTags = ['messages'];
  const common = ['CONVERSATION_NOT_FOUND', 'RATE_LIMITED'];

  api.route({
    method: 'POST',
    url: '/v1/conversations',
    operationId: 'createConversation',
    summary: 'Start a direct conversation (returns the existing one) or create a group',
    tags: convTags,
    access: 'user',
    body: S.CreateConversationBody,
    responses: {
      201: { description: 'Created', schema: S.ConversationView },
      200: { description: 'The existing direct conversation', schema: S.ConversationView },
    },
    errors: ['USER_NOT_FOUND', 'INVALID_MEMBERS', 'BLOCKED', 'MEMBER_CAP_REACHED', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      const p = who(req);
      const { conv, created } = await chat().conversations.create(p, req.body);
      reply.code(created ? 201 : 200);
      const { me } = await chat().access.member(p, conv._id);
      return chat().views.view(p, conv, me, { withMembers: true });
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/conversations',
    operationId: 'listConversations',
    summary: 'Your conversations by last activity, with last message and unread count',
    tags: convTags,
    access: 'user',
    query: S.ListQuery,
    responses: { 200: { description: 'A page', schema: S.ConversationList } },
    errors: ['INVALID_CURSOR', 'RATE_LIMITED'],
    handler: async (req) => chat().views.list(who(req), req.query.cursor, req.query.limit ?? 50),
  });

  api.route({
    method: 'GET',
    url: '/v1/conversations/:id',
    operationId: 'getConversation',
    summary: 'A conversation with its members',
    tags: convTags,
    access: 'user',
    params: S.ConversationParams,
    responses: { 200: { description: 'The conversation', schema: S.ConversationView } },
    errors: common,
    handler: async (req) => {
      const p = who(req);
      const { conv, me } = await chat().access.member(p, req.params.id);
      return chat().views.view(p, conv, me, { withMembers: true });
    },
  });

  api.route({
    method: 'PATCH',
    url: '/v1/conversations/:id',
    operationId: 'updateConversation',
    summary: 'Change the title or default message TTL (owners and admins of a group)',
    tags: convTags,
    access: 'user',
    params: S.ConversationParams,
    body: S.PatchConversationBody,
    responses: { 200: { description: 'The conversation', schema: S.ConversationView } },
    errors: [...common, 'NOT_ALLOWED_BY_ROLE'],
    handler: async (req) => chat().conversations.patch(who(req), req.params.id, req.body),
  });

  api.route({
    method: 'POST',
    url: '/v1/conversations/:id/members',
    operationId: 'addMembers',
    summary: 'Add members to a group (owners and admins)',
    tags: convTags,
    access: 'user',
    params: S.ConversationParams,
    body: S.AddMembersBody,
    responses: { 200: { description: 'The conversation', schema: S.ConversationView } },
    errors: [...common, 'NOT_ALLOWED_BY_ROLE', 'USER_NOT_FOUND', 'MEMBER_CAP_REACHED', 'BLOCKED'],
    handler: async (req) => chat().conversations.addMembers(who(req), req.params.id, req.body.members),
  });

  api.route({
    method: 'DELETE',
    url: '/v1/conversations/:id/members/:userId',
    operationId: 'removeMember',
    summary: 'Remove a member (owners and admins), or leave (your own id)',
    tags: convTags,
    access: 'user',
    params: S.MemberParams,
    responses: { 204: { description: 'Removed' } },
    errors: [...common, 'NOT_ALLOWED_BY_ROLE', 'USER_NOT_FOUND'],
    handler: async (req, reply) => {
      await chat().conversations.removeMember(who(req), req.params.id, req.params.userId);
      reply.code(204);
    },
  });

  api.route({
    method: 'PUT',
    url: '/v1/conversations/:id/members/:userId/role',
    operationId: 'setMemberRole',
    summary: 'Make a member admin or member (owner only)',
    tags: convTags,
    access: 'user',
    params: S.MemberParams,
    body: S.RoleBody,
    responses: { 200: { description: 'The conversation', schema: S.ConversationView } },
    errors: [...common, 'NOT_ALLOWED_BY_ROLE', 'USER_NOT_FOUND'],
    handler: async (req) =>
      chat().conversations.setRole(who(req), req.params.id, req.params.userId, req.body.role),
  });

  api.route({
    method: 'POST',
    url: '/v1/conversations/:id/messages',
    operationId: 'sendMessage',
    summary: 'Send a message (idempotent per clientMsgId)',
    description:
      'Answers 202 once Kafka acknowledged the message. With `?wait=persisted`, answers 201 with the stored message (id, seq, createdAt) once the worker stored it, or 202 after PERSIST_WAIT_MS.',
    tags: msgTags,
    access: 'user',
    params: S.ConversationParams,
    query: S.SendQuery,
    body: S.SendBody,
    responses: {
      202: { description: 'Accepted by Kafka', schema: S.Accepted },
      201: { description: 'Stored', schema: S.MessageView },
    },
    errors: [
      ...common,
      'BLOCKED',
      'MESSAGE_NOT_FOUND',
      'UNAVAILABLE',
      'ATTACHMENT_NOT_FOUND',
      'ATTACHMENT_NOT_READY',
    ],
    handler: async (req, reply) => {
      // A `traceparent` request header is continued by the HTTP server span (when tracing is on);
      // the produce carries that trace on to the worker in the record's headers.
      const r = await chat().sender.send(who(req), req.params.id, req.body, {
        waitPersisted: req.query.wait === 'persisted',
      });
      if (r.status === 'persisted') {
        reply.code(201);
        return r.message;
      }
      reply.code(202);
      return { id: r.id, status: 'accepted' };
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/conversations/:id/messages',
    operationId: 'listMessages',
    summary: 'Messages in seq order: after=seq pages forward, before=seq backward',
    tags: msgTags,
    access: 'user',
    params: S.ConversationParams,
    query: S.MessagesQuery,
    responses: { 200: { description: 'A page', schema: S.MessagePage } },
    errors: [...common, 'INVALID_CURSOR'],
    handler: async (req) => chat().views.messages(who(req), req.params.id, req.query),
  });

  for (const kind of ['read', 'delivered'] as const) {
    api.route({
      method: 'POST',
      url: `/v1/conversations/:id/${kind}`,
      operationId: kind === 'read' ? 'markRead' : 'markDelivered',
      summary:
        kind === 'read'
          ? 'Move your read cursor forward (implies delivered)'
          : 'Report messages up to seq as delivered to a device',
      tags: msgTags,
      access: 'user',
      params: S.ConversationParams,
      body: S.ReadBody,
      responses: {
        200: {
          description: 'Your cursors',
          schema: S.z.object({ readSeq: S.z.number().int(), deliveredSeq: S.z.number().int() }),
        },
      },
      errors: common,
      handler: async (req) => chat().actions.receipt(who(req), req.params.id, req.body.seq, kind),
    });
  }

  api.route({
    method: 'PATCH',
    url: '/v1/messages/:id',
    operationId: 'editMessage',
    summary: 'Edit your message within the edit window',
    tags: msgTags,
    access: 'user',
    params: S.MessageParams,
    body: S.EditBody,
    responses: { 200: { description: 'The message', schema: S.MessageView } },
    errors: [
      'MESSAGE_NOT_FOUND',
      'NOT_ALLOWED_BY_ROLE',
      'EDIT_WINDOW_PASSED',
      'MESSAGE_DELETED',
      'MESSAGE_ENCRYPTED',
      'RATE_LIMITED',
    ],
    handler: async (req) => chat().actions.edit(who(req), req.params.id, req.body.body),
  });

  api.route({
    method: 'DELETE',
    url: '/v1/messages/:id',
    operationId: 'deleteMessage',
    summary: 'Delete for everyone (sender, or a group owner/admin); leaves a tombstone',
    tags: msgTags,
    access: 'user',
    params: S.MessageParams,
    responses: { 204: { description: 'Deleted' } },
    errors: ['MESSAGE_NOT_FOUND', 'NOT_ALLOWED_BY_ROLE', 'RATE_LIMITED'],
    handler: async (req, reply) => {
      await chat().actions.remove(who(req), req.params.id);
      reply.code(204);
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/messages/:id/replies',
    operationId: 'listReplies',
    summary: 'Replies to a message (its thread)',
    tags: msgTags,
    access: 'user',
    params: S.MessageParams,
    responses: {
      200: {
        description: 'Replies in seq order',
        schema: S.z.object({ messages: S.z.array(S.MessageView) }),
      },
    },
    errors: ['MESSAGE_NOT_FOUND', 'RATE_LIMITED'],
    handler: async (req) => chat().views.replies(who(req), req.params.id),
  });

  for (const on of [true, false]) {
    api.route({
      method: on ? 'PUT' : 'DELETE',
      url: '/v1/messages/:id/reactions/:emoji',
      operationId: on ? 'addReaction' : 'removeReaction',
      summary: on ? 'React with an emoji' : 'Remove your reaction',
      tags: msgTags,
      access: 'user',
      params: S.ReactionParams,
      responses: { 200: { description: 'The message with reaction counts', schema: S.MessageView } },
      errors: ['MESSAGE_NOT_FOUND', 'INVALID_EMOJI', 'MESSAGE_DELETED', 'RATE_LIMITED'],
      handler: async (req) => chat().actions.react(who(req), req.params.id, req.params.emoji, on),
    });
    api.route({
      method: on ? 'PUT' : 'DELETE',
      url: '/v1/messages/:id/star',
      operationId: on ? 'starMessage' : 'unstarMessage',
      summary: on ? 'Bookmark a message' : 'Remove a bookmark',
      tags: msgTags,
      access: 'user',
      params: S.MessageParams,
      responses: { 204: { description: 'Done' } },
      errors: ['MESSAGE_NOT_FOUND', 'RATE_LIMITED'],
      handler: async (req, reply) => {
        await chat().actions.star(who(req), req.params.id, on);
        reply.code(204);
      },
    });
    api.route({
      method: on ? 'PUT' : 'DELETE',
      url: '/v1/users/me/blocks/:username',
      operationId: on ? 'blockContact' : 'unblockContact',
      summary: on ? 'Block a user: no new direct messages from them' : 'Unblock a user',
      tags: ['users'],
      access: 'user',
      params: S.UsernameParams,
      responses: { 204: { description: 'Done' } },
      errors: ['USER_NOT_FOUND', 'RATE_LIMITED'],
      handler: async (req, reply) => {
        await chat().conversations.block(who(req), req.params.username, on);
        reply.code(204);
      },
    });
  }

  api.route({
    method: 'GET',
    url: '/v1/search/messages',
    operationId: 'searchMessages',
    summary: 'Search messages in your conversations (relevance, then recency)',
    description: 'Matches whole words, case- and accent-insensitively. Encrypted messages are never indexed.',
    tags: msgTags,
    access: 'user',
    query: S.SearchQuery,
    responses: {
      200: {
        description: 'Matching messages',
        schema: S.z.object({ messages: S.z.array(S.MessageView), nextCursor: S.z.string().optional() }),
      },
    },
    errors: ['CONVERSATION_NOT_FOUND', 'INVALID_CURSOR', 'RATE_LIMITED'],
    handler: async (req) => chat().views.search(who(req), req.query),
  });

  api.route({
    method: 'GET',
    url: '/v1/users/me/stars',
    operationId: 'listStars',
    summary: 'Your bookmarked messages, newest first',
    tags: msgTags,
    access: 'user',
    responses: {
      200: { description: 'Starred messages', schema: S.z.object({ messages: S.z.array(S.MessageView) }) },
    },
    errors: ['RATE_LIMITED'],
    handler: async (req) => chat().views.starred(who(req)),
  });
}
