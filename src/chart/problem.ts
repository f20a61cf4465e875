// Load problems: where a chart file is wrong (file, YAML path, line) and what to do about it.

export interface Problem {
  file: string;
  /** YAML path such as "states.drain.gate.count" or "states[1].target.name"; "" = the whole file. */
  path: string;
  /** 1-based line; 0 when the problem concerns the file as a whole (missing, too big). */
  line: number;
  message: string;
}

/** A chart (or set of charts) that cannot be loaded; the message lists every problem, one per line. */
export class ChartInvalid extends Error {
  readonly problems: Problem[];

  constructor(problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ChartInvalid';
    this.problems = problems;
  }
}

export function formatProblem(problem: Problem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
  return problem.path ? `${where}: ${problem.path}: ${problem.message}` : `${where}: ${problem.message}`;
}

/** A warning reads like a problem, marked as one that does not stop the chart from loading. */
export function formatWarning(warning: Problem): string {
  return formatProblem({ ...warning, message: `warning: ${warning.message}` });
}

/** Collects the problems (and warnings) of one file, resolving each YAML path to its line as it goes. */
export class ProblemLog {
  readonly problems: Problem[] = [];
  /** What loads but will not do what the chart seems to say. */
  readonly warnings: Problem[] = [];

  constructor(
    readonly file: string,
    readonly lineOf: (path: string) => number,
  ) {}

  /** Records a problem at `path`; `line` overrides the path's line (0 = the file as a whole). */
  add(path: string, message: string, line = this.lineOf(path)): void {
    this.problems.push({ file: this.file, path, line, message });
  }

  warn(path: string, message: string): void {
    this.warnings.push({ file: this.file, path, line: this.lineOf(path), message });
  }

  get empty(): boolean {
    return this.problems.length === 0;
  }

  /** Problems in file order; discovery order breaks ties so related messages stay together. */
  sorted(): Problem[] {
    return this.problems
      .map((problem, index) => ({ problem, index }))
      .sort((a, b) => a.problem.line - b.problem.line || a.index - b.index)
      .map(({ problem }) => problem);
  }
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
