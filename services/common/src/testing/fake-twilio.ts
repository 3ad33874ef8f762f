import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface FakeTwilioMessage {
  sid: string;
  to: string;
  from?: string;
  body: string;
}

/**
 * A local stand-in for Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json,
 * form-encoded, basic auth), answering with Twilio's real JSON shapes. Twilio's magic test
 * number +15005550001 is rejected with error 21211 as the real API does for test credentials.
 */
export class FakeTwilio {
  readonly messages: FakeTwilioMessage[] = [];
  private server?: Server;
  /** Next n requests fail with 503, to exercise retries and outages. */
  failNext = 0;

  constructor(
    readonly accountSid = 'AC' + randomBytes(16).toString('hex'),
    readonly authToken = randomBytes(16).toString('hex'),
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const send = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        const path = `/2010-04-01/Accounts/${this.accountSid}/Messages.json`;
        const expected = 'Basic ' + Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64');
        if (req.headers.authorization !== expected)
          return send(401, {
            code: 20003,
            message: 'Authenticate',
            more_info: 'https://www.twilio.com/docs/errors/20003',
            status: 401,
          });
        if (req.method !== 'POST' || req.url !== path)
          return send(404, { code: 20404, message: 'The requested resource was not found', status: 404 });
        if (this.failNext > 0) {
          this.failNext--;
          return send(503, { code: 20503, message: 'Service unavailable', status: 503 });
        }
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const to = form.get('To') ?? '';
        const body = form.get('Body') ?? '';
        if (to === '+15005550001')
          return send(400, {
            code: 21211,
            message: `The 'To' number ${to} is not a valid phone number.`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          });
        const sid = 'SM' + randomBytes(16).toString('hex');
        const from = form.get('From') ?? undefined;
        this.messages.push({ sid, to, body, ...(from ? { from } : {}) });
        send(201, {
          sid,
          account_sid: this.accountSid,
          to,
          from: from ?? null,
          messaging_service_sid: form.get('MessagingServiceSid'),
          body,
          status: 'queued',
          direction: 'outbound-api',
          num_segments: '1',
          date_created: new Date().toUTCString(),
          uri: `${path.replace('.json', '')}/${sid}.json`,
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
