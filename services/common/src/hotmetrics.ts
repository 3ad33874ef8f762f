import type client from 'prom-client';

/**
 * Counters and histograms for paths run once or more per message. prom-client's inc() and
 * observe() hash the label values on every call (getLabels, validateLabel, hashObject, a
 * dictionary-mode lookup) and observe() builds a closure too: together about 5% of the embedded
 * server's main thread at 2,000 msg/s (#19). Here each label value gets a cell once; a call adds
 * to plain numbers, and the cells are added to the prom-client metric when it is collected
 * (scraped, or read with get()), so what it exports is what the same calls to prom-client would
 * have made it export (hotmetrics.test.ts checks the text is identical).
 *
 * Only metrics with no label or one label; the other labels of a series stay on prom-client.
 */

interface Collectable {
  collect?: (() => unknown) | undefined;
}

/** Runs `flush` before the metric's own collect, whenever it is collected. */
function beforeCollect(metric: object, flush: () => void): void {
  const m = metric as Collectable;
  const own = m.collect;
  m.collect = function (this: unknown) {
    flush();
    return own?.call(this);
  };
}

/** The labels of the series a cell stands for: its one label's value, or none. */
function labelsOf(label: string | undefined, value: string): Record<string, string> {
  return label ? { [label]: value } : {};
}

interface CounterCell {
  labels: Record<string, string>;
  n: number;
}

export class HotCounter<L extends string = never> {
  private readonly cells = new Map<string, CounterCell>();

  constructor(
    private readonly counter: client.Counter<L>,
    private readonly label?: L,
  ) {
    beforeCollect(counter, () => this.flush());
  }

  /** Adds `n` to the series of `value` (of the one label; omit it for a counter without labels). */
  inc(value = '', n = 1): void {
    let c = this.cells.get(value);
    if (!c) this.cells.set(value, (c = { labels: labelsOf(this.label, value), n: 0 }));
    c.n += n;
  }

  private flush(): void {
    for (const c of this.cells.values())
      if (c.n !== 0) {
        this.counter.inc(c.labels as client.LabelValues<L>, c.n);
        c.n = 0;
      }
  }
}

interface HistogramCell {
  labels: Record<string, string>;
  /** Observations per bucket: counts[i] for upperBounds[i], the last for +Inf only. */
  counts: number[];
  sum: number;
  count: number;
}

/** prom-client's Histogram fields this relies on (pinned by the exposition test). */
interface HistogramInternals {
  upperBounds: number[];
  hashMap: Record<
    string,
    {
      labels: Record<string, string | number>;
      bucketValues: Record<number, number>;
      sum: number;
      count: number;
    }
  >;
  zero(labels: Record<string, string>): void;
}

export class HotHistogram<L extends string = never> {
  private readonly cells = new Map<string, HistogramCell>();
  private readonly bounds: number[];

  constructor(
    private readonly histogram: client.Histogram<L>,
    private readonly label?: L,
  ) {
    this.bounds = [...(histogram as unknown as HistogramInternals).upperBounds];
    beforeCollect(histogram, () => this.flush());
  }

  /** Records `v` in the series of `value` (of the one label; omit it for a histogram without labels). */
  observe(value: string, v: number): void {
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
    let c = this.cells.get(value);
    if (!c)
      this.cells.set(
        value,
        (c = {
          labels: labelsOf(this.label, value),
          counts: new Array<number>(this.bounds.length + 1).fill(0),
          sum: 0,
          count: 0,
        }),
      );
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    c.counts[i]!++;
    c.sum += v;
    c.count++;
  }

  private flush(): void {
    const h = this.histogram as unknown as HistogramInternals;
    for (const c of this.cells.values()) {
      if (c.count === 0) continue;
      let entry = this.entryOf(h, c.labels);
      if (!entry) {
        h.zero(c.labels);
        entry = this.entryOf(h, c.labels)!;
      }
      for (let i = 0; i < this.bounds.length; i++) entry.bucketValues[this.bounds[i]!]! += c.counts[i]!;
      entry.sum += c.sum;
      entry.count += c.count;
      c.counts.fill(0);
      c.sum = 0;
      c.count = 0;
    }
  }

  private entryOf(h: HistogramInternals, labels: Record<string, string>) {
    const keys = Object.keys(labels);
    return Object.values(h.hashMap).find(
      (e) =>
        Object.keys(e.labels).length === keys.length && keys.every((k) => String(e.labels[k]) === labels[k]),
    );
  }
}
