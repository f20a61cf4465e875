// A strict reader of Prometheus' text exposition format (0.0.4), for tests that scrape /metrics and check what it says.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

/** Parses the whole text, throwing on anything out of format: a sample before its TYPE, a family declared twice, a series twice. */
export function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  for (const [index, line] of text.split('\n').entries()) {
    const where = `line ${index + 1} (${line})`;
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === 'HELP') {
        current = families.get(name) ?? declare(families, name);
        (current as { help: string }).help = rest;
      } else {
        if (!TYPES.has(rest)) throw new Error(`${where}: unknown type`);
        current = families.get(name) ?? declare(families, name);
        if (current.type !== '') throw new Error(`${where}: a second TYPE for ${name}`);
        if (current.samples.length) throw new Error(`${where}: TYPE after samples of ${name}`);
        (current as { type: string }).type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    const sample = parseSample(line, where);
    if (!current || !belongsTo(sample.name, current)) throw new Error(`${where}: sample outside its family's TYPE block`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: the same series twice`);
    series.add(key);
    current.samples.push(sample);
  }
  for (const family of families.values()) if (family.type === '') throw new Error(`${family.name} has no TYPE`);
  return families;
}

function declare(families: Map<string, Family>, name: string): Family {
  const family: Family = { name, type: '', help: '', samples: [] };
  families.set(name, family);
  return family;
}

function belongsTo(sample: string, family: Family): boolean {
  return (SUFFIXES[family.type] ?? ['']).some((suffix) => sample === `${family.name}${suffix}`);
}

function parseSample(line: string, where: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) throw new Error(`${where}: no metric name`);
  let at = name.length;
  const labels: Record<string, string> = {};
  if (line[at] === '{') {
    at += 1;
    while (line[at] !== '}') {
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(at));
      if (!label || !LABEL.test(label[1]!)) throw new Error(`${where}: bad label at ${at}`);
      at += label[0].length;
      let value = '';
      for (;;) {
        const char = line[at];
        if (char === undefined) throw new Error(`${where}: unterminated label value`);
        at += 1;
        if (char === '"') break;
        if (char === '\\') {
          const escaped = line[at];
          at += 1;
          if (escaped === 'n') value += '\n';
          else if (escaped === '\\' || escaped === '"') value += escaped;
          else throw new Error(`${where}: bad escape \\${escaped}`);
        } else {
          value += char;
        }
      }
      if (label[1]! in labels) throw new Error(`${where}: label ${label[1]} twice`);
      labels[label[1]!] = value;
      if (line[at] === ',') at += 1;
      else if (line[at] !== '}') throw new Error(`${where}: expected , or } at ${at}`);
    }
    at += 1;
  }
  const rest = line.slice(at).split(' ');
  if (rest[0] !== '' || rest.length < 2 || rest.length > 3) throw new Error(`${where}: expected one space, a value and an optional timestamp`);
  // Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes "Nan").
  const text = rest[1]!;
  const special: Record<string, number> = { nan: NaN, '+inf': Infinity, inf: Infinity, '-inf': -Infinity };
  const value = special[text.toLowerCase()] ?? Number(text);
  if (Number.isNaN(value) && text.toLowerCase() !== 'nan') throw new Error(`${where}: bad value ${text}`);
  return { name, labels, value };
}

/** The samples of `name` whose labels include every one of `labels`. */
export function samplesOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): Sample[] {
  const all = [...families.values()].flatMap((family) => family.samples);
  return all.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
}

/** The one sample of `name` with exactly these labels (undefined when there is none). */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samplesOf(families, name, labels).filter((sample) => Object.keys(sample.labels).length === Object.keys(labels).length);
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}

/** Checks every histogram: buckets cumulative and ascending, +Inf equal to _count, one _sum and _count per series. */
export function checkHistograms(families: Map<string, Family>): string[] {
  const problems: string[] = [];
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    const bySeries = new Map<string, Sample[]>();
    for (const sample of family.samples) {
      const { le: _le, ...rest } = sample.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      bySeries.set(key, [...(bySeries.get(key) ?? []), sample]);
    }
    for (const [key, samples] of bySeries) {
      const buckets = samples.filter((sample) => sample.name.endsWith('_bucket'));
      const count = samples.find((sample) => sample.name.endsWith('_count'))?.value;
      const bounds = buckets.map((sample) => Number(sample.labels['le'] === '+Inf' ? Infinity : sample.labels['le']));
      if (bounds.some((bound, at) => at > 0 && bound <= bounds[at - 1]!)) problems.push(`${family.name}${key}: bucket bounds not ascending`);
      if (buckets.some((bucket, at) => at > 0 && bucket.value < buckets[at - 1]!.value)) problems.push(`${family.name}${key}: buckets not cumulative`);
      if (bounds.at(-1) !== Infinity || buckets.at(-1)!.value !== count) problems.push(`${family.name}${key}: +Inf bucket is not _count`);
      if (!samples.some((sample) => sample.name.endsWith('_sum'))) problems.push(`${family.name}${key}: no _sum`);
    }
  }
  return problems;
}
