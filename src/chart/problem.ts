// Load problems: where a chart file is wrong (file, YAML path, line) and what to do about it.

export interface Problem {
  file: string;
  /** YAML path such as "states.drain.gate.count" or "states[1].target.name"; "" = the whole file. */
  path: string;
  /** 1-based line; 0 when the problem concerns the file as a whole (missing, too big). */
  line: number;
  message: string;
}

/**
 * What chartd accepts in a file but the operator should know, placed like a problem: a key it ignores (a warning),
 * or something that is fine as it stands, such as the states a saved StateService machine has left behind (a note).
 */
export interface Notice extends Problem {
  readonly level: 'warning' | 'note';
}

/** A chart (or set of charts, or an operator's file) that cannot be loaded; the message lists every problem, one per line. */
export class ChartInvalid extends Error {
  readonly problems: Problem[];
  /** What the files that failed would have been warned of too, so one pass shows everything. */
  readonly notices: Notice[];

  /** `heading`, e.g. "values file has problems", goes on a line of its own before them. */
  constructor(problems: Problem[], notices: Notice[] = [], heading?: string) {
    const lines = problems.map(formatProblem).join('\n');
    super(heading ? `${heading}:\n${lines}` : lines);
    this.name = 'ChartInvalid';
    this.problems = problems;
    this.notices = notices;
  }
}

/** "file:line: path: message"; a notice says its level before the message ("…: warning: …"). */
export function formatProblem(problem: Problem | Notice): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
  const message = 'level' in problem ? `${problem.level}: ${problem.message}` : problem.message;
  return problem.path ? `${where}: ${problem.path}: ${message}` : `${where}: ${message}`;
}


/** Collects the problems (and notices) of one file, resolving each YAML path to its line as it goes. */
export class ProblemLog {
  readonly problems: Problem[] = [];
  readonly notices: Notice[] = [];

  constructor(
    readonly file: string,
    readonly lineOf: (path: string) => number,
  ) {}

  /** Records a problem at `path`; `line` overrides the path's line (0 = the file as a whole). */
  add(path: string, message: string, line = this.lineOf(path)): void {
    this.problems.push({ file: this.file, path, line, message });
  }

  /** Records something chartd accepts but the operator should know of (see Notice). */
  notice(level: Notice['level'], path: string, message: string, line = this.lineOf(path)): void {
    this.notices.push({ file: this.file, path, line, message, level });
  }

  /** A notice at the warning level: what loads but will not do what the chart seems to say. */
  warn(path: string, message: string): void {
    this.notice('warning', path, message);
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /** Problems in file order; discovery order breaks ties so related messages stay together. */
  sorted(): Problem[] {
    return inFileOrder(this.problems);
  }

  sortedNotices(): Notice[] {
    return inFileOrder(this.notices);
  }
}

function inFileOrder<T extends Problem>(items: readonly T[]): T[] {
  return items
    .map((item, index) => ({ item, index }))
    .sort((a, b) => a.item.line - b.item.line || a.index - b.index)
    .map(({ item }) => item);
}

/** " (did you mean 'next'?)" when a candidate is a likely typo of `word`, else "". */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // A third of the word may differ: catches "nxt", "on_sucess", "distnct" without suggesting nonsense.
  const allowed = Math.max(1, Math.floor(word.length / 3));
  return best !== undefined && bestDistance <= allowed ? ` (did you mean '${best}'?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** "a, b, c" for messages; "(none)" for an empty list. */
export function listNames(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.join(', ');
}
