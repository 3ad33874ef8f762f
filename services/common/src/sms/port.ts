/** The SMS port: send one text to one E.164 number. Twilio in production, the log in embedded mode. */
export interface Sms {
  readonly kind: 'twilio' | 'console';
  /** Resolves with the provider's message id once the provider accepted the message. */
  send(to: string, body: string): Promise<{ id: string }>;
}

export type SmsErrorCode = 'INVALID_NUMBER' | 'BODY_TOO_LONG' | 'PROVIDER_REJECTED' | 'PROVIDER_UNAVAILABLE';

export class SmsError extends Error {
  constructor(
    readonly code: SmsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SmsError';
  }
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** Twilio's limit for one message body. */
export const MAX_BODY = 1600;

/** Checks what every adapter must refuse before contacting anyone. */
export function checkSms(to: string, body: string): void {
  if (typeof to !== 'string' || !E164.test(to))
    throw new SmsError('INVALID_NUMBER', `"${String(to)}" is not an E.164 number`);
  if (typeof body !== 'string' || body.length === 0 || body.length > MAX_BODY)
    throw new SmsError('BODY_TOO_LONG', `body must be 1-${MAX_BODY} characters`);
}
