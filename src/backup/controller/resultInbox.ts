// The durable inbox of zone results: acknowledged once stored; then backup recorded, request moved, result deleted — each idempotent.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { NotFound } from '../../errors.js';
import type { Snapshot } from '../../engine/snapshot.js';
import type { Runtime } from '../../runtime/runtime.js';
import type { Store } from '../../store/port.js';
import { readAll } from '../../store/readAll.js';
import type { BackupRecord, BackupStore } from './backupStore.js';
import { failpoint } from '../failpoint.js';
import { KeyedMutex } from '../keyedMutex.js';
import type { RequestRecords } from './requestRecords.js';
import type { ZoneResult } from '../zone.js';

export const INBOX = 'backup-inbox';

interface InboxEntry {
  readonly result: ZoneResult;
  readonly receivedAt: string;
}

export interface InboxOptions {
  readonly runtime: Runtime;
  readonly store: Store;
  readonly records: RequestRecords;
  readonly backups: BackupStore;
  readonly log: Logger;
  readonly now: () => string;
}

// The request chart's name and the states in which a result must wait: the order may not be recorded as sent yet.
const CHART = 'backup-request';
const NOT_YET_SENT = new Set(['Received', 'Allowed']);

export class ResultInbox {
  private readonly mutex = new KeyedMutex();
  private stopListening: (() => void) | undefined;
  /** Results whose processing failed, with why, until processed. */
  private readonly failing = new Map<string, string>();

  constructor(private readonly options: InboxOptions) {}

  size(): Promise<number> {
    return this.options.store.count(INBOX);
  }

  /** Processes what is stored, and each result whose request has just been sent; again, it tries what failed before. */
  async start(): Promise<void> {
    // process() finds nothing to do for a request whose result is not in the inbox.
    this.stopListening ??= this.options.runtime.onChange(({ after }) => {
      if (after.chart === CHART && after.state === 'Sent') this.kick(after.id);
    });
    // What failed is tried again now, and counts as failed again only if it fails again.
    this.failing.clear();
    for (const entry of await readAll<InboxEntry>(this.options.store, INBOX)) this.kick(entry.result.requestId);
  }

  async stop(): Promise<void> {
    this.stopListening?.();
    this.stopListening = undefined;
    await this.mutex.idle();
  }

  /** Why results wait unprocessed (GET /services: backup-controller), or undefined when none does. */
  failure(): string | undefined {
    const [first] = this.failing;
    if (!first) return undefined;
    return `${this.failing.size} zone results could not be processed and wait in the inbox (${first[0]}: ${first[1]})`;
  }

  /** Stores the result durably; only then may the zone be told it was received (and forget it). */
  async accept(result: ZoneResult): Promise<void> {
    const id = result.requestId;
    const record = await this.options.records.get(id);
    if (!record) throw new NotFound(`no backup request ${id}; this result belongs to no request the controller knows`);
    // Recorded already: the zone did not hear our acknowledgement and sent it again.
    if (record.resultRecordedAt !== undefined) return;
    const entry: InboxEntry = { result, receivedAt: this.options.now() };
    await this.options.records.update(id, (record) => ({ resultReceivedAt: record.resultReceivedAt ?? entry.receivedAt }), [
      { collection: INBOX, key: id, value: entry },
    ]);
    failpoint('inbox:after-ack');
    this.kick(id);
  }

  /** Waits for the processing queued so far (tests and shutdown). */
  idle(): Promise<void> {
    return this.mutex.idle();
  }

  private kick(id: string): void {
    this.mutex.run(id, () => this.process(id)).then(() => {
      this.failing.delete(id);
    }, (error: Error) => {
      this.failing.set(id, error.message);
      this.options.log.error({ request: id, err: error.message }, 'a zone result could not be processed now; it stays in the inbox and is tried again when the backup-controller service starts again');
    });
  }

  private async process(id: string): Promise<void> {
    const { store, records, backups, runtime, log } = this.options;
    const entry = (await store.get<InboxEntry>(INBOX, id))?.value;
    const record = await records.get(id);
    if (!entry || !record) return;
    const before = await this.snapshotOf(id);
    if (!before || NOT_YET_SENT.has(before.state)) return; // kicked again when the request reaches Sent
    const { result } = entry;
    const accepted = before.state !== 'NotAllowed';
    if (!accepted) log.error({ request: id, zone: result.zone }, 'a zone reported a result for a request that was never allowed; it is dropped');

    // 1. The master store: keyed by request id, so recording twice is recording once.
    if (accepted && result.ok && !(await backups.byRequest(id))) {
      const backup: BackupRecord = {
        id: randomUUID(), requestId: id, backupJobId: record.backupJobId, dataDate: record.dataDate,
        zone: record.zone ?? result.zone, client: record.job?.client ?? '', database: record.sourcePath ?? record.job?.source.database ?? '',
        file: result.file!, size: result.size!, sha256: result.sha256!, createdAt: result.finishedAt, recordedAt: this.options.now(),
      };
      await records.update(id, () => ({ backupId: backup.id }), [backups.write(backup)]);
    }
    failpoint('inbox:after-backup');

    // 2. The request's state: an event only moves it from Sent, so a repeat (or a late result after the timeout) changes nothing.
    let late = false;
    if (accepted) {
      const outcome = await runtime.apply(CHART, id, { type: 'event', event: result.ok ? 'succeeded' : 'failed', state: 'Sent', by: result.zone });
      // Late: the request had timed out in Sent before its result came (the backup is recorded all the same).
      late = !outcome.accepted && outcome.snapshot.state === 'Failed' && (await runtime.history(outcome.snapshot)).at(-1)?.cause === 'timeout';
    }
    failpoint('inbox:after-event');

    // 3. Done with it: the result leaves the inbox in the same commit that records when it was recorded.
    await records.update(id, () => ({
      resultRecordedAt: this.options.now(),
      result: { ok: result.ok, zone: result.zone, failures: result.failures, ...(late ? { late: true } : {}) },
    }), [{ collection: INBOX, key: id, value: null }]);
    log.info({ request: id, ok: result.ok, zone: result.zone }, 'zone result recorded');
  }

  private snapshotOf(id: string): Promise<Snapshot | undefined> {
    return this.options.runtime.find(CHART, id);
  }
}
