// Alerts as stored documents: written in the commit of the failure they report, claimable from their recording time.

import { unlessTaken, type Store, type Write } from '../store/port.js';
import { readAllStored } from '../store/readAll.js';
import type { FailureReport } from './alerts.js';

export const ALERTS = 'alerts';

export interface AlertRecord {
  /** Its key in the store: recording time first, so keys sort oldest first. */
  readonly key: string;
  readonly report: FailureReport;
  readonly recordedAt: string;
  /** Epoch ms from which it may be claimed: when it was recorded, so claims come oldest first as keys do. */
  readonly due: number;
}

/** The writes that keep `reports` until delivered; the runtime commits them with the snapshot that records them. */
export function alertWrites(reports: readonly FailureReport[], now: number): Write[] {
  const recordedAt = new Date(now).toISOString();
  return reports.map((report) => {
    const key = `${String(now).padStart(15, '0')} ${report.id}`;
    const record: AlertRecord = { key, report, recordedAt, due: now };
    return { collection: ALERTS, key, value: record };
  });
}

/** Alerts recorded before they were claimable carry no `due`: given their recording time, once. */
export async function dateUndated(store: Store): Promise<void> {
  for (const { key, value, revision } of await readAllStored<AlertRecord>(store, ALERTS)) {
    if (typeof value.due === 'number') continue;
    await store.commit([{ collection: ALERTS, key, value: { ...value, due: Date.parse(value.recordedAt) }, expect: revision }]).catch(unlessTaken);
  }
}
