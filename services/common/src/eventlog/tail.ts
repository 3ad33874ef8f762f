import type { ConsumedRecord } from './port.ts';

/**
 * Recent records kept per partition for a consumer group that lags (at least this many, at most
 * twice), so that consumers that keep up never read SQLite.
 */
export const TAIL_MAX = 256;

/**
 * One partition of the embedded event log, in memory: its high watermark and a tail of its most
 * recent records (contiguous offsets ending at the watermark).
 *
 * Records every group reading the partition in this process has committed are let go (`release`):
 * at 2,000 msg/s a tail of TAIL_MAX records held each for seconds, long enough for V8 to move
 * them (and the strings they share with the send) to the old generation, whose mark-compacts then
 * came every 2-3 s and were most of the slow deliveries (#19).
 */
export class PartitionTail {
  /** Offset of records[0]. */
  private start: number;
  private records: ConsumedRecord[] = [];
  /** The committed-offset keys of the consumer groups with members reading this partition. */
  readonly readers = new Set<string>();

  /** `end`: the next offset to be written (Kafka's high watermark), as read from the file. */
  constructor(public end: number) {
    this.start = end;
  }

  /** A record just committed at offset `end`. */
  push(record: ConsumedRecord): void {
    this.end = Number(record.offset) + 1;
    this.records.push(record);
    // Trimmed by TAIL_MAX at a time: one splice per TAIL_MAX pushes, not one copy of the tail each.
    if (this.records.length >= 2 * TAIL_MAX) {
      this.records.splice(0, this.records.length - TAIL_MAX);
      this.start = this.end - this.records.length;
    }
  }

  /** Every reader has committed `upTo`: the records before it go (reads of them go to the file). */
  release(upTo: number): void {
    const n = Math.min(upTo, this.end) - this.start;
    if (n <= 0) return;
    this.records.splice(0, n);
    this.start += n;
  }

  /** Records [from, from + max), or undefined when `from` is older than the tail (read the file). */
  read(from: number, max: number): ConsumedRecord[] | undefined {
    if (from < this.start) return undefined;
    const i = from - this.start;
    return this.records.slice(i, i + max);
  }

  /** Another writer moved the watermark: the tail restarts there (the records between are not here). */
  reset(end: number): void {
    this.end = end;
    this.start = end;
    this.records = [];
  }
}
