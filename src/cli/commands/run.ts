// `chartd run CHART --set k=v…`: one instance to a final state in-process, followed as it goes; exit code = failures.

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Chart } from '../../chart/model.js';
import type { Snapshot, Transition } from '../../engine/snapshot.js';
import { NAME_PATTERN } from '../../http/params.js';
import { startEngine } from '../../main.js';
import type { Runtime } from '../../runtime/runtime.js';
import { RunOutput, type OutputMode } from '../runOutput.js';
import { createOrResume, refuseOutsideInput } from '../runInstance.js';
import { releaseLocksNow } from '../../store/lock.js';
import { onStopSignals, signalExitCode } from '../signals.js';
import { ChartdCommand } from '../command.js';
import { loggerOf, logOptions, type LogValues } from '../logOptions.js';
import { duration, UsageError } from '../usage.js';
import { writtenFile } from '../writtenFile.js';

/** Marks a store `chartd run` made in TMPDIR, so the run that resumes it (given it as --data) removes it once done. */
const RUN_STORE = 'run';
const MADE_BY_RUN = 'made-by-run';

interface RunOptions extends LogValues {
  readonly set?: string[];
  readonly data?: string;
  readonly id?: string;
  readonly timeout?: string;
  readonly quiet?: boolean;
  readonly json?: boolean;
}

export function command(): ChartdCommand {
  return new ChartdCommand('run')
    .description(`Runs one instance of a chart to a final state in this process:
one line per node as it finishes, each failure as "Failure: <prefix> <node>: <message>",
then what it wrote. Exits with the number of failures (1 if the runner itself crashed).
Each --set key goes to the chart's settings or context, whichever declares it.

Ctrl-C, SIGTERM or --timeout stops the running step and runs the cleanup; a second
signal stops at once and prints the command that finishes it. A chart that waits for
PUTs or events is refused unless --timeout is given. See docs/run.md.`)
    .operand('CHART', 'the chart file')
    .accept('--set <key=value>', "a value of the chart's settings or context", { repeat: true })
    .accept('--data <DIR>', 'the store; give it to resume a run that stopped', { defaultText: 'a new one under TMPDIR, removed once the run is done' })
    .accept('--id <ID>', "the instance's id; it names the run's working directory", { read: runId, defaultText: 'run-RANDOM' })
    .accept('--timeout <DURATION>', 'stop the running step and clean up after this long', { read: (text) => (duration('--timeout')(text), text) })
    .accept('--quiet', 'print failures only (cron)')
    .accept('--json', 'one JSON document')
    // Failures are this command's output; the log (stderr) is for chartd's own trouble.
    .including(logOptions('error', false))
    .check<RunOptions>((options) => {
      if (options.quiet && options.json) throw new UsageError('--quiet and --json contradict each other; give one');
    })
    .example('chartd run charts/backup-and-encrypt.yaml --set storage_root=/srv/backups --set postgresql_host=db1 \\',
      '  --set client_name=acme --set database=sales --set key_name=backups@acme.example --timeout 2h')
    .run(run);
}

function runId(id: string): string {
  if (!NAME_PATTERN.test(id)) throw new UsageError(`--id ${id}: use letters, digits, . _ - : @ (at most 128, starting with a letter or digit); the id names the run's working directory`);
  return id;
}

async function run(values: RunOptions, [chartFile]: string[]): Promise<number> {
  const timeoutMs = values.timeout === undefined ? undefined : duration('--timeout')(values.timeout);
  const id = values.id ?? `run-${randomBytes(4).toString('hex')}`;
  const dataDir = resolve(values.data ?? (await mkdtemp(join(tmpdir(), 'chartd-run-'))));
  const mode: OutputMode = values.json ? 'json' : values.quiet ? 'quiet' : 'human';
  const resume = ['chartd', 'run', chartFile!, '--data', dataDir, '--id', id].map(shellWord).join(' ');
  const log = loggerOf(values);
  // Set once an instance exists that has not finished: its store is then kept, for the resume command.
  let unfinished = false;
  // Whether the store is one a run made for itself (this one, or the one this resumes): it goes once the run is done.
  let temporary = values.data === undefined;
  try {
    // The operator at the shell names the variables a handler reads (e.g. --set password_env=PGPASSWORD).
    const engine = await startEngine({ chartPaths: [chartFile!], dataDir, log, anyEnvironment: true, logFailures: false });
    try {
      const { runtime, store } = engine;
      if (temporary) await store.commit([{ collection: RUN_STORE, key: MADE_BY_RUN, value: { id } }]);
      else temporary = (await store.get(RUN_STORE, MADE_BY_RUN)) !== undefined;
      if (timeoutMs === undefined) refuseOutsideInput(engine.charts[0]!);
      const created = await createOrResume(runtime, engine.charts[0]!, id, values.set ?? []);
      const chart = runtime.chartOf(created);
      unfinished = created.status !== 'done';
      const output = new RunOutput(chart, mode, (text) => process.stdout.write(text), process.stdout.isTTY === true);
      output.begin(created, dataDir, resume);
      const final = await followToEnd(runtime, chart, created, output, { resume, timeoutMs, timeout: values.timeout, log: () => log.flush() });
      unfinished = final.status !== 'done';
      const file = final.status === 'done' ? await writtenFile(chart, final, await runtime.history(final), engine.handlers) : undefined;
      output.end({ snapshot: final, prefix: runtime.failurePrefix(final), store: dataDir, ...(file ? { file } : {}), ...(unfinished ? { resume } : {}) });
      return Math.min(unfinished ? Math.max(1, final.failures.length) : final.failures.length, 125);
    } finally {
      await engine.close();
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    process.stdout.write(`Critical failure: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    log.flush();
    // A store made for a run goes once nothing is left to resume; one the operator named with --data is theirs to keep.
    if (temporary && !unfinished) await rm(dataDir, { recursive: true, force: true });
  }
}

interface Stopping {
  readonly resume: string;
  readonly timeoutMs: number | undefined;
  readonly timeout: string | undefined;
  /** Flushes the log before an exit at once. */
  readonly log: () => void;
}

/**
 * Waits until the instance is done, or interrupted and where nothing in this process moves it on, printing each
 * change. A first SIGINT/SIGTERM, or --timeout, interrupts it: its running step is stopped and its cleanup runs.
 * A second signal ends the process at once, printing the command that resumes (and finishes) the cleanup.
 */
async function followToEnd(runtime: Runtime, chart: Chart, start: Snapshot, output: RunOutput, stopping: Stopping): Promise<Snapshot> {
  const interrupt = (reason: string): void => {
    runtime.interrupt(chart.name, start.id, reason).catch((error: Error) => {
      process.stderr.write(`chartd: could not interrupt ${start.id}: ${error.message}\n`);
    });
  };
  // A closed terminal (SIGHUP) stops a run as Ctrl-C does.
  const removeSignals = onStopSignals((signal) => {
    process.stderr.write(`chartd: ${signal}: stopping ${start.id}'s running step and cleaning up; send ${signal} again to stop at once\n`);
    interrupt(`interrupted by ${signal}`);
  }, (signal) => {
    process.stderr.write(`chartd: ${signal} again: stopped at once, before the cleanup finished; to finish it, run:\n${stopping.resume}\n`);
    stopping.log();
    releaseLocksNow();
    process.exit(signalExitCode(signal));
  }, ['SIGINT', 'SIGTERM', 'SIGHUP']);
  const timer = stopping.timeoutMs === undefined ? undefined : setTimeout(() => {
    process.stderr.write(`chartd: --timeout ${stopping.timeout} ran out: stopping ${start.id}'s running step and cleaning up\n`);
    interrupt(`interrupted: --timeout ${stopping.timeout} ran out`);
  }, stopping.timeoutMs);
  try {
    return await new Promise<Snapshot>((settle, fail) => {
      const settled = (snapshot: Snapshot): boolean => snapshot.status === 'done' || (snapshot.interrupted !== undefined && chart.states[snapshot.state]?.kind !== 'step');
      let last = start;
      const follow = (before: Snapshot | undefined, after: Snapshot, recorded: readonly Transition[]): void => {
        if (after.revision <= last.revision) return;
        last = after;
        output.change(before, after, recorded);
        if (settled(after)) {
          stopListening();
          settle(after);
        }
      };
      const stopListening = runtime.onChange(({ before, after, recorded }) => {
        if (after.chart === chart.name && after.id === start.id) follow(before, after, recorded);
      });
      // It may have moved on between its creation and this listener.
      runtime.snapshot(chart.name, start.id).then(async (latest) => {
        if (latest.revision > start.revision) follow(start, latest, await runtime.history(latest));
        else if (settled(start)) {
          stopListening();
          settle(start);
        }
      }).catch(fail);
    });
  } finally {
    removeSignals();
    if (timer) clearTimeout(timer);
  }
}

/** A word as a POSIX shell reads it back: as it is when plain, else in single quotes. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
