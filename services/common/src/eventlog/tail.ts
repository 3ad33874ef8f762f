import type { ConsumedRecord } from './port.ts';

/** Recent records kept per partition (at least this many, at most twice) so consumers that keep up never read SQLite. */
export const TAIL_MAX = 256;

/**
 * One partition of the embedded event log, in memory: its high watermark and a tail of its most
 * recent records (contiguous offsets ending at the watermark).
 */
export class PartitionTail {
  /** Offset of records[0]. */
  private start: number;
  private records: ConsumedRecord[] = [];

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
