import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';
import { checkSms, type Sms } from './port.ts';

/**
 * The embedded SMS adapter: writes the text to the log so a developer running Parley locally
 * can read OTP codes. Never selected when Twilio is configured.
 */
export class ConsoleSms implements Sms {
  readonly kind = 'console' as const;
  /** The last messages sent, newest last (for local tooling and tests). */
  readonly outbox: { id: string; to: string; body: string }[] = [];

  constructor(private readonly logger: Logger) {}

  async send(to: string, body: string): Promise<{ id: string }> {
    checkSms(to, body);
    const id = `console-${randomUUID()}`;
    this.outbox.push({ id, to, body });
    if (this.outbox.length > 100) this.outbox.shift();
    this.logger.info({ smsId: id, to, sms: body }, 'SMS (console adapter; configure Twilio to really send)');
    return { id };
  }
}
