import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import type { ServiceAccount } from '../notify/channels/fcm.ts';

export interface FakeFcmMessage {
  token: string;
  notification?: { title?: string; body?: string };
  data?: Record<string, string>;
  android?: { collapse_key?: string };
}

/**
 * A local stand-in for FCM HTTP v1 and Google's OAuth token endpoint, answering with their real
 * shapes: POST /token (a service-account JWT bearer assertion, RS256, verified against the
 * account's key) and POST /v1/projects/{project}/messages:send (Bearer token). Tokens listed in
 * `unregistered` answer 404 UNREGISTERED, as FCM does for an uninstalled app.
 */
export class FakeFcm {
  readonly messages: FakeFcmMessage[] = [];
  readonly unregistered = new Set<string>();
  /** Next n sends fail with 503 UNAVAILABLE, to exercise retries. */
  failNext = 0;
  tokenExchanges = 0;
  private readonly issued = new Set<string>();
  private readonly publicKey: KeyObject;
  private server?: Server;
  account!: ServiceAccount;
  url = '';

  constructor(readonly projectId = 'parley-test') {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.publicKey = pair.publicKey;
    this.account = {
      project_id: projectId,
      client_email: `notifier@${projectId}.iam.gserviceaccount.com`,
      private_key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString()));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.account = { ...this.account, token_uri: `${this.url}/token` };
    return this.url;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const send = (status: number, v: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
      res.end(JSON.stringify(v));
    };
    const error = (code: number, status: string, message: string, errorCode?: string) =>
      send(code, {
        error: {
          code,
          message,
          status,
          ...(errorCode
            ? { details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }] }
            : {}),
        },
      });
    if (req.method === 'POST' && req.url === '/token') {
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
        return send(400, { error: 'unsupported_grant_type' });
      if (!this.validAssertion(form.get('assertion') ?? ''))
        return send(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
      this.tokenExchanges++;
      const token = `ya29.${randomBytes(24).toString('base64url')}`;
      this.issued.add(token);
      return send(200, { access_token: token, expires_in: 3599, token_type: 'Bearer' });
    }
    if (req.method !== 'POST' || req.url !== `/v1/projects/${this.projectId}/messages:send`)
      return error(404, 'NOT_FOUND', 'Requested entity was not found.');
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!this.issued.has(bearer))
      return error(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.');
    if (this.failNext > 0) {
      this.failNext--;
      return error(503, 'UNAVAILABLE', 'The service is currently unavailable.', 'UNAVAILABLE');
    }
    let m: FakeFcmMessage | undefined;
    try {
      m = (JSON.parse(body) as { message?: FakeFcmMessage }).message;
    } catch {
      // falls through to INVALID_ARGUMENT
    }
    if (!m || typeof m.token !== 'string')
      return error(400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.', 'INVALID_ARGUMENT');
    if (Buffer.byteLength(body) > 4096 + 512)
      return error(400, 'INVALID_ARGUMENT', 'Message payload is too large.', 'INVALID_ARGUMENT');
    if (this.unregistered.has(m.token))
      return error(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
    this.messages.push(m);
    return send(200, { name: `projects/${this.projectId}/messages/${randomBytes(8).toString('hex')}` });
  }

  private validAssertion(jwt: string): boolean {
    const [head, claims, sig] = jwt.split('.');
    if (!head || !claims || !sig) return false;
    if (
      !verify('RSA-SHA256', Buffer.from(`${head}.${claims}`), this.publicKey, Buffer.from(sig, 'base64url'))
    )
      return false;
    const c = JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, unknown>;
    const now = Date.now() / 1000;
    return (
      c.iss === this.account.client_email &&
      c.aud === this.account.token_uri &&
      c.scope === 'https://www.googleapis.com/auth/firebase.messaging' &&
      typeof c.exp === 'number' &&
      c.exp > now
    );
  }
}
