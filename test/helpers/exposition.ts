/**
 * Prometheus's text exposition format (version 0.0.4), read back strictly: a line that is not a
 * HELP, a TYPE or a sample as the format defines them throws, and so does a family that breaks
 * its type's rules (a sample before its TYPE, a family split in two, a histogram whose buckets
 * are not cumulative, lack `+Inf`, or disagree with its `_count`). So a test that reads metrics
 * through this also tests that a scraper can take them.
 */

export type FamilyType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  labels: Record<string, string>;
  value: number;
  /** histograms: upper bound (as written) -> cumulative count, with `sum` and `count` */
  buckets?: Record<string, number>;
  sum?: number;
  count?: number;
}

export interface Family {
  name: string;
  type: FamilyType;
  help: string;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** every family the text declares (# TYPE), with samples or not */
  names: Set<string>;
  /** the samples of `name` whose labels include `labels` */
  samples(name: string, labels?: Record<string, string>): Sample[];
  /** the sum of the values of those samples (0 when there is none) */
  value(name: string, labels?: Record<string, string>): number;
  /** a histogram's observations, summed over those label sets */
  count(name: string, labels?: Record<string, string>): number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`not a sample value: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return Number(text);
}

/** `name{a="x",b="y"} value [timestamp]` */
function parseSample(line: string): { name: string; labels: Record<string, string>; value: number } {
  const name = /^[^\s{]+/.exec(line)?.[0] ?? '';
  if (!METRIC_NAME.test(name)) throw new Error(`not a metric name: ${JSON.stringify(line)}`);
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const ln = /^[^=\s]+/.exec(line.slice(i))?.[0] ?? '';
      if (!LABEL_NAME.test(ln) || line[i + ln.length] !== '=' || line[i + ln.length + 1] !== '"') throw new Error(`bad label in ${JSON.stringify(line)}`);
      i += ln.length + 2;
      let v = '';
      for (;;) {
        const ch = line[i];
        if (ch === undefined) throw new Error(`unterminated label value in ${JSON.stringify(line)}`);
        i++;
        if (ch === '"') break;
        if (ch === '\\') {
          const esc = line[i++];
          if (esc === 'n') v += '\n';
          else if (esc === '\\' || esc === '"') v += esc;
          else throw new Error(`bad escape in ${JSON.stringify(line)}`);
        } else v += ch;
      }
      if (ln in labels) throw new Error(`label ${ln} twice in ${JSON.stringify(line)}`);
      labels[ln] = v;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } in ${JSON.stringify(line)}`);
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (line[i] !== ' ' || rest.length < 1 || rest.length > 2) throw new Error(`bad sample line: ${JSON.stringify(line)}`);
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new Error(`bad timestamp in ${JSON.stringify(line)}`);
  return { name, labels, value: parseValue(rest[0]!, line) };
}

const key = (labels: Record<string, string>) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

export function readExposition(text: string): Exposition {
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  let current: Family | undefined;
  const family = (name: string): Family => {
    if (current?.name === name) return current;
    if (current) closed.add(current.name);
    if (closed.has(name)) throw new Error(`family ${name} is split: its lines must be together`);
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return (current = f);
  };
  /** the histogram series of `labels` (without `le`) in `f` */
  const series = (f: Family, labels: Record<string, string>): Sample => {
    let s = f.samples.find((x) => key(x.labels) === key(labels));
    if (!s) f.samples.push((s = { labels, value: 0, buckets: {} }));
    return s;
  };
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) continue; // a plain comment
      if (!METRIC_NAME.test(m[2]!)) throw new Error(`not a metric name: ${JSON.stringify(line)}`);
      const f = family(m[2]!);
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3] ?? '')) throw new Error(`unknown type: ${JSON.stringify(line)}`);
        if (f.samples.length) throw new Error(`TYPE after samples: ${JSON.stringify(line)}`);
        f.type = m[3] as FamilyType;
      } else f.help = m[3] ?? '';
      continue;
    }
    const s = parseSample(line);
    const base = current?.type === 'histogram' ? s.name.replace(/_(bucket|sum|count)$/, '') : s.name;
    const f = family(base);
    if (f.type !== 'histogram') {
      f.samples.push({ labels: s.labels, value: s.value });
      continue;
    }
    const { le, ...labels } = s.labels;
    const h = series(f, labels);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`bucket without le: ${JSON.stringify(line)}`);
      h.buckets![le] = s.value;
    } else if (s.name.endsWith('_sum')) h.sum = s.value;
    else if (s.name.endsWith('_count')) h.count = h.value = s.value;
    else throw new Error(`histogram ${base}: a sample named ${s.name}`);
  }
  for (const f of families.values()) {
    if (f.type !== 'histogram') continue;
    for (const h of f.samples) {
      const bounds = Object.entries(h.buckets!).map(([le, n]) => [parseValue(le, le), n] as const).sort(([a], [b]) => a - b);
      if (bounds.at(-1)?.[0] !== Infinity) throw new Error(`histogram ${f.name}${key(h.labels)}: no +Inf bucket`);
      for (let i = 1; i < bounds.length; i++) if (bounds[i]![1] < bounds[i - 1]![1]) throw new Error(`histogram ${f.name}: buckets not cumulative`);
      if (h.count !== bounds.at(-1)![1] || h.sum === undefined) throw new Error(`histogram ${f.name}${key(h.labels)}: _count and _sum must agree with +Inf`);
    }
  }
  const samples = (name: string, labels: Record<string, string> = {}) =>
    (families.get(name)?.samples ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    families,
    names: new Set(families.keys()),
    samples,
    value: (name, labels) => samples(name, labels).reduce((sum, s) => sum + s.value, 0),
    count: (name, labels) => samples(name, labels).reduce((sum, s) => sum + (s.count ?? 0), 0),
  };
}
