import { field, optionalField, parse } from '@parley/common';

const MiB = 1024 * 1024;

/** The media role's settings (attachments), part of the message service's schema. */
export const mediaSettings = {
  maxUploadBytes: field(parse.int(1024, 1024 * MiB), {
    env: 'MEDIA_MAX_UPLOAD_BYTES',
    default: String(25 * MiB),
    doc: 'Largest file sent in one request (`POST /v1/media`); larger files use the multipart upload.',
  }),
  maxFileBytes: field(parse.int(1024, 5 * 1024 * 1024 * MiB), {
    env: 'MEDIA_MAX_FILE_BYTES',
    default: String(2048 * MiB),
    doc: 'Largest file through the multipart upload.',
  }),
  partBytes: field(parse.int(5 * MiB, 5 * 1024 * MiB), {
    env: 'MEDIA_PART_BYTES',
    default: String(8 * MiB),
    doc: 'Size of each part of a multipart upload (S3 takes 5 MiB at least, except the last).',
  }),
  allowedTypes: field(parse.list(), {
    env: 'MEDIA_ALLOWED_TYPES',
    default:
      'image/*,video/mp4,video/webm,video/quicktime,audio/mpeg,audio/ogg,audio/mp4,application/pdf,application/zip',
    doc: 'Types (sniffed from the bytes; `image/*` style wildcards) a cleartext upload may have. Add `application/octet-stream` to take files no signature identifies. Encrypted uploads are blobs and skip this check.',
  }),
  quotaBytes: field(parse.int(0, Number.MAX_SAFE_INTEGER), {
    env: 'MEDIA_QUOTA_BYTES',
    default: String(1024 * MiB),
    doc: 'Storage one user may hold in attachments (variants included; uploads in progress at their declared size).',
  }),
  urlTtlSec: field(parse.int(10, 7 * 86_400), {
    env: 'MEDIA_URL_TTL_SECONDS',
    default: '300',
    doc: 'Lifetime of presigned S3 URLs (part uploads and downloads).',
  }),
  abandonAfterSec: field(parse.int(60, 30 * 86_400), {
    env: 'MEDIA_ABANDON_AFTER_SECONDS',
    default: '86400',
    doc: 'An upload not completed, or completed but never sent in a message, is deleted after this long.',
  }),
  sweepIntervalSec: field(parse.int(1, 86_400), {
    env: 'MEDIA_SWEEP_INTERVAL_SECONDS',
    default: '300',
    doc: 'How often the media role deletes expired, abandoned and orphaned attachments.',
  }),
  storeCheckSec: field(parse.int(1, 300), {
    env: 'MEDIA_STORE_CHECK_SECONDS',
    default: '5',
    doc: 'How often the media role checks that the object store answers (S3 HeadBucket, or the media directory); /readyz shows the last result as dependency `objectstore`.',
  }),
  imageMaxPixels: field(parse.int(1, 1_000_000_000), {
    env: 'MEDIA_IMAGE_MAX_PIXELS',
    default: '100000000',
    doc: 'Images larger than this (width × height) are refused before decoding (decompression bombs).',
  }),
  previewPx: field(parse.int(64, 8192), {
    env: 'MEDIA_PREVIEW_PX',
    default: '1600',
    doc: 'Longest side of the compressed image variant.',
  }),
  thumbnailPx: field(parse.int(16, 1024), {
    env: 'MEDIA_THUMBNAIL_PX',
    default: '320',
    doc: 'Side of the square image thumbnail.',
  }),
  dir: optionalField(parse.string(), {
    env: 'MEDIA_DIR',
    doc: 'Where the disk object store keeps files when S3_BUCKET is absent (default: DATA_DIR/media).',
  }),
  group: field(parse.string(), {
    env: 'MEDIA_GROUP_ID',
    default: 'message-media',
    doc: 'Kafka consumer group with which the media role reads chat.events (deletions take their files).',
  }),
};

/** The S3-compatible object store; absent bucket: files on local disk (embedded mode). */
export const s3Settings = {
  bucket: optionalField(parse.string(), {
    env: 'S3_BUCKET',
    doc: 'Bucket of attachments. Absent: files on local disk (MEDIA_DIR).',
  }),
  endpoint: optionalField(parse.url(['http', 'https']), {
    env: 'S3_ENDPOINT',
    doc: 'S3 endpoint of MinIO, Ceph RGW, SeaweedFS… (absent: AWS S3 of S3_REGION).',
  }),
  region: field(parse.string(), { env: 'S3_REGION', default: 'us-east-1', doc: 'S3 region.' }),
  accessKeyId: optionalField(parse.string(), {
    env: 'S3_ACCESS_KEY_ID',
    doc: 'S3 access key id (the chart reads it from an existing Secret).',
  }),
  secretAccessKey: optionalField(parse.string(), {
    env: 'S3_SECRET_ACCESS_KEY',
    secret: true,
    doc: 'S3 secret access key.',
  }),
  forcePathStyle: field(parse.bool(), {
    env: 'S3_FORCE_PATH_STYLE',
    default: 'true',
    doc: 'Path-style URLs (`endpoint/bucket/key`), which self-hosted S3 servers need; false for AWS virtual-host style.',
  }),
  createBucket: field(parse.bool(), {
    env: 'S3_CREATE_BUCKET',
    default: 'false',
    doc: 'Create the bucket at start when missing (local stack and tests; production buckets are provisioned).',
  }),
};
