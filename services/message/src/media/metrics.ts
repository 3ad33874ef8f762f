import client from 'prom-client';

/** The media role's series, registered at zero so dashboards have no gaps. */
export class MediaMetrics {
  readonly uploads: client.Counter<'kind'>;
  readonly uploadBytes: client.Counter<'kind'>;
  readonly refused: client.Counter<'code'>;
  readonly deleted: client.Counter<'reason'>;
  readonly processSeconds: client.Histogram;

  constructor(registry: client.Registry) {
    const registers = [registry];
    this.uploads = new client.Counter({
      name: 'parley_media_uploads_total',
      help: 'Attachments stored, by upload kind (single request or multipart).',
      labelNames: ['kind'],
      registers,
    });
    this.uploadBytes = new client.Counter({
      name: 'parley_media_upload_bytes_total',
      help: 'Bytes of attachments stored (originals), by upload kind.',
      labelNames: ['kind'],
      registers,
    });
    this.refused = new client.Counter({
      name: 'parley_media_refused_total',
      help: 'Uploads refused, by problem code.',
      labelNames: ['code'],
      registers,
    });
    this.deleted = new client.Counter({
      name: 'parley_media_deleted_total',
      help: 'Attachments deleted with their objects, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.processSeconds = new client.Histogram({
      name: 'parley_media_image_process_seconds',
      help: 'Time to strip, compress and thumbnail one image.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    for (const kind of ['single', 'multipart']) {
      this.uploads.inc({ kind }, 0);
      this.uploadBytes.inc({ kind }, 0);
    }
    for (const code of ['ATTACHMENT_TOO_LARGE', 'ATTACHMENT_TYPE_NOT_ALLOWED', 'STORAGE_QUOTA_EXCEEDED'])
      this.refused.inc({ code }, 0);
    for (const reason of ['message_deleted', 'expired', 'abandoned', 'orphaned'])
      this.deleted.inc({ reason }, 0);
  }
}
