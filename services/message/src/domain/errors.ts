import { problemsOf, type Catalogue } from '@parley/common';

/** Error codes the message service adds to the common catalogue. Stable: clients switch on them. */
export const messageErrors = {
  CONVERSATION_NOT_FOUND: {
    status: 404,
    title: 'No such conversation',
    doc: 'It does not exist or you are not a member (the two are indistinguishable on purpose).',
  },
  MESSAGE_NOT_FOUND: {
    status: 404,
    title: 'No such message',
    doc: 'It does not exist, expired, or is in a conversation you are not a member of.',
  },
  USER_NOT_FOUND: { status: 404, title: 'No such user', doc: 'A username in the request does not exist.' },
  NOT_ALLOWED_BY_ROLE: {
    status: 403,
    title: 'Your role does not allow this',
    doc: 'Owners and admins manage groups; only the sender edits a message.',
  },
  BLOCKED: {
    status: 403,
    title: 'Blocked',
    doc: 'The other user blocked you: you cannot message them directly, or add them to a conversation.',
  },
  MEMBER_CAP_REACHED: { status: 409, title: 'Group is full', doc: 'The group reached its member cap.' },
  EDIT_WINDOW_PASSED: {
    status: 409,
    title: 'Too late to edit',
    doc: 'Messages can be edited only for a while after sending.',
  },
  MESSAGE_DELETED: {
    status: 409,
    title: 'Message deleted',
    doc: 'A deleted message cannot be edited or reacted to.',
  },
  INVALID_CURSOR: {
    status: 422,
    title: 'Invalid cursor',
    doc: 'The cursor is malformed or from another query.',
  },
  MESSAGE_ENCRYPTED: {
    status: 409,
    title: 'Message is encrypted',
    doc: 'An encrypted message is changed by sending a new ciphertext message, not by an edit.',
  },
  INVALID_MEMBERS: {
    status: 422,
    title: 'Invalid members',
    doc: 'A direct conversation names exactly one other user (yourself does not count).',
  },
  INVALID_EMOJI: {
    status: 422,
    title: 'Invalid emoji',
    doc: 'Reactions take a single emoji (up to 8 code points).',
  },
  SUBSCRIPTION_LIMIT: {
    status: 409,
    title: 'Too many push subscriptions',
    doc: 'A user may register push on at most 20 devices; remove one first.',
  },
  PUSH_ENDPOINT_NOT_ALLOWED: {
    status: 422,
    title: 'Push endpoint not allowed',
    doc: 'A Web Push endpoint must be https on a known push service (WEB_PUSH_ALLOWED_HOSTS), never a private, loopback or link-local address the operator did not list.',
  },
  INVALID_PREFERENCES: {
    status: 422,
    title: 'Invalid notification preferences',
    doc: 'The quiet hours name a time zone that is not an IANA zone (or times that are not HH:MM).',
  },
  INVALID_UNSUBSCRIBE_TOKEN: {
    status: 422,
    title: 'Invalid unsubscribe link',
    doc: 'The unsubscribe token is malformed or was not signed by this installation.',
  },
  UNSUBSCRIBE_LINK_EXPIRED: {
    status: 410,
    title: 'Unsubscribe link expired',
    doc: 'The unsubscribe link is older than NOTIFY_UNSUBSCRIBE_TTL_DAYS; a newer mail carries a fresh one, and the preferences turn mail off too.',
  },
} as const satisfies Catalogue;

export const messageProblems = problemsOf(messageErrors);
