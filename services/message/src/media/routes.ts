import type { Request } from 'express';
import { pipeline } from 'node:stream/promises';
import { problems, type Api, type Principal } from '@parley/common';
import { z } from 'zod';
import type { Attachment } from './attachments.ts';
import { mediaProblems as P } from './errors.ts';
import type { Media } from './media.ts';
import { readBody, readUpload } from './upload.ts';

const who = (req: { principal: Principal | undefined }): Principal => {
  if (!req.principal) throw problems.UNAUTHENTICATED();
  return req.principal;
};

// Any name is taken; separators and control characters become '_' (it only names the download).
const Filename = z
  .string()
  .min(1)
  .max(255)
  .transform((n) => [...n].map((c) => (c === '/' || c === '\\' || c.charCodeAt(0) < 32 ? '_' : c)).join(''));
const IdParams = z.strictObject({ id: z.uuid() });
const PartParams = z.strictObject({ id: z.uuid(), partNumber: z.string().regex(/^[1-9]\d{0,3}$|^10000$/) });
const CreateUploadBody = z.strictObject({
  conversationId: z.uuid(),
  filename: Filename,
  size: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  encrypted: z.boolean().optional(),
});
const CompleteBody = z.strictObject({
  parts: z
    .array(
      z.strictObject({ partNumber: z.number().int().min(1).max(10_000), etag: z.string().min(1).max(200) }),
    )
    .min(1)
    // 1000 parts of MEDIA_PART_BYTES cover any file the limits allow (and stay under the JSON key limit).
    .max(1000),
});
const ContentQuery = z.strictObject({ variant: z.enum(['original', 'preview', 'thumbnail']).optional() });

export const AttachmentView = z.object({
  id: z.string(),
  conversationId: z.string(),
  ownerId: z.string(),
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  encrypted: z.boolean(),
  state: z.enum(['uploading', 'ready']),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  variants: z.array(z.enum(['original', 'preview', 'thumbnail'])),
  messageId: z.string().optional(),
  createdAt: z.string(),
});
const UploadView = z.object({
  attachment: AttachmentView,
  partBytes: z.number().int(),
  parts: z.array(z.object({ partNumber: z.number().int(), url: z.string().nullable() })),
});

export function attachmentView(a: Attachment): z.output<typeof AttachmentView> {
  return {
    id: a._id,
    conversationId: a.conversationId,
    ownerId: a.ownerId,
    filename: a.filename,
    contentType: a.contentType,
    size: a.size,
    encrypted: a.encrypted,
    state: a.state,
    ...(a.width !== undefined ? { width: a.width, height: a.height! } : {}),
    variants: (['original', 'preview', 'thumbnail'] as const).filter((v) => a.keys[v] !== undefined),
    ...(a.messageId !== undefined ? { messageId: a.messageId } : {}),
    createdAt: new Date(a.createdAt).toISOString(),
  };
}

/** The media role's REST contract: uploads, multipart uploads, metadata and downloads. */
export function mediaRoutes(
  api: Api,
  media: () => Media,
  limits: { maxUploadBytes: number; partBytes: number },
): void {
  const tags = ['media'];
  const upload = [
    'CONVERSATION_NOT_FOUND',
    'ATTACHMENT_NOT_FOUND',
    'ATTACHMENT_TOO_LARGE',
    'STORAGE_QUOTA_EXCEEDED',
  ];

  api.route({
    method: 'POST',
    url: '/v1/media',
    operationId: 'uploadAttachment',
    summary: 'Upload a small file (multipart/form-data) to a conversation you are a member of',
    description:
      'Fields `conversationId`, optional `encrypted` (`true` for an end-to-end encrypted blob, stored as sent and never decoded), then the `file` part. The type is sniffed from the bytes; cleartext JPEG, PNG and WebP images are stored without EXIF, with a compressed `preview` and a `thumbnail`.',
    tags,
    access: 'user',
    streamBody: {
      contentType: 'multipart/form-data',
      schema: {
        type: 'object',
        required: ['conversationId', 'file'],
        properties: {
          conversationId: { type: 'string', format: 'uuid' },
          encrypted: { type: 'string', enum: ['true', 'false'] },
          file: { type: 'string', contentMediaType: 'application/octet-stream' },
        },
      },
    },
    responses: { 201: { description: 'Stored', schema: AttachmentView } },
    errors: [...upload, 'ATTACHMENT_TYPE_NOT_ALLOWED', 'MALFORMED_UPLOAD'],
    handler: async (req, reply) => {
      const p = who(req);
      const form = await readUpload(req.raw, limits.maxUploadBytes, () =>
        media().tooLarge(limits.maxUploadBytes),
      );
      const conversationId = z.uuid().safeParse(form.fields.conversationId);
      if (!conversationId.success) throw P.MALFORMED_UPLOAD('field conversationId must be a conversation id');
      const filename = Filename.safeParse(form.filename);
      const a = await media().uploadSmall(
        p,
        {
          conversationId: conversationId.data,
          filename: filename.success ? filename.data : 'file',
          encrypted: form.fields.encrypted === 'true',
        },
        form.file,
      );
      reply.code(201);
      return attachmentView(a);
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/media/uploads',
    operationId: 'createUpload',
    summary: 'Start a multipart upload of a large file; answers one URL per part',
    description:
      'PUT each part (partBytes each, the last smaller) to its `url` (a presigned S3 URL), or, where `url` is null, to /v1/media/uploads/{id}/parts/{partNumber}; keep each answer’s ETag for complete.',
    tags,
    access: 'user',
    body: CreateUploadBody,
    responses: { 201: { description: 'Started', schema: UploadView } },
    errors: upload,
    handler: async (req, reply) => {
      const r = await media().createMultipart(who(req), {
        ...req.body,
        encrypted: req.body.encrypted ?? false,
      });
      reply.code(201);
      return { attachment: attachmentView(r.attachment), partBytes: r.partBytes, parts: r.parts };
    },
  });

  api.route({
    method: 'PUT',
    url: '/v1/media/uploads/:id/parts/:partNumber',
    operationId: 'uploadPart',
    summary: 'Send one part of a multipart upload through the API (stores without presigned URLs)',
    tags,
    access: 'user',
    params: PartParams,
    streamBody: {
      contentType: 'application/octet-stream',
      schema: { type: 'string', contentMediaType: 'application/octet-stream' },
    },
    responses: {
      200: { description: 'Stored', schema: z.object({ partNumber: z.number().int(), etag: z.string() }) },
    },
    errors: ['ATTACHMENT_NOT_FOUND', 'ATTACHMENT_NOT_READY', 'ATTACHMENT_TOO_LARGE', 'MALFORMED_UPLOAD'],
    handler: async (req) => {
      const n = Number(req.params.partNumber);
      const bytes = await readBody(req.raw as Request, limits.partBytes, () =>
        media().tooLarge(limits.partBytes),
      );
      return { partNumber: n, etag: await media().uploadPart(who(req), req.params.id, n, bytes) };
    },
  });

  api.route({
    method: 'POST',
    url: '/v1/media/uploads/:id/complete',
    operationId: 'completeUpload',
    summary: 'Finish a multipart upload: joins the parts, sniffs the type, frees the unused reservation',
    tags,
    access: 'user',
    params: IdParams,
    body: CompleteBody,
    // Up to 1000 parts of ~60 bytes each.
    bodyLimit: 256 * 1024,
    responses: { 200: { description: 'Stored', schema: AttachmentView } },
    errors: [
      'ATTACHMENT_NOT_FOUND',
      'ATTACHMENT_NOT_READY',
      'ATTACHMENT_TOO_LARGE',
      'ATTACHMENT_TYPE_NOT_ALLOWED',
      'MALFORMED_UPLOAD',
    ],
    handler: async (req) =>
      attachmentView(await media().completeMultipart(who(req), req.params.id, req.body.parts)),
  });

  api.route({
    method: 'DELETE',
    url: '/v1/media/uploads/:id',
    operationId: 'abortUpload',
    summary: 'Abandon a multipart upload and its parts',
    tags,
    access: 'user',
    params: IdParams,
    responses: { 204: { description: 'Aborted' } },
    errors: ['ATTACHMENT_NOT_FOUND', 'ATTACHMENT_NOT_READY'],
    handler: async (req, reply) => {
      await media().abort(who(req), req.params.id);
      reply.code(204);
    },
  });

  api.route({
    method: 'GET',
    url: '/v1/media/:id',
    operationId: 'getAttachment',
    summary: 'An attachment’s metadata (yours, or sent in a conversation you are a member of)',
    tags,
    access: 'user',
    params: IdParams,
    responses: { 200: { description: 'The attachment', schema: AttachmentView } },
    errors: ['ATTACHMENT_NOT_FOUND'],
    handler: async (req) => attachmentView(await media().visible(who(req), req.params.id)),
  });

  api.route({
    method: 'GET',
    url: '/v1/media/:id/content',
    operationId: 'downloadAttachment',
    summary:
      'The file (or its preview/thumbnail): a redirect to a short-lived presigned URL (S3) or the bytes',
    tags,
    access: 'user',
    params: IdParams,
    query: ContentQuery,
    responses: {
      200: { description: 'The bytes', schema: z.string(), contentType: 'application/octet-stream' },
      302: {
        description: 'A presigned URL, valid for MEDIA_URL_TTL_SECONDS',
        headers: { Location: 'The URL' },
      },
    },
    errors: ['ATTACHMENT_NOT_FOUND', 'ATTACHMENT_NOT_READY'],
    handler: async (req, reply) => {
      const r = await media().read(who(req), req.params.id, req.query.variant ?? 'original');
      if ('url' in r) return reply.redirect(r.url, 302);
      const res = req.raw.res!;
      res.status(200);
      res.setHeader('content-type', r.contentType);
      res.setHeader('content-length', String(r.size));
      res.setHeader('content-disposition', `attachment; filename*=UTF-8''${encodeURIComponent(r.filename)}`);
      res.setHeader('cache-control', 'private, max-age=300');
      // Served bytes are never rendered in our origin (stored XSS through an SVG or HTML file).
      res.setHeader('content-security-policy', "default-src 'none'; sandbox");
      await pipeline(r.body, res);
    },
  });
}
