// The tracking record of every backup request and the Idempotency-Key map, in the store.

import type { Store, Write } from '../../store/port.js';
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

export class RequestRecords {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly store: Store) {}

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

  /** Stores a new record and its idempotency key together (both or neither). */
  async create(record: RequestRecord): Promise<void> {
    const writes: Write[] = [{ collection: REQUESTS, key: record.id, value: record }];
    if (record.idempotencyKey !== undefined) {
      writes.push({ collection: IDEMPOTENCY_KEYS, key: record.idempotencyKey, value: { requestId: record.id, at: record.receivedAt } });
    }
    await this.store.commit(writes);
  }

  /**
   * Read-modify-write of one record, serialized per id so concurrent updates never lose each other;
   * `also` commits with it, atomically (e.g. the inbox entry, the master-store backup).
   */
  update(id: string, change: (record: RequestRecord) => RecordPatch, also: readonly Write[] = []): Promise<RequestRecord> {
    return this.mutex.run(id, async () => {
      const current = await this.get(id);
      if (!current) throw new Error(`backup request ${id} has no tracking record`);
      const next = applyPatch(current, change(current));
      await this.store.commit([{ collection: REQUESTS, key: id, value: next }, ...also]);
      return next;
    });
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
