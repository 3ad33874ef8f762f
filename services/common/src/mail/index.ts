// Loads nodemailer: import '@parley/common/mail' only where mail is really sent.
export { SmtpMailer } from './smtp.ts';
export { ConsoleMailer } from './console.ts';
export type { MailMessage, Mailer } from './port.ts';
