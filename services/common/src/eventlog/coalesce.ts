import type { LogRecord } from './port.ts';

/** One produce call waiting for the send it joins. */
interface Call {
  records: readonly LogRecord[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface TopicState {
  calls: Call[];
  /** Sends of this topic not yet settled. */
  inFlight: number;
  /** A flush is scheduled (end of turn, or the linger timer). */
  scheduled: boolean;
  timer: NodeJS.Timeout | undefined;
}

export interface CoalescerOptions {
  /** Sends one topic's records (in order) and settles when the log acknowledged them all. */
  send: (topic: string, records: readonly LogRecord[]) => Promise<void>;
  /** A call not settled in this time fails (its records may still land). */
  timeoutMs: number;
  onTimeout: (topic: string) => Error;
  /** While a send of the topic is in flight, calls wait up to this long for more to join. */
  lingerMs?: number;
  /**
   * With nothing of the topic in flight, calls wait this long for more to join (Kafka's
   * linger.ms). 0 (the default): they go at the end of the turn, with no added wait.
   */
  idleLingerMs?: number;
  /** The most value bytes one send carries (several calls' records; one call is never split). */
  maxBytes?: number;
}

/** The default linger: Kafka's Java producer waits 5 ms (linger.ms) for a batch to fill. */
export const LINGER_MS = 5;
/** Well under Kafka's 1 MiB limit on one partition's batch (message.max.bytes). */
export const COALESCE_BYTES = 256 * 1024;

/**
 * Produce calls go to the log together, one send per topic, instead of a request each: a
 * gateway's sends and a worker's events cost the broker and this process per request more than
 * per record (#19). The rule is Kafka's producer's (linger.ms), made adaptive: with nothing of
 * the topic in flight, the calls of one turn of the event loop go at the end of that turn (no
 * added wait); while a send is in flight, calls gather until it settles or LINGER_MS pass,
 * whichever is first, so a slow or stuck send holds the next ones back at most that long.
 * `idleLingerMs` (KAFKA_LINGER_MS) makes calls wait for company even with nothing in flight: at
 * low rates a request a message otherwise, which costs the broker more than the records do.
 * Records keep the order of the calls. A call settles with the send it joined: a failure or a
 * timeout fails every call in that send, and callers retry with their own ids as before.
 */
export class ProduceCoalescer {
  private readonly topics = new Map<string, TopicState>();

  constructor(private readonly opts: CoalescerOptions) {}

  produce(topic: string, records: readonly LogRecord[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let st = this.topics.get(topic);
      if (!st) {
        st = { calls: [], inFlight: 0, scheduled: false, timer: undefined };
        this.topics.set(topic, st);
      }
      st.calls.push({ records, resolve, reject });
      if (st.scheduled) return;
      st.scheduled = true;
      const wait = st.inFlight > 0 ? (this.opts.lingerMs ?? LINGER_MS) : (this.opts.idleLingerMs ?? 0);
      if (st.inFlight === 0 && wait === 0) setImmediate(() => this.flush(topic));
      else st.timer = setTimeout(() => this.flush(topic), wait);
    });
  }

  /** Sends what the topic's calls queued, in chunks of at most maxBytes. */
  private flush(topic: string): void {
    const st = this.topics.get(topic);
    if (!st?.scheduled) return;
    clearTimeout(st.timer);
    st.timer = undefined;
    st.scheduled = false;
    const calls = st.calls;
    st.calls = [];
    const max = this.opts.maxBytes ?? COALESCE_BYTES;
    let chunk: Call[] = [];
    let bytes = 0;
    for (const call of calls) {
      const size = call.records.reduce((n, r) => n + r.value.length, 0);
      if (chunk.length > 0 && bytes + size > max) {
        this.sendChunk(topic, st, chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(call);
      bytes += size;
    }
    if (chunk.length > 0) this.sendChunk(topic, st, chunk);
  }

  private sendChunk(topic: string, st: TopicState, calls: readonly Call[]): void {
    st.inFlight++;
    let done = false;
    // The slot frees when the send settles or times out, whichever is first.
    const settle = (outcome: { ok: true } | { ok: false; err: unknown }) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      st.inFlight--;
      for (const c of calls)
        if (outcome.ok) c.resolve();
        else c.reject(outcome.err);
      // Calls that gathered behind this send go now rather than at the end of their linger.
      if (st.scheduled) this.flush(topic);
    };
    const timer = setTimeout(
      () => settle({ ok: false, err: this.opts.onTimeout(topic) }),
      this.opts.timeoutMs,
    );
    let records: LogRecord[];
    if (calls.length === 1) records = [...calls[0]!.records];
    else records = calls.flatMap((c) => c.records);
    this.opts.send(topic, records).then(
      () => settle({ ok: true }),
      (err: unknown) => settle({ ok: false, err }),
    );
  }
}
