import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto';

/** A browser's side of one subscription: its ECDH key pair and auth secret (RFC 8291 §2). */
interface Subscriber {
  ecdh: ReturnType<typeof createECDH>;
  auth: Buffer;
  /** Status the endpoint answers with (201: accepted; 404/410: unsubscribed). */
  status: number;
}

export interface ReceivedPush {
  subscription: string;
  /** The decrypted payload: only the subscription's keys can produce it. */
  plaintext: string;
  headers: { ttl?: string; topic?: string; urgency?: string; encoding?: string };
  /** The VAPID JWT's claims, after its ES256 signature was verified with the `k` key. */
  vapid: { aud: string; sub: string; exp: number; k: string };
}

/**
 * A local push service endpoint (RFC 8030, over TLS with a throw-away certificate for 127.0.0.1, as
 * push services are HTTPS only) that plays the browser too: it owns each subscription's
 * keys, checks the VAPID authorization (RFC 8292), and decrypts the aes128gcm body (RFC 8188 +
 * RFC 8291: ECDH, HKDF, AES-128-GCM) with those keys. A payload that decrypts proves the encryption.
 */
export class PushEndpoint {
  readonly received: ReceivedPush[] = [];
  readonly errors: string[] = [];
  private readonly subs = new Map<string, Subscriber>();
  private server?: Server;
  url = '';
  /** The endpoint's certificate, to trust (the channel's `tls.ca` in tests). */
  ca = '';

  async start(): Promise<string> {
    const tls = selfSignedCertificate();
    this.ca = tls.cert;
    this.server = createServer(tls, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    // Channels keep their connections alive; the endpoint going away ends them.
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A new subscription, as PushManager.subscribe() hands it to the page. */
  subscribe(): { endpoint: string; keys: { p256dh: string; auth: string } } {
    const id = randomBytes(12).toString('base64url');
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    this.subs.set(id, { ecdh, auth, status: 201 });
    return {
      endpoint: `${this.url}/push/${id}`,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    };
  }

  /** From now on, pushes to this subscription answer `status` (410: the user unsubscribed). */
  answer(endpoint: string, status: number): void {
    this.subs.get(endpoint.split('/').pop()!)!.status = status;
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const id = (req.url ?? '').split('/').pop() ?? '';
    const sub = this.subs.get(id);
    const done = (status: number, why = '') => {
      if (why) this.errors.push(why);
      res.writeHead(
        status,
        status === 201 ? { location: `${this.url}/msg/${randomBytes(6).toString('hex')}` } : {},
      );
      res.end(why);
    };
    if (req.method !== 'POST' || !sub) return done(404, 'no such subscription');
    if (sub.status !== 201) return done(sub.status);
    try {
      const vapid = verifyVapid(req.headers.authorization ?? '', this.url);
      if (req.headers['content-encoding'] !== 'aes128gcm')
        throw new Error('content-encoding must be aes128gcm');
      const plaintext = decryptAes128gcm(body, sub.ecdh, sub.auth);
      this.received.push({
        subscription: `${this.url}/push/${id}`,
        plaintext,
        headers: {
          ttl: req.headers.ttl as string | undefined,
          topic: req.headers.topic as string | undefined,
          urgency: req.headers.urgency as string | undefined,
          encoding: req.headers['content-encoding'],
        },
        vapid,
      });
      done(201);
    } catch (err) {
      done(400, (err as Error).message);
    }
  }
}

/** A throw-away certificate for 127.0.0.1 (openssl, as Node cannot make one). */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'parley-push-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Checks `vapid t=<jwt>, k=<key>`: ES256 over the JWT with the P-256 key k, aud = our origin. */
function verifyVapid(header: string, origin: string): ReceivedPush['vapid'] {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header);
  if (!m) throw new Error('authorization is not `vapid t=…, k=…`');
  const [, jwt, k] = m as unknown as [string, string, string];
  const [head, claims, sig] = jwt.split('.') as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    format: 'jwk',
  });
  const ok = verify(
    'sha256',
    Buffer.from(`${head}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(sig, 'base64url'),
  );
  if (!ok) throw new Error('VAPID signature does not verify');
  const c = JSON.parse(Buffer.from(claims, 'base64url').toString()) as {
    aud: string;
    sub: string;
    exp: number;
  };
  if (c.aud !== origin) throw new Error(`VAPID aud ${c.aud} is not ${origin}`);
  if (!(c.exp > Date.now() / 1000)) throw new Error('VAPID token expired');
  return { ...c, k };
}

/** RFC 8291 §3.4 key derivation: the content key and nonce from ECDH and the auth secret. */
function derive(salt: Buffer, ecdhSecret: Buffer, auth: Buffer, uaPublic: Buffer, asPublic: Buffer) {
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  return { cek, nonce };
}

/** Decrypts one aes128gcm body (RFC 8188 header: salt, rs, idlen, keyid = sender's public key). */
export function decryptAes128gcm(body: Buffer, ua: ReturnType<typeof createECDH>, auth: Buffer): string {
  if (body.length < 21 + 65 + 17) throw new Error(`body too short (${body.length} bytes)`);
  const salt = body.subarray(0, 16);
  const rs = body.readUInt32BE(16);
  const idlen = body[20]!;
  const asPublic = body.subarray(21, 21 + idlen);
  const record = body.subarray(21 + idlen);
  if (record.length > rs) throw new Error(`one record expected (rs ${rs}, ${record.length} bytes)`);
  const { cek, nonce } = derive(salt, ua.computeSecret(asPublic), auth, ua.getPublicKey(), asPublic);
  const d = createDecipheriv('aes-128-gcm', cek, nonce);
  d.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([d.update(record.subarray(0, record.length - 16)), d.final()]);
  // The last record ends with a 0x02 delimiter and optional zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('bad padding delimiter');
  return padded.subarray(0, end).toString('utf8');
}
