import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { HttpApp } from '@parley/common';

export interface WebDemoOptions {
  /** Serve the demo web client at `/` (WEB_DEMO_ENABLED). */
  enabled: boolean;
}

/** The page's sources live with the SDK they demonstrate. */
const demoDir = fileURLToPath(new URL('../../../client/demo/', import.meta.url));
/** The SDK as npm users get it (`bash scripts/sdk/pack.sh` compiles it here), used when present. */
const builtSdk = fileURLToPath(new URL('../../../client/dist/index.js', import.meta.url));

interface Asset {
  type: string;
  body: string | Buffer;
}

/**
 * Bundles the demo's TypeScript (and the SDK it imports) in memory with esbuild. esbuild is
 * imported lazily: it is a build tool, and an image without it still serves everything else.
 */
async function bundle(): Promise<string> {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [demoDir + 'app.ts'],
    ...(existsSync(builtSdk) ? { alias: { '@parley/client': builtSdk } } : {}),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
}

/** A host header we can echo into the CSP safely (host, optional port). */
const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/**
 * Strict policy for the page: scripts and styles only from this origin (no inline code), API and
 * WebSocket calls only to this host. The JSON API keeps helmet's `default-src 'none'`.
 */
export function demoCsp(host: string | undefined): string {
  const ws = host && HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // blob: for attachments, fetched with the access token and shown through object URLs.
    "img-src 'self' data: blob:",
    `connect-src 'self'${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Serves the demo web client (built on @parley/client) at `/`. */
export function registerWebDemo(app: HttpApp, opts: WebDemoOptions): void {
  if (!opts.enabled) return;
  const cache = new Map<string, Promise<Asset>>();
  const load = (name: string, make: () => Promise<Asset>): Promise<Asset> => {
    let hit = cache.get(name);
    if (!hit) {
      hit = make();
      cache.set(name, hit);
      // A failed build is retried on the next request instead of being cached.
      hit.catch(() => cache.delete(name));
    }
    return hit;
  };
  const file = (name: string, type: string) => () =>
    readFile(demoDir + name).then((body) => ({ type, body }));
  const assets: Record<string, () => Promise<Asset>> = {
    '/': file('index.html', 'text/html; charset=utf-8'),
    '/demo/style.css': file('style.css', 'text/css; charset=utf-8'),
    '/demo/app.js': async () => ({ type: 'text/javascript; charset=utf-8', body: await bundle() }),
    // The push service worker: plain JavaScript, its own file (a worker's script URL is its identity).
    '/demo/sw.js': file('sw.js', 'text/javascript; charset=utf-8'),
  };
  for (const [url, make] of Object.entries(assets))
    app.route('GET', url, async (req, res) => {
      const asset = await load(url, make);
      res
        .set({
          'content-type': asset.type,
          'content-security-policy': demoCsp(req.headers.host),
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
        })
        .send(asset.body);
    });
}
