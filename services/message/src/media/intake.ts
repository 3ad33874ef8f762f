import { fileTypeFromBuffer } from 'file-type';
import sharp from 'sharp';
import { mediaProblems as P } from './errors.ts';

/** What the client never decides: the type, from the first bytes of the file. */
export interface Sniffed {
  contentType: string;
  ext: string;
}

/** Bytes file-type needs to recognise every format it knows. */
export const SNIFF_BYTES = 4100;

/** The encrypted (E2E) blob type: the server cannot and must not look inside. */
export const CIPHERTEXT_TYPE = 'application/octet-stream';

/**
 * The file's type from its bytes (file-type), checked against the deployment's allow-list.
 * Unrecognised bytes are `application/octet-stream`, allowed only if the list names it.
 */
export async function sniffType(head: Buffer, allowed: readonly string[]): Promise<Sniffed> {
  const t = await fileTypeFromBuffer(head);
  const sniffed = t ? { contentType: t.mime, ext: t.ext } : { contentType: CIPHERTEXT_TYPE, ext: 'bin' };
  if (!typeAllowed(sniffed.contentType, allowed))
    throw P.ATTACHMENT_TYPE_NOT_ALLOWED(
      `the file is ${sniffed.contentType}, which this server does not take`,
    );
  return sniffed;
}

/** `image/*` in the list allows every image type. */
export function typeAllowed(type: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => a === type || (a.endsWith('/*') && type.startsWith(a.slice(0, -1))));
}

/** Images sharp re-encodes; others (GIF, HEIC, …) are stored as sent, without variants. */
const PROCESSED = new Set(['image/jpeg', 'image/png', 'image/webp']);

export function isProcessedImage(type: string): boolean {
  return PROCESSED.has(type);
}

export interface ImageVariants {
  width: number;
  height: number;
  /** The full image re-encoded in its own format without metadata: what "original" serves. */
  original: Buffer;
  /** The image at most `previewPx` on its longest side, WebP; EXIF (GPS, camera) stripped. */
  preview: Buffer;
  /** A square-ish thumbnail at most `thumbPx`, WebP. */
  thumbnail: Buffer;
}

/**
 * The compressed variant and the thumbnail of a cleartext image. sharp drops all metadata (EXIF,
 * XMP, ICC except sRGB) unless told to keep it; `rotate()` applies the EXIF orientation first so
 * the stripped result still shows upright. The pixel limit refuses decompression bombs.
 */
export async function imageVariants(
  original: Buffer,
  opts: { previewPx: number; thumbPx: number; maxPixels: number },
): Promise<ImageVariants> {
  const img = () => sharp(original, { limitInputPixels: opts.maxPixels, failOn: 'error' }).rotate();
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await img().metadata();
  } catch (err) {
    throw P.ATTACHMENT_TYPE_NOT_ALLOWED(`the image cannot be decoded: ${(err as Error).message}`);
  }
  const swap = (meta.orientation ?? 1) >= 5;
  const [stripped, preview, thumbnail] = await Promise.all([
    reencode(img(), meta.format),
    img()
      .resize(opts.previewPx, opts.previewPx, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toBuffer(),
    img().resize(opts.thumbPx, opts.thumbPx, { fit: 'cover' }).webp({ quality: 70 }).toBuffer(),
  ]);
  return {
    width: (swap ? meta.height : meta.width) ?? 0,
    height: (swap ? meta.width : meta.height) ?? 0,
    original: stripped,
    preview,
    thumbnail,
  };
}

/** The same format at high quality (PNG stays lossless): sharp writes no metadata by default. */
function reencode(img: ReturnType<typeof sharp>, format: string | undefined): Promise<Buffer> {
  switch (format) {
    case 'jpeg':
      return img.jpeg({ quality: 90, mozjpeg: true }).toBuffer();
    case 'png':
      return img.png({ compressionLevel: 9 }).toBuffer();
    case 'webp':
      return img.webp({ quality: 90 }).toBuffer();
    default:
      return img.webp({ quality: 90 }).toBuffer();
  }
}
