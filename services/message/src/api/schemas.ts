import { atLeastOneField, nonBlank } from '@parley/common';
import { z } from 'zod';
import { SendFields } from '../domain/sendrules.ts';

export { z };

const Username = z
  .string()
  .min(3)
  .max(32)
  .regex(/^[A-Za-z0-9_.]+$/)
  .transform((s) => s.toLowerCase());
/**
 * A `limit` query parameter, documented as an integer in 1..max. Only plain digits are read as a
 * number (so `0x10`, `1e2` or ` 5` are refused, not coerced).
 */
const pageLimit = (max: number) =>
  z
    .preprocess(
      (v) => (typeof v === 'string' && /^\d{1,6}$/.test(v) ? Number(v) : v),
      z.number().int().min(1).max(max),
    )
    .optional();
/** A per-conversation sequence number in a query (`after`, `before`). */
const SeqParam = z.string().regex(/^\d{1,15}$/, 'must be a seq number');
const Title = nonBlank(128);
const Ttl = z
  .number()
  .int()
  .min(1)
  .max(365 * 86_400);

export const CreateConversationBody = z.strictObject({
  type: z.enum(['direct', 'group']),
  members: z.array(Username).min(1).max(1000),
  title: Title.optional(),
  defaultTtlSeconds: Ttl.optional(),
});
export const PatchConversationBody = atLeastOneField(
  z.strictObject({ title: Title.optional(), defaultTtlSeconds: Ttl.nullable().optional() }),
);
export const AddMembersBody = z.strictObject({ members: z.array(Username).min(1).max(1000) });
export const RoleBody = z.strictObject({ role: z.enum(['admin', 'member']) });
export const ConversationParams = z.strictObject({ id: z.uuid() });
export const MemberParams = z.strictObject({ id: z.uuid(), userId: z.uuid() });
export const MessageParams = z.strictObject({ id: z.uuid() });
export const ReactionParams = z.strictObject({
  id: z.uuid(),
  // JSON Schema patterns cannot name Unicode's emoji properties portably, so the rule is prose.
  emoji: z.string().min(1).max(64).meta({
    description:
      'One emoji: 1 to 8 code points, each Extended_Pictographic or Emoji_Component, ZWJ (U+200D) or VS16 (U+FE0F), percent-encoded. Anything else is refused with 422 INVALID_EMOJI.',
  }),
});
export const UsernameParams = z.strictObject({ username: Username });

export const ListQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: pageLimit(200),
});
export const MessagesQuery = z.strictObject({
  after: SeqParam.optional(),
  before: SeqParam.optional(),
  limit: pageLimit(200),
});
export const SendQuery = z.strictObject({ wait: z.enum(['persisted']).optional() });
/** A send's fields come from the one validation the worker shares (domain/sendrules.ts). */
export const SendBody = z
  .strictObject({
    clientMsgId: SendFields.clientMsgId,
    body: SendFields.body.optional(),
    ciphertext: SendFields.ciphertext.optional(),
    replyTo: SendFields.replyTo.optional(),
    ttlSeconds: Ttl.optional(),
    /** Ids of your completed uploads to this conversation (POST /v1/media), sent with the text or ciphertext. */
    attachments: z.array(z.uuid()).min(1).max(10).optional(),
  })
  .refine(
    (b) => (b.body === undefined) !== (b.ciphertext === undefined),
    'send exactly one of body or ciphertext',
  )
  .meta({ oneOf: [{ required: ['body'] }, { required: ['ciphertext'] }] });
export const EditBody = z.strictObject({ body: z.string().min(1).max(4000) });
export const ReadBody = z.strictObject({ seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER) });
export const SearchQuery = z.strictObject({
  q: nonBlank(200),
  conversationId: z.uuid().optional(),
  cursor: z.string().max(200).optional(),
  limit: pageLimit(100),
});

export const MessageView = z.object({
  id: z.string(),
  conversationId: z.string(),
  seq: z.number().int(),
  senderId: z.string(),
  clientMsgId: z.string(),
  body: z.string().optional(),
  ciphertext: z.string().optional(),
  deleted: z.literal(true).optional(),
  deletedAt: z.string().optional(),
  replyTo: z.string().optional(),
  attachments: z.array(z.string()).optional(),
  createdAt: z.string(),
  expiresAt: z.string().optional(),
  editCount: z.number().int(),
  editedAt: z.string().optional(),
  reactions: z.array(z.object({ emoji: z.string(), count: z.number().int(), me: z.boolean() })).optional(),
  status: z.enum(['sent', 'delivered', 'read']).optional(),
  starred: z.boolean().optional(),
});
export const MemberView = z.object({
  userId: z.string(),
  username: z.string(),
  displayName: z.string(),
  role: z.enum(['owner', 'admin', 'member']),
  joinedAt: z.string(),
  readSeq: z.number().int(),
});
export const ConversationView = z.object({
  id: z.string(),
  type: z.enum(['direct', 'group']),
  title: z.string().optional(),
  defaultTtlSeconds: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastSeq: z.number().int(),
  lastMessageAt: z.string().optional(),
  lastMessage: z
    .object({
      id: z.string(),
      seq: z.number().int(),
      senderId: z.string(),
      body: z.string().optional(),
      encrypted: z.boolean(),
      createdAt: z.string(),
    })
    .optional(),
  unreadCount: z.number().int(),
  myRole: z.enum(['owner', 'admin', 'member']),
  accepted: z.boolean().meta({
    description:
      'False while the conversation is a request to you (someone else started it or added you) that you have neither sent in nor accepted; your presence is not shared there until then.',
  }),
  members: z.array(MemberView).optional(),
});
export const ConversationList = z.object({
  conversations: z.array(ConversationView),
  nextCursor: z.string().optional(),
});
export const MessagePage = z.object({
  messages: z.array(MessageView),
  nextCursor: z.string().optional(),
  prevCursor: z.string().optional(),
});
export const Accepted = z.object({ id: z.string(), status: z.literal('accepted') });
