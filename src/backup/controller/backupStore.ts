// The master store of backups: one document per backup, keyed by the request that made it (so recording is idempotent).

import type { Store, Write } from '../../store/port.js';
import { readAll } from '../../store/readAll.js';

export const BACKUPS = 'backups';

export interface BackupRecord {
  /** The backup's id in the master store (UUID). */
  readonly id: string;
  readonly requestId: string;
  readonly backupJobId: string;
  readonly dataDate: string;
  readonly zone: string;
  readonly client: string;
  readonly database: string;
  /** Where the encrypted backup is, in the zone's storage. */
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  /** When the zone finished the backup. */
  readonly createdAt: string;
  readonly recordedAt: string;
}

export class BackupStore {
  constructor(private readonly store: Store) {}

  /** The backup a request made, if it is recorded. */
  async byRequest(requestId: string): Promise<BackupRecord | undefined> {
    return (await this.store.get<BackupRecord>(BACKUPS, requestId))?.value;
  }

  async list(filter: { readonly backupJobId?: string } = {}): Promise<BackupRecord[]> {
    const all = await readAll<BackupRecord>(this.store, BACKUPS);
    const matching = filter.backupJobId === undefined ? all : all.filter((backup) => backup.backupJobId === filter.backupJobId);
    return matching.sort((a, b) => a.dataDate.localeCompare(b.dataDate) || a.createdAt.localeCompare(b.createdAt));
  }

  /** The write that records `backup`; committed together with the request's tracking record. */
  write(backup: BackupRecord): Write {
    return { collection: BACKUPS, key: backup.requestId, value: backup };
  }
}
