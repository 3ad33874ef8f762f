import { createHash } from 'node:crypto';
import { SmtpMailer } from '@parley/common/mail';
import type { Mail, MailChannel, SendResult } from './port.ts';

/** SMTP's reply classes: 5xx is permanent (a bounce at the door), 4xx and network errors pass. */
export function smtpResult(err: unknown): SendResult {
  const e = err as { responseCode?: number; response?: string; message?: string; code?: string };
  const detail = e.response ?? e.message ?? String(err);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500)
    return { ok: false, kind: 'rejected', error: `bounced: ${detail}` };
  return { ok: false, kind: 'retry', error: `smtp: ${e.code ? `${e.code} ` : ''}${detail}` };
}

/** Notification mail over the shared SMTP adapter (@parley/common/mail); any SMTP server, Mailpit locally. */
export class SmtpMailChannel implements MailChannel {
  private readonly mailer: SmtpMailer;

  constructor(opts: { url: string; from: string; timeoutMs?: number }) {
    this.mailer = new SmtpMailer(opts);
  }

  async send(mail: Mail): Promise<SendResult> {
    // A deterministic Message-ID: a re-sent delivery is recognisably the same mail.
    const id = createHash('sha256').update(mail.idempotencyKey).digest('hex').slice(0, 32);
    try {
      const info = await this.mailer.send({
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: `<${id}@parley.notify>`,
        headers: {
          // One-click (RFC 8058): providers POST List-Unsubscribe=One-Click to the URL; a GET of
          // it only shows a confirmation, so link scanners turn nothing off.
          'List-Unsubscribe': `<${mail.unsubscribeUrl}>`,
          'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
          'Auto-Submitted': 'auto-generated',
        },
      });
      if (info.rejected) return { ok: false, kind: 'rejected', error: `bounced: ${info.response}` };
      return { ok: true, providerId: info.id };
    } catch (err) {
      return smtpResult(err);
    }
  }

  close(): Promise<void> {
    return this.mailer.close();
  }
}
