/**
 * Upload throughput of the media role (#22): files of a few sizes sent through the SDK
 * (@parley/client) as one multipart/form-data request (`POST /v1/media`) and as a multipart
 * upload (create, parts four at a time, complete), into the disk store (embedded) and into S3 on
 * SeaweedFS (the local stack's, when S3_BUCKET is set: `eval "$(bash scripts/stack/env.sh)"`).
 * Prints MiB/s (median of the runs) and the server's CPU seconds per MiB, and SeaweedFS's own CPU
 * beside it. The files are random bytes behind a PDF signature: sniffed and stored, no image
 * variants (those cost sharp's time, not the upload path's).
 *
 *   npm run bench:media -- [--sizes 1,8,64] [--runs 3] [--stores disk,s3] [--part-mib 8]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ParleyClient } from '../../services/client/src/index.ts';
import { cpuSeconds, loadNote, percentile, startServer, table } from './lib.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,8,64' },
    runs: { type: 'string', default: '3' },
    stores: { type: 'string', default: 'disk,s3' },
    'part-mib': { type: 'string', default: '8' },
  },
});
const MiB = 1024 * 1024;
const sizes = args.sizes.split(',').map(Number);
const runs = Number(args.runs);
const partMib = Number(args['part-mib']);

const pdf = (bytes: number) => Buffer.concat([Buffer.from('%PDF-1.7\n'), randomBytes(bytes - 9)]);

/** SeaweedFS's pid (the local stack's pidfile), to read its CPU beside ours. */
function weedPid(): number | undefined {
  const dir = process.env.PARLEY_STACK_DIR ?? join(process.cwd(), '.stack');
  try {
    return Number(readFileSync(join(dir, 'seaweedfs', 'weed.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

async function bench(store: 'disk' | 's3'): Promise<Record<string, string | number>[]> {
  const mediaDir = mkdtempSync(join(tmpdir(), 'parley-bench-media-'));
  const largest = Math.max(...sizes) * MiB;
  const server = await startServer({
    MEDIA_DIR: mediaDir,
    MEDIA_MAX_UPLOAD_BYTES: String(largest + MiB),
    MEDIA_PART_BYTES: String(partMib * MiB),
    MEDIA_QUOTA_BYTES: String(1024 * 1024 * MiB),
    RATE_LIMIT_PER_MINUTE: '100000',
    LOG_LEVEL: 'error',
    ...(store === 's3'
      ? {
          S3_ENDPOINT: process.env.S3_ENDPOINT!,
          S3_BUCKET: process.env.S3_BUCKET!,
          S3_ACCESS_KEY_ID: process.env.S3_ACCESS_KEY_ID!,
          S3_SECRET_ACCESS_KEY: process.env.S3_SECRET_ACCESS_KEY!,
          S3_CREATE_BUCKET: 'true',
        }
      : {}),
  });
  const weed = store === 's3' ? weedPid() : undefined;
  const rows: Record<string, string | number>[] = [];
  try {
    const client = new ParleyClient({ baseUrl: server.url, media: { singleMaxBytes: largest + MiB } });
    const signUp = async () => {
      const username = `bench_${randomBytes(4).toString('hex')}`;
      await client.register({ username, password: 'a long and unusual passphrase' });
      return username;
    };
    const peer = await signUp();
    await signUp();
    const chat = await client.createConversation({ type: 'direct', members: [peer] });
    for (const kind of ['single', 'multipart'] as const)
      for (const mib of sizes) {
        const file = pdf(mib * MiB);
        const upload = () =>
          kind === 'single'
            ? client.media.uploadSingle({ conversationId: chat.id, file, filename: `${randomUUID()}.pdf` })
            : client.media.uploadMultipart({
                conversationId: chat.id,
                file,
                filename: `${randomUUID()}.pdf`,
              });
        await upload(); // warm: connections, code paths
        const rates: number[] = [];
        let cpu = 0;
        let weedCpu = 0;
        for (let r = 0; r < runs; r++) {
          const [c0, w0] = [cpuSeconds(server.proc.pid!), weed ? cpuSeconds(weed) : 0];
          const t0 = performance.now();
          const a = await upload();
          const secs = (performance.now() - t0) / 1000;
          if (a.size !== file.length) throw new Error(`stored ${a.size} bytes of ${file.length}`);
          rates.push(mib / secs);
          cpu += cpuSeconds(server.proc.pid!) - c0;
          weedCpu += weed ? cpuSeconds(weed) - w0 : 0;
        }
        rates.sort((x, y) => x - y);
        rows.push({
          store,
          upload: kind === 'single' ? 'one request' : `multipart (${partMib} MiB parts)`,
          'size MiB': mib,
          'MiB/s (median)': percentile(rates, 50),
          'MiB/s (min-max)': `${rates[0]!.toFixed(1)}-${rates.at(-1)!.toFixed(1)}`,
          'Parley CPU s/MiB': (cpu / runs / mib).toFixed(4),
          'SeaweedFS CPU s/MiB': weed ? (weedCpu / runs / mib).toFixed(4) : '-',
        });
        console.error(`  ${store} ${kind} ${mib} MiB: ${percentile(rates, 50).toFixed(1)} MiB/s`);
      }
  } finally {
    await server.stop();
    rmSync(mediaDir, { recursive: true, force: true });
  }
  return rows;
}

const stores = args.stores.split(',') as ('disk' | 's3')[];
console.log(
  `media upload bench: SDK → embedded server (one process) on loopback, sizes ${args.sizes} MiB, ${runs} runs each, node ${process.version}, ${loadNote()}`,
);
const rows: Record<string, string | number>[] = [];
for (const store of stores) {
  if (store === 's3' && !process.env.S3_BUCKET) {
    console.log('s3: skipped (no S3_BUCKET; eval "$(bash scripts/stack/env.sh)" after scripts/stack/up.sh)');
    continue;
  }
  rows.push(...(await bench(store)));
}
console.log(table(rows));
console.log(`after: ${loadNote()}`);
