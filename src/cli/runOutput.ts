// What `chartd run` prints as a run goes: one line per node as it finishes, retries, failures and a summary.

import { formatDuration, type Chart } from '../chart/model.js';
import type { Snapshot, Transition } from '../engine/snapshot.js';
import { formatFailure } from '../runtime/alerts.js';

/** human: progress and summary; quiet: failures only (cron mails nothing on success); json: one document at the end. */
export type OutputMode = 'human' | 'quiet' | 'json';

export interface WrittenFile {
  readonly path: string;
  readonly bytes: number;
}

interface NodeRecord {
  readonly node: string;
  readonly outcome: string;
  readonly ms: number;
}

export interface RunEnd {
  readonly snapshot: Snapshot;
  readonly prefix: string;
  readonly file?: WrittenFile;
  readonly store: string;
  /** How to go on with a run that did not finish. */
  readonly resume?: string;
}

const OUTCOMES: Readonly<Record<string, string>> = { success: 'ok', failure: 'failed', interrupt: 'interrupted', timeout: 'timed out' };
const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class RunOutput {
  private readonly width: number;
  private readonly nodes: NodeRecord[] = [];
  private readonly started = Date.now();
  private seen = 0;
  private spinner: NodeJS.Timeout | undefined;
  private spinning = false;
  private current: Snapshot | undefined;

  constructor(
    private readonly chart: Chart,
    private readonly mode: OutputMode,
    private readonly write: (text: string) => void,
    /** Whether stdout is a terminal: only then a live line shows the running step. */
    private readonly tty: boolean,
  ) {
    this.width = Math.max(...Object.keys(chart.states).map((name) => name.length));
  }

  /** The first lines: which run this is, where its store is, and the command that resumes it if this process dies. */
  begin(snapshot: Snapshot, store: string, resume: string): void {
    this.seen = snapshot.revision;
    this.current = snapshot;
    if (this.mode !== 'human') return;
    this.line(`chartd run ${this.chart.name}: run ${snapshot.id}, store ${store}`);
    this.line(`  if this process is killed, resume (and clean up) with: ${resume}`);
    if (this.tty) {
      this.spinner = setInterval(() => this.spin(), 100);
      this.spinner.unref();
    }
  }

  /** Called with every committed change of the run's instance and the transitions it made (or the history since `before`). */
  change(before: Snapshot | undefined, after: Snapshot, recorded: readonly Transition[]): void {
    this.current = after;
    const moves = recorded.filter((entry) => entry.revision > this.seen);
    this.seen = after.revision;
    let enteredAt = before?.enteredAt ?? after.createdAt;
    for (const move of moves) {
      if (move.from !== null) this.finished(move, Date.parse(move.at) - Date.parse(enteredAt));
      enteredAt = move.at;
    }
    const state = this.chart.states[after.state];
    if (state?.kind === 'step' && after.deadline?.kind === 'retry' && (before?.attempt !== after.attempt || before.state !== after.state)) {
      const at = new Date(after.deadline.at);
      this.progress(after.state, 'retrying', `attempt ${after.attempt - 1} of ${state.retry.attempts} failed: ${brief(after.lastError ?? '')}; ` +
        `next attempt in ${formatDuration(after.deadline.at - Date.parse(after.updatedAt))}, at ${at.toISOString().slice(11, 19)}Z`);
    } else if (moves.length && (state?.kind === 'timer' || state?.kind === 'gate' || state?.kind === 'event')) {
      const until = after.deadline ? `, until ${new Date(after.deadline.at).toISOString().slice(11, 19)}Z` : '';
      const what = state.kind === 'timer' ? 'its timer' : state.kind === 'gate' ? 'check-ins (PUT)' : `an event (${Object.keys(state.on).join(', ')})`;
      this.progress(after.state, 'waiting', `for ${what}${until}`);
    }
  }

  /** The failures, one line each with tool output beneath, then the summary; or, with --json, one document. */
  end({ snapshot, prefix, file, store, resume }: RunEnd): void {
    if (this.spinner) clearInterval(this.spinner);
    this.clearSpinner();
    const ms = Date.now() - this.started;
    const failures = snapshot.failures.map((failure) => ({ ...failure, message: formatFailure({ prefix, node: failure.node, error: failure.error }) }));
    if (this.mode === 'json') {
      this.write(`${JSON.stringify({
        chart: snapshot.chart, id: snapshot.id, store, status: snapshot.status, state: snapshot.state, ok: snapshot.status === 'done' && failures.length === 0,
        ...(file ? { file: file.path, bytes: file.bytes } : {}), ms, nodes: this.nodes, failures, ...(resume ? { resume } : {}),
      })}\n`);
      return;
    }
    for (const failure of failures) this.line(failure.message);
    if (snapshot.status !== 'done') {
      this.line(`Critical failure: ${snapshot.chart} stopped in ${snapshot.state} and cannot go on by itself; resume with: ${resume ?? ''}`);
      return;
    }
    if (this.mode === 'quiet') return;
    const wrote = file ? `wrote ${file.path} (${formatBytes(file.bytes)})` : 'wrote no file';
    const count = failures.length;
    this.line(count ? `Finished in ${formatElapsed(ms)} with ${count} failure${count === 1 ? '' : 's'}; ${wrote}` : `Done in ${formatElapsed(ms)}: ${wrote}`);
  }

  private finished(move: Transition, ms: number): void {
    const from = move.from!;
    if (this.chart.states[from]?.kind !== 'step' && move.cause !== 'timeout' && move.cause !== 'interrupt') return;
    const outcome = OUTCOMES[move.cause] ?? move.cause;
    this.nodes.push({ node: from, outcome, ms });
    this.progress(from, outcome, formatElapsed(ms));
  }

  private progress(node: string, outcome: string, detail: string): void {
    if (this.mode === 'human') this.line(`  ${node.padEnd(this.width)}  ${outcome.padEnd(11)} ${detail}`);
  }

  private line(text: string): void {
    this.clearSpinner();
    this.write(`${text}\n`);
  }

  private spin(): void {
    const snapshot = this.current;
    if (!snapshot || this.chart.states[snapshot.state]?.kind !== 'step') return;
    const frame = SPINNER[Math.floor(Date.now() / 100) % SPINNER.length];
    const what = snapshot.deadline ? 'waiting to retry' : `attempt ${snapshot.attempt}`;
    this.write(`\r\x1b[2K  ${frame} ${snapshot.state}  ${what}  ${formatElapsed(Date.now() - Date.parse(snapshot.enteredAt))}`);
    this.spinning = true;
  }

  private clearSpinner(): void {
    if (!this.spinning) return;
    this.write('\r\x1b[2K');
    this.spinning = false;
  }
}

/** A failure's gist on one line: a tool's "exited with code 1:" headline with the first line it printed. */
export function brief(error: string): string {
  const [first = '', second] = error.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '');
  return first.endsWith(':') && second !== undefined ? `${first} ${second}` : first;
}

/** 0.02s, 5.41s, 42.0s, 2m03s, 1h02m. */
export function formatElapsed(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor(seconds / 60) % 60).padStart(2, '0')}m`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
