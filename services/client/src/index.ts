export { ParleyClient, ParleyApiError, type ParleyClientOptions, type RequestOptions } from './client.ts';
export {
  ParleyMedia,
  type Attachment,
  type AttachmentVariant,
  type MediaOptions,
  type MultipartUpload,
  type UploadInput,
} from './media.ts';
export {
  ParleyNotifications,
  type Notification,
  type NotificationPage,
  type NotificationPreferences,
  type PushDevice,
  type PushSubscriptionInput,
} from './notifications.ts';
export { ParleySocket, newClientMsgId, type SendInput as SocketSendInput } from './socket.ts';
export type {
  ParleySocketOptions,
  SocketEvents,
  SocketState,
  StateDetail,
  WebSocketConstructor,
  WebSocketLike,
} from './sockettypes.ts';
export { CursorTracker, ResumeCursors } from './cursors.ts';
export { ChatReplica, type ConversationState } from './replica.ts';
export { RecentIds } from './dedup.ts';
export { Emitter } from './emitter.ts';
export { Outbox } from './outbox.ts';
export {
  backoffDelay,
  closeAction,
  closeActions,
  defaultBackoff,
  planReconnect,
  type BackoffPolicy,
  type CloseAction,
  type ReconnectPlan,
} from './reconnect.ts';
export type * from './frames.ts';
export { PROTOCOL, BEARER_PROTOCOL_PREFIX, eventTypes } from './frames.ts';
export type * from './types.ts';
export type { paths, components, operations } from './openapi.ts';
