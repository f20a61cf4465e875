// What a backup request looks like to callers: its tracking record joined with its lifecycle instance.

import type { Snapshot, Transition } from '../../engine/snapshot.js';
import type { RequestRecord } from './requestRecords.js';

export interface RequestView {
  readonly id: string;
  /** Received, Allowed, NotAllowed, Sent, Succeeded or Failed. */
  readonly state: string;
  readonly final: boolean;
  readonly transport: string;
  readonly apiVersion: string;
  readonly backupJobId: string;
  readonly dataDate: string;
  readonly sourcePath?: string;
  readonly times: {
    readonly received: string;
    readonly checkedAllowed?: string;
    readonly responded?: string;
    readonly sentToZone?: string;
    readonly resultReceived?: string;
    readonly resultRecorded?: string;
    /** When the request entered its current state. */
    readonly stateChanged?: string;
  };
  readonly zone?: string;
  readonly backupId?: string;
  readonly notAllowedReason?: string;
  readonly result?: RequestRecord['result'];
  readonly lastError?: RequestRecord['lastError'];
  readonly failures: readonly { readonly node: string; readonly error: string; readonly at: string }[];
  readonly history: readonly { readonly at: string; readonly from: string | null; readonly to: string; readonly cause: string }[];
}

/** A request's state: its instance's, or Received in the moment before the instance is created. */
export function viewStateOf(snapshot: Snapshot | undefined): string {
  return snapshot?.state ?? 'Received';
}

/** `snapshot` (and so its `history`) is missing only in the moment between storing the record and creating its instance. */
export function viewOf(record: RequestRecord, snapshot: Snapshot | undefined, history: readonly Transition[]): RequestView {
  return {
    id: record.id,
    state: viewStateOf(snapshot),
    final: snapshot?.status === 'done',
    transport: record.transport,
    apiVersion: record.apiVersion,
    backupJobId: record.backupJobId,
    dataDate: record.dataDate,
    ...(record.sourcePath !== undefined ? { sourcePath: record.sourcePath } : {}),
    times: compact({
      received: record.receivedAt,
      checkedAllowed: record.checkedAllowedAt,
      responded: record.respondedAt,
      sentToZone: record.sentAt,
      resultReceived: record.resultReceivedAt,
      resultRecorded: record.resultRecordedAt,
      stateChanged: snapshot?.enteredAt,
    }) as RequestView['times'],
    ...compact({
      zone: record.zone, backupId: record.backupId, notAllowedReason: record.notAllowedReason,
      result: record.result, lastError: record.lastError,
    }),
    failures: snapshot?.failures ?? [],
    history: history.map(({ at, from, to, cause }) => ({ at, from, to, cause })),
  };
}

function compact<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as Partial<T>;
}
