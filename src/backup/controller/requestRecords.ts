// The tracking record of every backup request and the Idempotency-Key map, in the store.

import { WriteConflict, type CommitOptions, type Store, type Write } from '../../store/port.js';
import { readAll } from '../../store/readAll.js';
import type { BackupJob } from './job.js';
import { KeyedMutex } from '../keyedMutex.js';

export const REQUESTS = 'backup-requests';
export const IDEMPOTENCY_KEYS = 'backup-idempotency-keys';

export type Transport = 'http' | 'queue';

/** What a requester sends; the same for every transport. */
export interface RequestInput {
  readonly apiVersion: string;
  readonly backupJobId: string;
  readonly dataDate: string;
  readonly sourcePath?: string;
}

export interface RequestRecord extends RequestInput {
  /** UUID assigned on receipt; the trace id sent to the job service and the zone. */
  readonly id: string;
  readonly transport: Transport;
  readonly idempotencyKey?: string;
  readonly receivedAt: string;
  /** When the allow check finished with an answer (allowed or not). */
  readonly checkedAllowedAt?: string;
  readonly notAllowedReason?: string;
  /** When receipt processing finished and the requester was answered (first answer only). */
  readonly respondedAt?: string;
  readonly respondedWith?: string;
  /** The job as the job service described it when the request was allowed; the zone order is built from it. */
  readonly job?: BackupJob;
  readonly sentAt?: string;
  readonly zone?: string;
  readonly resultReceivedAt?: string;
  /** When the result was recorded: backup stored, request moved, result deleted from the inbox. */
  readonly resultRecordedAt?: string;
  /** Id of the backup in the master store of backups. */
  readonly backupId?: string;
  readonly result?: { readonly ok: boolean; readonly zone: string; readonly failures: readonly string[]; readonly late?: boolean };
  /** The latest failed attempt of a step that is being retried, for operators. */
  readonly lastError?: { readonly at: string; readonly step: string; readonly message: string };
}

/** A change to one record: fields to set (undefined removes one). */
export type RecordPatch = { -readonly [K in keyof RequestRecord]?: RequestRecord[K] | undefined };

// Updates of one record that other replicas keep changing under it: tried this many times before giving up.
const UPDATE_ATTEMPTS = 50;

// One queue per store object: this process's writes of a record never race each other (the embedded store reads only
// what is durable, so a racing update would read the same revision again until the other's write lands).
const queues = new WeakMap<Store, KeyedMutex>();

export class RequestRecords {
  private readonly queue: KeyedMutex;

  constructor(private readonly store: Store) {
    this.queue = queues.get(store) ?? new KeyedMutex();
    queues.set(store, this.queue);
  }

  /** Runs `work` for Idempotency-Key `key` after any other of this process's for it: retries here never race each other. */
  forKey<T>(key: string, work: () => Promise<T>): Promise<T> {
    return this.queue.run(`${IDEMPOTENCY_KEYS}/${key}`, work);
  }

  async get(id: string): Promise<RequestRecord | undefined> {
    return (await this.store.get<RequestRecord>(REQUESTS, id))?.value;
  }

  list(): Promise<RequestRecord[]> {
    return readAll<RequestRecord>(this.store, REQUESTS);
  }

  /** The request an Idempotency-Key was first used for. */
  async idOfKey(key: string): Promise<string | undefined> {
    return (await this.store.get<{ requestId: string }>(IDEMPOTENCY_KEYS, key))?.value.requestId;
  }

  /**
   * Stores a new record and its idempotency key together (both or neither); false when another request took the key
   * first (on this replica or another), which then stands.
   */
  async create(record: RequestRecord): Promise<boolean> {
    const writes: Write[] = [{ collection: REQUESTS, key: record.id, value: record, expect: 0 }];
    const key = record.idempotencyKey;
    if (key !== undefined) writes.push({ collection: IDEMPOTENCY_KEYS, key, value: { requestId: record.id, at: record.receivedAt }, expect: 0 });
    try {
      await this.store.commit(writes);
      return true;
    } catch (error) {
      if (key !== undefined && error instanceof WriteConflict && names(error, IDEMPOTENCY_KEYS, key)) return false;
      throw error;
    }
  }

  /**
   * Read-modify-write of one record, committed expecting the revision read: a change committed meanwhile (by any
   * replica) is read and `change` applied to it again, so concurrent updates never lose each other. `also` commits
   * with it, atomically (e.g. the inbox entry, the master-store backup), under `options` (e.g. a lease's fence).
   */
  update(id: string, change: (record: RequestRecord) => RecordPatch, also: readonly Write[] = [], options: CommitOptions = {}): Promise<RequestRecord> {
    return this.queue.run(`${REQUESTS}/${id}`, () => this.updateNow(id, change, also, options));
  }

  private async updateNow(id: string, change: (record: RequestRecord) => RecordPatch, also: readonly Write[], options: CommitOptions): Promise<RequestRecord> {
    for (let attempt = 1; ; attempt += 1) {
      const current = await this.store.get<RequestRecord>(REQUESTS, id);
      if (!current) throw new Error(`backup request ${id} has no tracking record`);
      const next = applyPatch(current.value, change(current.value));
      try {
        await this.store.commit([{ collection: REQUESTS, key: id, value: next, expect: current.revision }, ...also], options);
        return next;
      } catch (error) {
        // Only a change of the record alone is worth another read; any other conflict (a lost lease, a write of `also`) is the caller's.
        if (!(error instanceof WriteConflict) || !error.keys.every((each) => each.collection === REQUESTS && each.key === id)) throw error;
        if (attempt === UPDATE_ATTEMPTS) {
          throw new Error(`could not update backup request ${id}: it changed under each of ${UPDATE_ATTEMPTS} attempts (other replicas keep writing it); try again`);
        }
      }
    }
  }
}

function applyPatch(record: RequestRecord, patch: RecordPatch): RequestRecord {
  const next: Record<string, unknown> = { ...record };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as unknown as RequestRecord;
}

function names(conflict: WriteConflict, collection: string, key: string): boolean {
  return conflict.keys.some((each) => each.collection === collection && each.key === key);
}
