import type { ClientFrame, SendAck, SendFields } from './frames.ts';

interface Entry {
  frame: Extract<ClientFrame, { type: 'send' }> & { id: string };
  /** Written on the current connection and not answered since. */
  inFlight: boolean;
  /** Written at least once (a later write is marked `resend`). */
  written: boolean;
  resolve: (ack: SendAck) => void;
  reject: (err: Error) => void;
}

/**
 * Sends not yet acknowledged, in the order they were made. After a reconnect every one is sent
 * again with the same clientMsgId, which the server stores once; each promise settles with the
 * first ack (or a final error).
 */
export class Outbox {
  private readonly entries = new Map<string, Entry>();
  private seq = 0;

  /** Queues a send; the promise resolves with its ack. A clientMsgId already queued shares the entry. */
  add(conversationId: string, fields: SendFields): Promise<SendAck> {
    const existing = this.entries.get(fields.clientMsgId);
    if (existing)
      return new Promise((resolve, reject) => {
        const { resolve: r0, reject: j0 } = existing;
        existing.resolve = (a) => (r0(a), resolve(a));
        existing.reject = (e) => (j0(e), reject(e));
      });
    return new Promise((resolve, reject) => {
      const frame = { type: 'send', id: `m${++this.seq}`, conversationId, ...fields } as Entry['frame'];
      this.entries.set(fields.clientMsgId, { frame, resolve, reject, inFlight: false, written: false });
    });
  }

  /** The send frames to (re)send, oldest first. */
  frames(): Entry['frame'][] {
    return [...this.entries.values()].map((e) => e.frame);
  }

  /**
   * The next send to write, marked in flight (with `resend` when written before), or undefined
   * when every send is in flight already.
   */
  next(): Entry['frame'] | undefined {
    for (const e of this.entries.values()) {
      if (e.inFlight) continue;
      e.inFlight = true;
      const resend = e.written;
      e.written = true;
      return resend ? { ...e.frame, resend: true } : e.frame;
    }
    return undefined;
  }

  /** Sends are to be written again: every one (a new connection), or the one named. */
  requeue(clientMsgId?: string): void {
    if (clientMsgId === undefined) for (const e of this.entries.values()) e.inFlight = false;
    else {
      const e = this.entries.get(clientMsgId);
      if (e) e.inFlight = false;
    }
  }

  /** Sends waiting to be written. */
  get queued(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!e.inFlight) n++;
    return n;
  }

  frame(clientMsgId: string): Entry['frame'] | undefined {
    return this.entries.get(clientMsgId)?.frame;
  }

  /** Settles the send the ack is for; false when it is not (or no longer) pending. */
  ack(ack: SendAck): boolean {
    const e = this.entries.get(ack.clientMsgId);
    if (!e) return false;
    this.entries.delete(ack.clientMsgId);
    e.resolve(ack);
    return true;
  }

  /** The clientMsgId of the pending send whose frame carried this `id`. */
  clientMsgIdOf(frameId: string): string | undefined {
    for (const [k, e] of this.entries) if (e.frame.id === frameId) return k;
    return undefined;
  }

  /** Rejects one send for good (the server refused it: re-sending would not help). */
  fail(clientMsgId: string, err: Error): void {
    const e = this.entries.get(clientMsgId);
    if (!e) return;
    this.entries.delete(clientMsgId);
    e.reject(err);
  }

  rejectAll(err: Error): void {
    for (const k of [...this.entries.keys()]) this.fail(k, err);
  }

  get size(): number {
    return this.entries.size;
  }
}
