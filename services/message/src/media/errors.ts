import { problemsOf, type Catalogue } from '@parley/common';

/** Error codes of the media role. Stable: clients switch on them. */
export const mediaErrors = {
  ATTACHMENT_TOO_LARGE: {
    status: 422,
    title: 'Attachment too large',
    doc: 'The file exceeds MEDIA_MAX_UPLOAD_BYTES (one request) or MEDIA_MAX_FILE_BYTES (multipart).',
  },
  ATTACHMENT_TYPE_NOT_ALLOWED: {
    status: 422,
    title: 'Attachment type not allowed',
    doc: 'The type sniffed from the bytes (never the declared one) is not in MEDIA_ALLOWED_TYPES.',
  },
  STORAGE_QUOTA_EXCEEDED: {
    status: 403,
    title: 'Storage quota exceeded',
    doc: 'Your attachments would exceed MEDIA_QUOTA_BYTES; delete messages with attachments first.',
  },
  ATTACHMENT_NOT_FOUND: {
    status: 404,
    title: 'No such attachment',
    doc: 'It does not exist, was deleted, or is in a conversation you are not a member of.',
  },
  ATTACHMENT_NOT_READY: {
    status: 409,
    title: 'Attachment not usable',
    doc: 'A message may reference only your own completed uploads, to one conversation and one message.',
  },
  MALFORMED_UPLOAD: {
    status: 422,
    title: 'Malformed upload',
    doc: 'The multipart/form-data body, or the part list of a multipart upload, is not what the route takes.',
  },
} as const satisfies Catalogue;

export const mediaProblems = problemsOf(mediaErrors);
