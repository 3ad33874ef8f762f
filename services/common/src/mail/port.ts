/**
 * The mail port: one message to one address. SMTP (nodemailer) in production, the log in
 * embedded mode. Adapters live behind '@parley/common/mail' so this index loads no driver.
 */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
  /** A deterministic Message-ID makes a re-sent mail recognisably the same one. */
  messageId?: string | undefined;
  headers?: Record<string, string> | undefined;
}

export interface Mailer {
  readonly kind: 'smtp' | 'console';
  /** Resolves with the server's message id once it accepted the mail; rejects with the SMTP error. */
  send(mail: MailMessage): Promise<{ id: string; rejected: boolean; response: string }>;
  close(): Promise<void>;
}
