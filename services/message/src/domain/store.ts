import {
  DuplicateKeyError,
  q,
  type Collection,
  type Doc,
  type DocumentStore,
  type TextIndex,
} from '@parley/common';
import type { Change } from './changes.ts';
import { NEVER } from './envelopes.ts';

export type Role = 'owner' | 'admin' | 'member';

export interface Conversation extends Doc {
  type: 'direct' | 'group';
  title?: string;
  /** For direct conversations: the two user ids sorted and joined, unique. */
  directKey?: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  defaultTtlSeconds?: number;
}

export interface Member extends Doc {
  conversationId: string;
  userId: string;
  role: Role;
  joinedAt: string;
  readSeq: number;
  deliveredSeq: number;
  /**
   * Set while the conversation is a request: someone else started it or added this member, and
   * the member has neither sent in it nor accepted it. Their presence is not shared there.
   */
  pending?: true;
}

/** Written only by the worker that owns the conversation's partition. */
export interface ConversationState extends Doc {
  lastSeq: number;
  /**
   * The highest seq whose `message.created` event is out (written after the events, in the same
   * write as the rest of the state). A re-send of a stored message above it (stored, then a crash
   * before its event) announces it; at or below it, a re-send broadcasts nothing. Absent in
   * documents from before it existed: lastSeq stands in.
   */
  emittedSeq?: number;
  lastMessageAt: string;
  preview: {
    id: string;
    seq: number;
    senderId: string;
    body?: string;
    encrypted: boolean;
    createdAt: string;
  };
}

export interface Message extends Doc {
  conversationId: string;
  seq: number;
  senderId: string;
  clientMsgId: string;
  body?: string;
  ciphertext?: string;
  replyTo?: string;
  /** Attachment ids (media/attachments.ts). */
  attachments?: string[];
  createdAt: string;
  acceptedAt: number;
  /** Epoch ms; NEVER when the message does not disappear. */
  expiresAt: number;
  editCount: number;
  editedAt?: string;
  deleted?: boolean;
  deletedAt?: string;
  deletedBy?: string;
}

/**
 * When a disappearing message is due: one per message that expires (keyed by its id), none for
 * the others, so the sweep finds them without an index entry for every message (#19).
 */
export interface Expiry extends Doc {
  conversationId: string;
  /** Epoch ms, as the message's own expiresAt. */
  expiresAt: number;
}

export interface Reaction extends Doc {
  messageId: string;
  conversationId: string;
  userId: string;
  emoji: string;
  at: string;
}

export interface Star extends Doc {
  userId: string;
  messageId: string;
  conversationId: string;
  at: string;
}

export interface UserBlock extends Doc {
  blockerId: string;
  blockedId: string;
  at: string;
}

/** Inserts, or answers false when the unique key (or the id) already exists. */
export async function insertIfAbsent<T extends Doc>(coll: Collection<T>, doc: T): Promise<boolean> {
  try {
    await coll.insertOne(doc);
    return true;
  } catch (err) {
    if (err instanceof DuplicateKeyError) return false;
    throw err;
  }
}

export interface DirectoryUser extends Doc {
  username: string;
  displayName: string;
  status: string;
  /**
   * The auth service's proven email (today: GitHub's verified primary address). An address a
   * user only typed is `pendingEmail` there, which nothing here reads.
   */
  email?: string;
}

/** Lists every message that expires in `expiries`, in pages over (expiresAt, _id). */
async function copyExpiries(messages: Collection<Message>, expiries: Collection<Expiry>): Promise<void> {
  const page = 1000;
  let after: { expiresAt: number; id: string } | undefined;
  for (;;) {
    // The rest of the last page's instant first, then later instants.
    const rest = after
      ? await messages.find(
          { expiresAt: after.expiresAt, _id: q.gt(after.id) },
          { sort: [['_id', 1]], limit: page },
        )
      : [];
    const found =
      rest.length === page
        ? rest
        : [
            ...rest,
            ...(await messages.find(
              { expiresAt: after ? [q.gt(after.expiresAt), q.lt(NEVER)] : q.lt(NEVER) },
              {
                sort: [
                  ['expiresAt', 1],
                  ['_id', 1],
                ],
                limit: page - rest.length,
              },
            )),
          ];
    if (found.length === 0) return;
    await expiries.insertMany(
      found.map((m) => ({ _id: m._id, conversationId: m.conversationId, expiresAt: m.expiresAt })),
    );
    const last = found.at(-1)!;
    after = { expiresAt: last.expiresAt, id: last._id };
  }
}

/** Where notification mail may go: the proven address only, never a pending one. */
export function verifiedEmailOf(u: { email?: unknown } | undefined): string | undefined {
  return typeof u?.email === 'string' && u.email.includes('@') ? u.email : undefined;
}

/**
 * The message service's data on the document store port. Counters are never incremented
 * concurrently (FerretDB v1 would lose updates): sequence numbers come from the single worker of
 * a partition and are guarded by a unique index; everything else is insert/delete of small docs.
 */
export class MessageStore {
  private constructor(
    readonly conversations: Collection<Conversation>,
    readonly members: Collection<Member>,
    readonly states: Collection<ConversationState>,
    readonly messages: Collection<Message>,
    /** The messages that expire, by when (the sweep's only way in: worker/expiry.ts). */
    readonly expiries: Collection<Expiry>,
    readonly reactions: Collection<Reaction>,
    readonly stars: Collection<Star>,
    readonly blocks: Collection<UserBlock>,
    /** Per conversation, every event but message.created at a position: see domain/changes.ts. */
    readonly changes: Collection<Change>,
    private readonly users: Collection<DirectoryUser>,
    /** Message search (FTS5 in SQLite, a term collection in MongoDB): see domain/search.ts. */
    readonly text: TextIndex,
  ) {}

  static async open(store: DocumentStore): Promise<MessageStore> {
    // A unique (conversationId, senderId, clientMsgId) index was redundant: a message's _id is
    // derived from exactly those (messageIdFor; the worker refuses a command whose id is not), so
    // the _id already makes a re-send collide. It cost a random B-tree page per message (#19).
    await store.dropIndex('messages', 'idempotency');
    const messages = await store.collection<Message>('messages', [
      {
        name: 'conv_seq',
        fields: [
          ['conversationId', 1],
          ['seq', 1],
        ],
        unique: true,
      },
      { name: 'reply', fields: [['replyTo', 1]], sparse: true },
    ]);
    const expiries = await store.collection<Expiry>('message_expiries', [
      { name: 'due', fields: [['expiresAt', 1]] },
    ]);
    // The sweep found disappearing messages through an index on every message's expiresAt (NEVER
    // for most, so each insert wrote a random page of it). They are listed in message_expiries
    // now; an older store's are copied there before that index goes (again, should this stop
    // half way: copies of a listed one change nothing).
    if (await store.hasIndex('messages', 'expiry')) {
      await copyExpiries(messages, expiries);
      await store.dropIndex('messages', 'expiry');
    }
    return new MessageStore(
      await store.collection<Conversation>('conversations', [
        { name: 'direct', fields: [['directKey', 1]], unique: true, sparse: true },
      ]),
      await store.collection<Member>('members', [
        { name: 'user', fields: [['userId', 1]] },
        { name: 'conversation', fields: [['conversationId', 1]] },
      ]),
      await store.collection<ConversationState>('conversation_states'),
      messages,
      expiries,
      await store.collection<Reaction>('reactions', [{ name: 'message', fields: [['messageId', 1]] }]),
      await store.collection<Star>('stars', [
        {
          name: 'user',
          fields: [
            ['userId', 1],
            ['at', -1],
          ],
        },
      ]),
      await store.collection<UserBlock>('user_blocks'),
      await store.collection<Change>('conversation_changes', [
        {
          name: 'conv_pos',
          fields: [
            ['conversationId', 1],
            ['pos', 1],
          ],
          unique: true,
        },
      ]),
      // The auth service owns users; the message service only reads them.
      await store.collection<DirectoryUser>('users'),
      await store.textIndex('search_terms'),
    );
  }

  memberId(conversationId: string, userId: string): string {
    return `${conversationId}:${userId}`;
  }

  membership(conversationId: string, userId: string): Promise<Member | null> {
    return this.members.findById(this.memberId(conversationId, userId));
  }

  membersOf(conversationId: string): Promise<Member[]> {
    return this.members.find({ conversationId }, { limit: 100_000 });
  }

  /** The user ids of a conversation's members (its events' recipients). */
  async memberIdsOf(conversationId: string): Promise<string[]> {
    return (await this.membersOf(conversationId)).map((m) => m.userId);
  }

  async usersByUsername(usernames: readonly string[]): Promise<Map<string, DirectoryUser>> {
    const found = await this.users.find(
      { username: q.in(usernames.map((u) => u.toLowerCase())) },
      { limit: usernames.length },
    );
    return new Map(found.map((u) => [u.username, u]));
  }

  async usersById(ids: readonly string[]): Promise<Map<string, DirectoryUser>> {
    if (ids.length === 0) return new Map();
    const found = await this.users.find({ _id: q.in([...ids]) }, { limit: ids.length });
    return new Map(found.map((u) => [u._id, u]));
  }

  async isBlocked(blockerId: string, blockedId: string): Promise<boolean> {
    return (await this.blocks.findById(`${blockerId}:${blockedId}`)) !== null;
  }

  /** Which of `userIds` blocked `blockedId`. */
  async blockersAmong(userIds: readonly string[], blockedId: string): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const found = await this.blocks.find(
      { _id: q.in(userIds.map((u) => `${u}:${blockedId}`)) },
      { limit: userIds.length },
    );
    return new Set(found.map((b) => b.blockerId));
  }

  /** Inserts, or answers false when the unique key already exists. */
  insertIfAbsent<T extends Doc>(coll: Collection<T>, doc: T): Promise<boolean> {
    return insertIfAbsent(coll, doc);
  }

  /** Whether a stored message's event is out (see ConversationState.emittedSeq). */
  async announced(message: { conversationId: string; seq: number }): Promise<boolean> {
    const st = await this.states.findById(message.conversationId);
    return message.seq <= (st?.emittedSeq ?? st?.lastSeq ?? 0);
  }

  /** The highest stored seq of a conversation (0 when none). */
  async lastSeq(conversationId: string): Promise<number> {
    // seq > 0 (always true) tells the SQLite store the field is present: the (conversationId, seq)
    // index then answers with one row.
    const last = await this.messages.findOne({ conversationId, seq: q.gt(0) }, { sort: [['seq', -1]] });
    return last?.seq ?? 0;
  }

  visible(now = Date.now()) {
    return { expiresAt: q.gt(now) };
  }
}
