import twilio from 'twilio';
import { checkSms, SmsError, type Sms } from './port.ts';

export interface TwilioSmsOptions {
  accountSid: string;
  authToken: string;
  /** Sender number, or use a messaging service. */
  from?: string;
  messagingServiceSid?: string;
  /** Replaces https://api.twilio.com (tests point it at a local fake speaking Twilio's API). */
  baseUrl?: string;
  timeoutMs?: number;
}

// Twilio error codes that mean the recipient or content is at fault, not the service.
const REJECTED_NUMBER = new Set([21211, 21214, 21217, 21407, 21408, 21421, 21610, 21612, 21614]);

/** The production SMS adapter, through Twilio's official SDK. */
export class TwilioSms implements Sms {
  readonly kind = 'twilio' as const;
  private readonly client: twilio.Twilio;

  constructor(private readonly opts: TwilioSmsOptions) {
    if (!opts.from && !opts.messagingServiceSid)
      throw new Error('Twilio needs a from number or a messaging service sid');
    const httpClient = new twilio.RequestClient({ timeout: opts.timeoutMs ?? 10_000 });
    if (opts.baseUrl) {
      const base = opts.baseUrl.replace(/\/$/, '');
      const request = httpClient.request.bind(httpClient);
      httpClient.request = (o) => request({ ...o, uri: o.uri.replace(/^https:\/\/api\.twilio\.com/, base) });
    }
    this.client = twilio(opts.accountSid, opts.authToken, { httpClient, autoRetry: true, maxRetries: 2 });
  }

  async send(to: string, body: string): Promise<{ id: string }> {
    checkSms(to, body);
    try {
      const msg = await this.client.messages.create({
        to,
        body,
        ...(this.opts.messagingServiceSid
          ? { messagingServiceSid: this.opts.messagingServiceSid }
          : { from: this.opts.from! }),
      });
      return { id: msg.sid };
    } catch (err) {
      const e = err as { status?: number; code?: number; message?: string };
      if (typeof e.code === 'number' && REJECTED_NUMBER.has(e.code))
        throw new SmsError('INVALID_NUMBER', `Twilio ${e.code}: ${e.message ?? 'rejected number'}`);
      if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
        throw new SmsError(
          'PROVIDER_REJECTED',
          `Twilio ${e.status}/${e.code ?? '?'}: ${e.message ?? 'rejected'}`,
        );
      throw new SmsError('PROVIDER_UNAVAILABLE', `Twilio unavailable: ${e.message ?? String(err)}`);
    }
  }
}
