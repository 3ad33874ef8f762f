import type {
  AddMembersInput,
  Attachment,
  AttachmentVariant,
  PushSubscriptionInput,
  PushSubscriptionView,
  AuthResult,
  Conversation,
  ConversationPage,
  ConversationPresence,
  ConversationUpdate,
  CreateConversationInput,
  EditInput,
  LoginInput,
  Me,
  MemberRole,
  MeUpdate,
  Message,
  MessagePage,
  PublicUser,
  Receipt,
  RegisterInput,
  ResponseBody,
  SearchPage,
  SendAccepted,
  SendInput,
  TokenPair,
} from './types.ts';

/** A problem+json answer from a Parley service, with its stable `code`. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string | undefined,
    readonly problem: Record<string, unknown>,
  ) {
    super(`${status} ${code}${detail ? `: ${detail}` : ''}`);
    this.name = 'ParleyApiError';
  }
}

export interface ParleyClientOptions {
  /** Base URL of the Parley ingress or embedded server, e.g. http://localhost:8080. */
  baseUrl: string;
  /** Injected for tests or non-standard runtimes; defaults to the global fetch. */
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Tokens from an earlier sign-in (e.g. restored from storage). */
  tokens?: TokenPair;
  /** Called whenever the held tokens change (sign-in, refresh, sign-out: `null`), to persist them. */
  onTokens?: (tokens: TokenPair | null) => void;
  /** Refresh the access token this long before it expires (default 30 s). */
  refreshSkewMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  /** Send the access token (default: whenever the client holds one). */
  auth?: boolean;
}

const enc = encodeURIComponent;
/** The largest seq a cursor parameter accepts (15 digits): `before` it means "the latest". */
const MAX_SEQ = 999_999_999_999_999;

/**
 * The TypeScript client for Parley's REST API: accounts, conversations, messages, receipts and
 * search, typed from the OpenAPI document. It holds the token pair and refreshes the access token
 * before it expires and once on a 401, with one refresh in flight at a time.
 */
export class ParleyClient {
  readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private held: TokenPair | null;
  private refreshing: Promise<TokenPair> | null = null;

  constructor(private readonly opts: ParleyClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? ((...args) => fetch(...args));
    this.now = opts.now ?? Date.now;
    this.held = opts.tokens ?? null;
  }

  /** The token pair held, or null when signed out. */
  get tokens(): TokenPair | null {
    return this.held;
  }

  /** Replaces the held tokens (null signs out locally) and reports the change. */
  setTokens(tokens: TokenPair | null): void {
    this.held = tokens;
    this.opts.onTokens?.(tokens);
  }

  /** Sends a request and returns the parsed JSON body; throws ParleyApiError for a problem answer. */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<{ status: number; body: T }> {
    const auth = options.auth ?? this.held !== null;
    if (auth && this.held && this.expiresSoon(this.held)) await this.refresh().catch(() => undefined);
    const used = this.held?.accessToken;
    try {
      return await this.send<T>(method, path, body, options, auth);
    } catch (err) {
      if (!(auth && err instanceof ParleyApiError && err.status === 401 && this.held)) throw err;
      // Another caller may have refreshed while this request was in flight: then just retry.
      if (this.held.accessToken === used) await this.refresh();
      return this.send<T>(method, path, body, options, auth);
    }
  }

  private async send<T>(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions,
    auth: boolean,
  ): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = {};
    // A FormData body (uploads) sets its own multipart content type, boundary included.
    const form = typeof FormData !== 'undefined' && body instanceof FormData;
    if (body !== undefined && !form) headers['content-type'] = 'application/json';
    if (auth && this.held) headers.authorization = `Bearer ${this.held.accessToken}`;
    const qs = Object.entries(options.query ?? {})
      .filter((e): e is [string, string | number] => e[1] !== undefined)
      .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
      .join('&');
    const res = await this.fetchFn(this.baseUrl + path + (qs ? `?${qs}` : ''), {
      method,
      headers,
      ...(body === undefined ? {} : { body: form ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    const type = res.headers.get('content-type') ?? '';
    const parsed: unknown =
      res.status === 204 ? undefined : type.includes('json') ? await res.json() : await res.text();
    if (type.startsWith('application/problem+json')) {
      const p = parsed as Record<string, unknown>;
      throw new ParleyApiError(res.status, String(p.code ?? 'UNKNOWN'), p.detail as string | undefined, p);
    }
    return { status: res.status, body: parsed as T };
  }

  private async call<T>(method: string, path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return (await this.request<T>(method, path, body, options)).body;
  }

  private expiresSoon(t: TokenPair): boolean {
    return Date.parse(t.accessTokenExpiresAt) - this.now() < (this.opts.refreshSkewMs ?? 30_000);
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(): Promise<string> {
    if (!this.held) throw new Error('not signed in');
    if (this.expiresSoon(this.held)) return (await this.refresh()).accessToken;
    return this.held.accessToken;
  }

  /**
   * Rotates the token pair. Concurrent callers share one request (a refresh token works once).
   * A refused refresh (revoked, reused or expired session) signs out locally.
   */
  refresh(): Promise<TokenPair> {
    if (this.refreshing) return this.refreshing;
    const held = this.held;
    if (!held) return Promise.reject(new Error('not signed in'));
    this.refreshing = this.call<TokenPair>(
      'POST',
      '/v1/auth/refresh',
      { refreshToken: held.refreshToken },
      {
        auth: false,
      },
    )
      .then(
        (tokens) => {
          this.setTokens(tokens);
          return tokens;
        },
        (err: unknown) => {
          if (err instanceof ParleyApiError && (err.status === 401 || err.status === 403))
            this.setTokens(null);
          throw err;
        },
      )
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  // --- operational --------------------------------------------------------------------------

  /** True when the server process is alive (/healthz). */
  async alive(): Promise<boolean> {
    try {
      return (await this.request('GET', '/healthz', undefined, { auth: false })).status === 200;
    } catch {
      return false;
    }
  }

  // --- accounts -----------------------------------------------------------------------------

  /** Creates an account and signs in (the client keeps the tokens). */
  async register(input: RegisterInput): Promise<AuthResult> {
    const r = await this.call<AuthResult>('POST', '/v1/auth/register', input, { auth: false });
    this.setTokens(r.tokens);
    return r;
  }

  /** Signs in with username or email and password (the client keeps the tokens). */
  async login(input: LoginInput): Promise<AuthResult> {
    const r = await this.call<AuthResult>('POST', '/v1/auth/login', input, { auth: false });
    this.setTokens(r.tokens);
    return r;
  }

  /** Ends this session on the server (or every session) and forgets the tokens. */
  async logout(options: { everywhere?: boolean } = {}): Promise<void> {
    try {
      await this.call('POST', options.everywhere ? '/v1/auth/logout-all' : '/v1/auth/logout');
    } finally {
      this.setTokens(null);
    }
  }

  /** Your account. */
  me(): Promise<Me> {
    return this.call('GET', '/v1/users/me');
  }

  /** Changes your account (`null` removes email or phone). */
  updateMe(input: MeUpdate): Promise<Me> {
    return this.call('PATCH', '/v1/users/me', input);
  }

  /** A user's public profile. */
  user(username: string): Promise<PublicUser> {
    return this.call('GET', `/v1/users/${enc(username)}`);
  }

  // --- conversations ------------------------------------------------------------------------

  /** Your conversations by last activity, with the last message and unread count. */
  listConversations(page: { cursor?: string; limit?: number } = {}): Promise<ConversationPage> {
    return this.call('GET', '/v1/conversations', undefined, { query: page });
  }

  /** Creates a group, or the direct conversation with one user (returning it if it exists). */
  createConversation(input: CreateConversationInput): Promise<Conversation> {
    return this.call('POST', '/v1/conversations', input);
  }

  /** A conversation with its members. */
  conversation(id: string): Promise<Conversation> {
    return this.call('GET', `/v1/conversations/${enc(id)}`);
  }

  /** Changes the title or default TTL (group owners and admins). */
  updateConversation(id: string, input: ConversationUpdate): Promise<Conversation> {
    return this.call('PATCH', `/v1/conversations/${enc(id)}`, input);
  }

  /** Accepts a conversation request, so your presence is shared there (sending in it does too). */
  acceptConversation(id: string): Promise<Conversation> {
    return this.call('POST', `/v1/conversations/${enc(id)}/accept`);
  }

  /** Adds members by username. */
  addMembers(
    id: string,
    input: AddMembersInput,
  ): Promise<ResponseBody<'/v1/conversations/{id}/members', 'post'>> {
    return this.call('POST', `/v1/conversations/${enc(id)}/members`, input);
  }

  /** Removes a member, or leaves when `userId` is your own. */
  async removeMember(id: string, userId: string): Promise<void> {
    await this.call('DELETE', `/v1/conversations/${enc(id)}/members/${enc(userId)}`);
  }

  /** Changes a member's role. */
  setMemberRole(
    id: string,
    userId: string,
    role: MemberRole,
  ): Promise<ResponseBody<'/v1/conversations/{id}/members/{userId}/role', 'put'>> {
    return this.call('PUT', `/v1/conversations/${enc(id)}/members/${enc(userId)}/role`, { role });
  }

  /** Presence (online, away, offline with last-seen) of a conversation's members. */
  presence(conversationId: string): Promise<ConversationPresence> {
    return this.call('GET', `/v1/conversations/${enc(conversationId)}/presence`);
  }

  // --- messages -----------------------------------------------------------------------------

  /**
   * A page of messages in seq order: `after` a seq pages forward (default: from the first),
   * `before` a seq pages backward. `prevCursor` is set when older messages exist.
   */
  listMessages(
    conversationId: string,
    page: { after?: number; before?: number; limit?: number } = {},
  ): Promise<MessagePage> {
    return this.call('GET', `/v1/conversations/${enc(conversationId)}/messages`, undefined, { query: page });
  }

  /** The newest page of a conversation (in seq order), to open it at the bottom. */
  latestMessages(conversationId: string, limit?: number): Promise<MessagePage> {
    return this.listMessages(conversationId, { before: MAX_SEQ, limit });
  }

  /** Sends over REST: 202 `{id}` once Kafka acknowledged, or the stored message with `wait`. */
  sendMessage(conversationId: string, input: SendInput): Promise<SendAccepted>;
  sendMessage(conversationId: string, input: SendInput, options: { wait: true }): Promise<Message>;
  sendMessage(
    conversationId: string,
    input: SendInput,
    options: { wait?: boolean } = {},
  ): Promise<SendAccepted | Message> {
    return this.call('POST', `/v1/conversations/${enc(conversationId)}/messages`, input, {
      query: { wait: options.wait ? 'persisted' : undefined },
    });
  }

  /** Edits your message (within the edit window). */
  editMessage(messageId: string, input: EditInput): Promise<Message> {
    return this.call('PATCH', `/v1/messages/${enc(messageId)}`, input);
  }

  /** Deletes a message for everyone, leaving a tombstone. */
  async deleteMessage(messageId: string): Promise<void> {
    await this.call('DELETE', `/v1/messages/${enc(messageId)}`);
  }

  /** Adds (`on`, default) or removes your reaction. */
  react(
    messageId: string,
    emoji: string,
    on = true,
  ): Promise<ResponseBody<'/v1/messages/{id}/reactions/{emoji}', 'put'>> {
    return this.call(on ? 'PUT' : 'DELETE', `/v1/messages/${enc(messageId)}/reactions/${enc(emoji)}`);
  }

  /** Moves your read cursor forward (reading implies delivered). */
  markRead(conversationId: string, seq: number): Promise<Receipt> {
    return this.call('POST', `/v1/conversations/${enc(conversationId)}/read`, { seq });
  }

  /** Moves your delivered cursor forward. */
  markDelivered(conversationId: string, seq: number): Promise<Receipt> {
    return this.call('POST', `/v1/conversations/${enc(conversationId)}/delivered`, { seq });
  }

  /** Whole-word search in your conversations. */
  searchMessages(query: {
    q: string;
    conversationId?: string;
    cursor?: string;
    limit?: number;
  }): Promise<SearchPage> {
    return this.call('GET', '/v1/search/messages', undefined, { query });
  }

  /** Uploads a small file to a conversation you are in; send its id in a message's `attachments`. */
  uploadAttachment(conversationId: string, file: Blob, filename: string): Promise<Attachment> {
    const form = new FormData();
    form.append('conversationId', conversationId);
    form.append('file', file, filename);
    return this.call('POST', '/v1/media', form);
  }

  /** An attachment's metadata (type, size, which variants exist). */
  attachment(id: string): Promise<Attachment> {
    return this.call('GET', `/v1/media/${enc(id)}`);
  }

  /**
   * An attachment's bytes (or its `preview` / `thumbnail`), fetched with your token: an `<img>`
   * cannot send one, so pages show it through `URL.createObjectURL(blob)`.
   */
  async attachmentContent(id: string, variant: AttachmentVariant = 'original'): Promise<Blob> {
    const res = await this.fetchFn(`${this.baseUrl}/v1/media/${enc(id)}/content?variant=${enc(variant)}`, {
      headers: { authorization: `Bearer ${await this.accessToken()}` },
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
    });
    if (!res.ok) {
      const p = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      throw new ParleyApiError(res.status, String(p.code ?? 'UNKNOWN'), p.detail as string | undefined, p);
    }
    return res.blob();
  }

  /** The VAPID public key (base64url) browsers subscribe with (`applicationServerKey`). */
  async vapidPublicKey(): Promise<string> {
    return (await this.call<{ publicKey: string }>('GET', '/v1/push/vapid-key')).publicKey;
  }

  /** Registers (or replaces) this device's push subscription: Web Push (PushSubscription.toJSON()) or FCM. */
  registerPush(deviceId: string, input: PushSubscriptionInput): Promise<PushSubscriptionView> {
    return this.call('PUT', `/v1/push/subscriptions/${enc(deviceId)}`, input);
  }
}
