// The shapes of chartd's JSON answers, as far as the dashboard reads them; stored records are the server's own types.

import type { BackupRecord } from '../../src/backup/controller/backupStore.js';
import type { RequestView as BackupRequest } from '../../src/backup/controller/requestView.js';
import type { Failure, Snapshot as StoredSnapshot, Status, Transition } from '../../src/engine/snapshot.js';
import type { Attention, AttentionReason, Counts } from '../../src/runtime/tally.js';
import type { ServiceStatus } from '../../src/services/service.js';

export type { Attention, BackupRecord, BackupRequest, Counts, Failure, ServiceStatus, Status, Transition };

export interface Access {
  readonly authentication: 'tokens' | 'off';
  readonly reads: 'open' | 'token';
  readonly token: string | null;
  readonly scopes: readonly string[];
  readonly callers: readonly string[] | null;
  /** The caller a token bound to exactly one speaks for; check-ins need by= otherwise. */
  readonly caller: string | null;
  readonly read: boolean;
  readonly admin: boolean;
  /** Charts this token may check in to and send events to. */
  readonly write: readonly string[];
  readonly services: readonly string[];
}

export interface ChartSummary {
  readonly name: string;
  readonly version: string;
  readonly dialect: string;
  readonly description: string | null;
  readonly file: string;
  /** A --chart file's, or applied over HTTP (PUT /charts/NAME). */
  readonly source: 'file' | 'applied';
  readonly initial: string;
  readonly states: number;
  readonly instances: number;
  readonly owner: string | null;
  readonly counts: Counts;
}

export interface Edge {
  readonly to: string;
  readonly kind: 'happy' | 'unhappy' | 'timeout' | 'event';
  readonly label: string;
}

export interface StateInfo {
  readonly name: string;
  readonly kind: 'gate' | 'timer' | 'step' | 'event' | 'final';
  readonly description: string | null;
  readonly count?: number;
  readonly distinct?: boolean;
  readonly run?: string;
  readonly retry?: { readonly attempts: number };
  readonly edges: readonly Edge[];
}

export interface ChartDetail extends Omit<ChartSummary, 'states'> {
  readonly states: readonly StateInfo[];
}

/** An instance as GET /charts/:chart/instances/:id answers: the stored snapshot, its history and its current state's definition. */
export interface Snapshot extends Omit<StoredSnapshot, 'transitions' | 'closedGates'> {
  readonly history: readonly Transition[];
  readonly current: StateInfo | null;
}

export interface InstanceRow {
  readonly id: string;
  readonly state: string;
  readonly status: Status;
  readonly revision: number;
  readonly version: string;
  readonly updatedAt: string;
}

export interface StoreHealth {
  readonly ok: boolean;
  readonly problem?: string;
  readonly since?: string;
  readonly warning?: string;
}

export interface Overview {
  readonly charts: readonly ChartSummary[];
  readonly attention: { readonly instances: readonly Attention[]; readonly totals: Readonly<Record<AttentionReason, number>> };
  readonly store: StoreHealth;
  readonly services: readonly ServiceStatus[];
}

export interface ControllerStatus {
  readonly jobs: { readonly source: string; readonly circuit: string };
  readonly zones: readonly { readonly name: string; readonly url: string; readonly circuit: string }[];
  readonly inbox: number;
  readonly requests: Readonly<Record<string, number>>;
  readonly latestBackups: readonly BackupRecord[];
}

/** A paged list: `next` is the path of the following page, null on the last. */
export interface Page {
  readonly next: string | null;
}

