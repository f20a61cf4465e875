// Charts applied over HTTP (PUT /charts/NAME), kept in the data directory so they are served again after a restart.

import type { Chart } from '../chart/model.js';
import type { Store, Write } from '../store/port.js';
import { readAll } from '../store/readAll.js';

export const APPLIED_CHARTS = 'charts';

export interface AppliedChart {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly appliedAt: string;
  /** The bearer token (its name) that applied it. */
  readonly token?: string;
}

/** How an applied chart is named where a file's path would be (problems, GET /charts): its request. */
export function appliedFile(name: string): string {
  return `PUT /charts/${name}`;
}

export function isApplied(chart: Chart): boolean {
  return chart.file === appliedFile(chart.name);
}

/** Every chart applied, in name order. */
export function appliedCharts(store: Store): Promise<AppliedChart[]> {
  return readAll<AppliedChart>(store, APPLIED_CHARTS);
}

export function applyWrite(chart: Chart, at: Date, token: string | undefined): Write {
  const value: AppliedChart = { name: chart.name, version: chart.version, source: chart.source, appliedAt: at.toISOString(), ...(token ? { token } : {}) };
  return { collection: APPLIED_CHARTS, key: chart.name, value };
}

export function unapplyWrite(name: string): Write {
  return { collection: APPLIED_CHARTS, key: name, value: null };
}
