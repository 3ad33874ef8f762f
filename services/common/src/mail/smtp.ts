import nodemailer, { type Transporter, type TransportOptions } from 'nodemailer';
import type { MailMessage, Mailer } from './port.ts';

/** Mail over SMTP through nodemailer (a pooled connection); any SMTP server, Mailpit locally. */
export class SmtpMailer implements Mailer {
  readonly kind = 'smtp' as const;
  private readonly transport: Transporter;

  constructor(private readonly opts: { url: string; from: string; timeoutMs?: number }) {
    this.transport = nodemailer.createTransport(opts.url, {
      from: opts.from,
      // Pooled: a burst of mails reuses connections instead of a handshake each.
      pool: true,
      connectionTimeout: opts.timeoutMs ?? 10_000,
      greetingTimeout: opts.timeoutMs ?? 10_000,
      socketTimeout: opts.timeoutMs ?? 10_000,
    } as TransportOptions);
  }

  async send(mail: MailMessage): Promise<{ id: string; rejected: boolean; response: string }> {
    const info = await this.transport.sendMail({
      from: this.opts.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      ...(mail.html !== undefined ? { html: mail.html } : {}),
      ...(mail.messageId !== undefined ? { messageId: mail.messageId } : {}),
      ...(mail.headers ? { headers: mail.headers } : {}),
    });
    return { id: info.messageId, rejected: (info.rejected?.length ?? 0) > 0, response: info.response ?? '' };
  }

  async close(): Promise<void> {
    this.transport.close();
  }
}
