// The metrics flag serve and zone share: --no-metrics, for a server nothing scrapes.

import type { ChartdCommand } from './command.js';

export interface MetricsValues {
  /** False with --no-metrics (commander names a --no-X flag's value X). */
  readonly metrics: boolean;
}

export function metricsOptions(command: ChartdCommand): void {
  command.accept('--no-metrics', 'serve no GET /metrics and count nothing for it (docs/operations.md)');
}
