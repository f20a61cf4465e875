// Failure reports for humans: the one-line format, an error log line, and durable delivery to a webhook.

import type { Logger } from 'pino';
import type { Snapshot } from '../engine/snapshot.js';
import type { Outcome } from '../engine/transition.js';
import type { Write } from '../store/port.js';
import type { AlertHealth, AlertOutbox } from './alertOutbox.js';
import { alertWrites } from './alertRecords.js';

export interface FailureReport {
  /** chart/instance@revision of the move that recorded the failure: the webhook's idempotency key. */
  readonly id: string;
  readonly chart: string;
  readonly instance: string;
  readonly prefix: string;
  readonly node: string;
  readonly error: string;
  readonly at: string;
}

/** What the runtime does with the failures the engine reports (its `alert` effects). */
export interface Alerter {
  /** Writes recording `reports` for delivery, committed with the snapshot that holds them; none without a webhook. */
  record(reports: readonly FailureReport[], now: number): Write[];
  /** Once those writes are durable: logs each failure and starts delivering (once the alerts service has started). */
  raised(reports: readonly FailureReport[]): void;
  stop(): Promise<void>;
  /** Undelivered alerts, for /healthz; undefined when there is no webhook and nothing waits. */
  health(): AlertHealth | undefined;
}

/** One report per failure a batch of outcomes recorded (their `alert` effects), each named by the revision that recorded it. */
export function failureReports(key: string, snapshot: Snapshot, outcomes: readonly Outcome[], prefix: () => string): FailureReport[] {
  const reports: FailureReport[] = [];
  for (const outcome of outcomes) {
    const alerts = outcome.effects.filter((effect) => effect.type === 'alert');
    alerts.forEach((effect, index) => reports.push({
      id: `${key}@${outcome.snapshot.revision}${index ? `#${index}` : ''}`, chart: snapshot.chart, instance: snapshot.id,
      prefix: prefix(), node: effect.failure.node, error: effect.failure.error, at: effect.failure.at,
    }));
  }
  return reports;
}

// Tool output beneath the one-line report, indented so each failure still reads as one entry.
const INDENT = '    ';

/**
 * `Failure: <prefix> <node>: <message>`, the line `chartd run` prints, on one line; the rest of a
 * multi-line message (a tool's stderr) follows indented beneath it.
 */
export function formatFailure(report: Pick<FailureReport, 'prefix' | 'node' | 'error'>): string {
  const prefix = report.prefix.trim();
  const [first = '', ...rest] = report.error.split(/\r?\n/).filter((line) => line.trim() !== '');
  const beneath = rest.map((line) => `\n${INDENT}${line.trim()}`).join('');
  return `Failure: ${prefix ? `${prefix} ` : ''}${report.node}: ${first.trim()}${beneath}`;
}

export interface AlerterOptions {
  readonly log: Logger;
  /** Delivers to --alert-webhook; undefined without one. */
  readonly outbox?: AlertOutbox;
  /** False where the caller prints failures itself (`chartd run`), so they are not logged twice. */
  readonly logFailures?: boolean;
}

export function createAlerter({ log, outbox, logFailures = true }: AlerterOptions): Alerter {
  return {
    record: (reports, now) => (outbox ? alertWrites(reports, now) : []),
    raised(reports) {
      if (logFailures) {
        for (const report of reports) log.error({ chart: report.chart, instance: report.instance, node: report.node, at: report.at }, formatFailure(report));
      }
      outbox?.recorded(reports);
      if (reports.length) outbox?.kick();
    },
    stop: async () => outbox?.stop(),
    health: () => outbox?.health(),
  };
}
