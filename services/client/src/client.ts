import type {
  AddMembersInput,
  AuthResult,
  CodeSent,
  Conversation,
  ConversationPage,
  ConversationPresence,
  ConversationUpdate,
  CreateConversationInput,
  EditInput,
  EmailProof,
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
import { ParleyApiError, problemOf } from './errors.ts';
import { ParleyMedia, type MediaOptions } from './media.ts';
import { ParleyNotifications } from './notifications.ts';

import type { RequestOptions } from './transport.ts';

export { ParleyApiError } from './errors.ts';
export type { RequestOptions } from './transport.ts';

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
  /** How attachments are uploaded. */
  media?: MediaOptions;
}

/** Bodies sent as they are (uploads); anything else goes as JSON. */
const isRaw = (body: unknown): body is Blob | FormData => body instanceof Blob || body instanceof FormData;
const enc = encodeURIComponent;
/** The largest seq a cursor parameter accepts (15 digits): `before` it means "the latest". */
const MAX_SEQ = 999_999_999_999_999;

/**
 * The TypeScript client for Parley's REST API: accounts, conversations, messages, receipts and
 * search, typed from the OpenAPI document; attachments in `media`, notifications and push in
 * `notifications`. It holds the token pair and refreshes the access token before it expires and
 * once on a 401, with one refresh in flight at a time.
 */
export class ParleyClient {
  readonly baseUrl: string;
  /** Attachments: uploads (single or multipart), metadata, downloads. */
  readonly media: ParleyMedia;
  /** Notifications, their preferences, and push subscriptions. */
  readonly notifications: ParleyNotifications;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private held: TokenPair | null;
  private refreshing: Promise<TokenPair> | null = null;

  constructor(private readonly opts: ParleyClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.fetchFn = opts.fetch ?? ((...args) => fetch(...args));
    this.now = opts.now ?? Date.now;
    this.held = opts.tokens ?? null;
    this.media = new ParleyMedia(this, opts.media);
    this.notifications = new ParleyNotifications(this);
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

  /**
   * Sends a request (a Blob or FormData body as is, anything else as JSON) and returns the parsed
   * body; throws ParleyApiError for a problem answer.
   */
  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<{ status: number; body: T }> {
    const res = await this.authorized(options, (auth) => this.send(method, path, body, options, auth));
    const type = res.headers.get('content-type') ?? '';
    const parsed: unknown =
      res.status === 204 ? undefined : type.includes('json') ? await res.json() : await res.text();
    return { status: res.status, body: parsed as T };
  }

  /**
   * Sends a request and returns the Response unread, without following a redirect (downloads);
   * throws ParleyApiError for a problem answer.
   */
  fetchRaw(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const raw = { ...options, redirect: options.redirect ?? 'manual' };
    return this.authorized(options, (auth) => this.send(method, path, undefined, raw, auth));
  }

  /** A request outside the API (presigned storage URLs): no token, the client's fetch and timeout. */
  external(url: string, init: RequestInit, timeoutMs?: number): Promise<Response> {
    return this.fetchFn(url, {
      ...init,
      signal: AbortSignal.timeout(timeoutMs ?? this.opts.timeoutMs ?? 10_000),
    });
  }

  private async authorized(
    options: RequestOptions,
    attempt: (auth: boolean) => Promise<Response>,
  ): Promise<Response> {
    const auth = options.auth ?? this.held !== null;
    if (auth && this.held && this.expiresSoon(this.held)) await this.refresh().catch(() => undefined);
    const used = this.held?.accessToken;
    try {
      return await attempt(auth);
    } catch (err) {
      if (!(auth && err instanceof ParleyApiError && err.status === 401 && this.held)) throw err;
      // Another caller may have refreshed while this request was in flight: then just retry.
      if (this.held.accessToken === used) await this.refresh();
      return attempt(auth);
    }
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions,
    auth: boolean,
  ): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined && !isRaw(body)) headers['content-type'] = 'application/json';
    if (auth && this.held) headers.authorization = `Bearer ${this.held.accessToken}`;
    const qs = Object.entries(options.query ?? {})
      .filter((e): e is [string, string | number] => e[1] !== undefined)
      .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
      .join('&');
    const res = await this.fetchFn(this.baseUrl + path + (qs ? `?${qs}` : ''), {
      method,
      headers,
      redirect: options.redirect ?? 'follow',
      ...(body === undefined ? {} : { body: isRaw(body) ? body : JSON.stringify(body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? this.opts.timeoutMs ?? 10_000),
    });
    const problem = await problemOf(res);
    if (problem) throw problem;
    return res;
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

  /** Mails a code (and link) that proves your pending email; OTP_COOLDOWN when one went moments ago. */
  requestEmailVerification(): Promise<CodeSent> {
    return this.call('POST', '/v1/users/me/email/verification');
  }

  /** Proves your pending email with the mailed code (`{ code }`) or link token (`{ token }`); it becomes your email. */
  verifyEmail(proof: EmailProof): Promise<Me> {
    return this.call('POST', '/v1/users/me/email/verify', proof);
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
}
