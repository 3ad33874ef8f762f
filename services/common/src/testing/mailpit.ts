import { waitFor } from '../retry.ts';

export interface MailpitMessage {
  ID: string;
  MessageID: string;
  Subject: string;
  To: { Address: string }[];
}

export interface MailpitFull extends MailpitMessage {
  Text: string;
  HTML: string;
}

/** Mailpit's HTTP API (the local stack's SMTP server): what tests read delivered mail with. */
export class Mailpit {
  constructor(readonly api: string) {}

  private async json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await fetch(`${this.api}${path}`, init);
    if (!res.ok) throw new Error(`mailpit ${path}: ${res.status}`);
    return (await res.json()) as T;
  }

  /** Mail to one address, newest first. */
  async to(address: string): Promise<MailpitMessage[]> {
    const r = await this.json<{ messages: MailpitMessage[] }>(
      `/api/v1/search?query=${encodeURIComponent(`to:"${address}"`)}&limit=100`,
    );
    return r.messages;
  }

  /** Waits until `count` mails reached the address, then returns the newest in full. */
  async waitFor(address: string, count = 1, timeoutMs = 10_000): Promise<MailpitFull> {
    const list = await waitFor(
      async () => {
        const l = await this.to(address);
        return l.length >= count ? l : undefined;
      },
      { timeoutMs, what: `${count} mail(s) to ${address}` },
    );
    return this.message(list[0]!.ID);
  }

  message(id: string): Promise<MailpitFull> {
    return this.json<MailpitFull>(`/api/v1/message/${id}`);
  }

  headers(id: string): Promise<Record<string, string[]>> {
    return this.json<Record<string, string[]>>(`/api/v1/message/${id}/headers`);
  }

  /** Makes SMTP refuse every recipient with `code` (0 stops it): a bounce at RCPT TO. */
  async refuseRecipients(code: number): Promise<void> {
    await this.json('/api/v1/chaos', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ Recipient: { ErrorCode: code || 451, Probability: code ? 100 : 0 } }),
    });
  }
}
