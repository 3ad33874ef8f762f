import type { paths } from './openapi.ts';

/** REST payload types, derived from the generated OpenAPI types so they follow the server. */
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
export type RequestBody<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;
export type ResponseBody<P extends keyof paths, M extends Method, S extends number = 200> =
  Operation<P, M> extends { responses: { [K in S]: { content: { 'application/json': infer T } } } }
    ? T
    : never;

export type RegisterInput = RequestBody<'/v1/auth/register', 'post'>;
export type LoginInput = RequestBody<'/v1/auth/login', 'post'>;
export type AuthResult = ResponseBody<'/v1/auth/login', 'post'>;
export type TokenPair = ResponseBody<'/v1/auth/refresh', 'post'>;
export type Me = ResponseBody<'/v1/users/me', 'get'>;
export type MeUpdate = RequestBody<'/v1/users/me', 'patch'>;
export type PublicUser = ResponseBody<'/v1/users/{username}', 'get'>;
/** How long a mailed code works, and when another may be asked for. */
export type CodeSent = ResponseBody<'/v1/users/me/email/verification', 'post', 202>;
/** The six digits from a verification mail, or the token of its link. */
export type EmailProof = RequestBody<'/v1/users/me/email/verify', 'post'>;

export type ConversationPage = ResponseBody<'/v1/conversations', 'get'>;
export type ConversationSummary = ConversationPage['conversations'][number];
export type CreateConversationInput = RequestBody<'/v1/conversations', 'post'>;
export type Conversation = ResponseBody<'/v1/conversations/{id}', 'get'>;
export type ConversationUpdate = RequestBody<'/v1/conversations/{id}', 'patch'>;
export type ConversationPresence = ResponseBody<'/v1/conversations/{id}/presence', 'get'>;
export type AddMembersInput = RequestBody<'/v1/conversations/{id}/members', 'post'>;
export type MemberRole = RequestBody<'/v1/conversations/{id}/members/{userId}/role', 'put'>['role'];

export type MessagePage = ResponseBody<'/v1/conversations/{id}/messages', 'get'>;
/** A stored message as the REST API and the `message.created` event carry it. */
export type Message = MessagePage['messages'][number];
export type SendInput = RequestBody<'/v1/conversations/{id}/messages', 'post'>;
export type SendAccepted = ResponseBody<'/v1/conversations/{id}/messages', 'post', 202>;
export type EditInput = RequestBody<'/v1/messages/{id}', 'patch'>;
export type Receipt = ResponseBody<'/v1/conversations/{id}/read', 'post'>;
export type SearchPage = ResponseBody<'/v1/search/messages', 'get'>;
