// Failure reports for humans: an error log line with the chart's prefix, and an optional webhook.

import type { Logger } from 'pino';
import { describeFetchFailure, type Fetch } from '../net/httpClient.js';

export interface FailureReport {
  readonly chart: string;
  readonly instance: string;
  readonly prefix: string;
  readonly node: string;
  readonly error: string;
  readonly at: string;
}

export interface Alerter {
  raise(report: FailureReport): Promise<void>;
}

/** `Failure: <prefix> <node>: <message>`, the line seed 001's end point prints. */
export function formatFailure(report: Pick<FailureReport, 'prefix' | 'node' | 'error'>): string {
  const prefix = report.prefix.trim();
  return `Failure: ${prefix ? `${prefix} ` : ''}${report.node}: ${report.error}`;
}

export function createAlerter(log: Logger, fetch: Fetch, webhookUrl?: string): Alerter {
  return {
    async raise(report) {
      log.error({ chart: report.chart, instance: report.instance, node: report.node, at: report.at }, formatFailure(report));
      if (!webhookUrl) return;
      try {
        const response = await fetch(webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'chartd.failure', ...report, message: formatFailure(report) }),
          signal: AbortSignal.timeout(5000),
        });
        // Read to the end, so the kept-alive connection is free for the next alert.
        await response.text();
        if (!response.ok) log.warn({ status: response.status }, 'alert webhook answered with an error status');
      } catch (error) {
        // The failure is already recorded and logged; a dead webhook must not stop the instance.
        log.warn({ err: describeFetchFailure(error) }, 'alert webhook could not be reached');
      }
    },
  };
}
