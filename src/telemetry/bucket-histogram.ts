/**
 * A histogram for the worker's per-task observations (pickup latency, run time), exposed as
 * prom-client's Histogram exposes one, and cheaper to feed. prom-client's `observe(labels, v)`
 * checks the label names, hashes the label set into a string and looks it up, on every call: on
 * the worker's hot path that was two of those per task, and more garbage per task than the rest
 * of the telemetry. Here a label set's series is looked up once (`series(value)`) and kept by the
 * caller; an observation is a bucket search and three additions into a typed array.
 *
 * At most one label (every histogram of the catalog has none, or `function`). It registers
 * itself in the registry it is given, through the interface the registry reads a metric by
 * (`get`, `reset`); test/bucket-histogram.test.ts checks that its exposition is prom-client's
 * Histogram's, byte for byte, for the same observations.
 */
import type { Metric, Registry } from 'prom-client';

/** one label set's counts: per bucket (not cumulative), then the +Inf overflow */
export class Series {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  zero(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

export class BucketHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly bySeries = new Map<string, Series>();
  /** the unlabelled series is shown with zeros before its first observation (until a reset, as prom-client's) */
  private zerosShown: boolean;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    /** the one label's name, or none */
    private readonly label: string | undefined,
    registry: Registry,
  ) {
    // (the registry reads a metric through get() and reset() alone; its type names only its own classes)
    registry.registerMetric(this as unknown as Metric);
    // (prom-client's Histogram without labels exposes its zeros from the start: a dashboard
    // reading the monitor's sweep time sees the series before the first sweep)
    this.zerosShown = label === undefined;
    if (label === undefined) this.series();
  }

  /** the series of one value of the label (of no label: none given), made on first use and kept */
  series(value = ''): Series {
    let s = this.bySeries.get(value);
    if (!s) {
      if (this.label === undefined && value !== '') throw new Error(`histogram ${this.name} has no label`);
      s = new Series(this.bounds, this.label === undefined ? {} : { [this.label]: value });
      this.bySeries.set(value, s);
    }
    return s;
  }

  /** one observation of the unlabelled series */
  observe(value: number): void {
    this.series().observe(value);
  }

  /**
   * Zeroes every series where it stands: the worker keeps each function's series (found once), so
   * a `resetMetrics()` of the registry that dropped them would leave its observations unread for
   * good. As prom-client's reset, nothing is shown until the next observation.
   */
  reset(): void {
    for (const s of this.bySeries.values()) s.zero();
    this.zerosShown = false;
  }

  /** prom-client's shape: per series, its cumulative buckets, +Inf, sum and count */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.bySeries.values()) {
      // a function's series is made before its first observation (the worker keeps it from the
      // task's claim on); prom-client has none until then, nor after a reset
      if (s.count === 0 && !this.zerosShown) continue;
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
