import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { MailMessage, Mailer } from './port.ts';

/**
 * The embedded mail adapter: writes the mail to the log so someone running Parley on one machine
 * without an SMTP server can read it. Only selected in embedded mode (no MONGO_URL), never in a cluster.
 */
export class ConsoleMailer implements Mailer {
  readonly kind = 'console' as const;
  /** The last mails sent, newest last (for local tooling and tests). */
  readonly outbox: (MailMessage & { id: string })[] = [];

  constructor(private readonly logger: Logger) {}

  async send(mail: MailMessage): Promise<{ id: string; rejected: boolean; response: string }> {
    const id = `console-${randomUUID()}`;
    this.outbox.push({ ...mail, id });
    if (this.outbox.length > 100) this.outbox.shift();
    this.logger.info(
      { mailId: id, to: mail.to, subject: mail.subject, text: mail.text },
      'mail (console adapter; set SMTP_URL to really send)',
    );
    return { id, rejected: false, response: 'logged' };
  }

  async close(): Promise<void> {}
}
