// The durable inbox of zone results: acknowledged once stored, then recorded by one replica at a time under a lease (backup, request moved, result deleted), failures retried on the Clock.

import { randomUUID } from 'node:crypto';
import type { IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import { NotFound } from '../../errors.js';
import { INSTANCES } from '../../runtime/batch.js';
import { Busy } from '../../runtime/busy.js';
import type { Clock, ClockTimer } from '../../runtime/clock.js';
import { LeaseKeeper, type Held } from '../../runtime/leaseKeeper.js';
import { retryOnClock } from '../../runtime/retryPolicy.js';
import { SerialPass } from '../../runtime/serialPass.js';
import type { Runtime } from '../../runtime/runtime.js';
import { StoreError, WriteConflict, type Change, type Fence, type Store } from '../../store/port.js';
import { readAllStored } from '../../store/readAll.js';
import { BACKUPS, type BackupRecord, type BackupStore } from './backupStore.js';
import { failpoint } from '../failpoint.js';
import { CHART, INBOX, sentYet, waiting, waitingKeys, wakeIfSent, type InboxEntry } from './inboxEntries.js';
import type { RequestRecords } from './requestRecords.js';
import type { ZoneResult } from '../zone.js';

export { INBOX } from './inboxEntries.js';

export interface InboxOptions {
  readonly runtime: Runtime;
  readonly store: Store;
  readonly records: RequestRecords;
  readonly backups: BackupStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly now: () => string;
  /** Who claims results: this process alone, as for effects and alerts. */
  readonly owner: string;
  /** How long a claim holds unrenewed: a result a replica stopped recording is taken over this long after. */
  readonly leaseMs: number;
  /** Waits between failed attempts (the retry policy's unless given). */
  readonly backoff?: IBackoffFactory<unknown>;
}

/** Results claimed in one round trip; more are claimed at once when that many were due. */
const CLAIM_LIMIT = 16;

export class ResultInbox {
  private held: LeaseKeeper<InboxEntry>;
  /** Results whose processing failed, with why, until processed (or handed on). */
  private readonly failing = new Map<string, string>();
  /** Claims, reads and commits under way (not the waits between attempts): what whenIdle waits for. */
  private readonly busy = new Busy();
  /** Results being processed here, waits included: what stop waits for. */
  private readonly working = new Set<Promise<void>>();
  private readonly passes: SerialPass;
  private later: ClockTimer | undefined;
  private unsubscribe: (() => void) | undefined;
  private running = false;
  private shutdown = new AbortController();

  constructor(private readonly options: InboxOptions) {
    this.held = this.keeper();
    this.passes = new SerialPass(() => this.busy.track(this.pass()), (error) => {
      this.options.log.warn({ err: error.message }, 'could not claim the zone results waiting; looking again after a lease period');
      this.lookLater();
    });
  }

  private keeper(): LeaseKeeper<InboxEntry> {
    return new LeaseKeeper({ ...this.options, collection: INBOX, what: 'zone results' });
  }

  size(): Promise<number> {
    return this.options.store.count(INBOX);
  }

  /** Follows every replica's commits, wakes the results whose request was sent meanwhile, and claims what is due. */
  async start(): Promise<void> {
    if (this.shutdown.signal.aborted) {
      // Started again after stop(): what was held then was handed back.
      this.shutdown = new AbortController();
      this.held = this.keeper();
    }
    this.unsubscribe ??= this.options.store.onChange((changes) => this.changed(changes));
    this.running = true;
    await this.busy.track(this.wakeAll());
    this.kick();
  }

  /** Stops claiming; a result being processed is handed back, so a start or another replica takes it at once. */
  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.later) this.options.clock.clearTimeout(this.later);
    this.later = undefined;
    this.shutdown.abort(new Error('chartd is shutting down'));
    this.held.stop();
    await this.passes.current();
    await Promise.all([...this.working]);
  }

  /** Waits until no claim, read or commit is under way (a turn first, for one just due to begin). */
  async whenIdle(): Promise<void> {
    await this.busy.idle();
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
    const entry: InboxEntry = { result, receivedAt: this.options.now(), due: this.options.clock.now() };
    await this.options.records.update(id, (record) => ({ resultReceivedAt: record.resultReceivedAt ?? entry.receivedAt }), [
      { collection: INBOX, key: id, value: entry },
    ]);
    failpoint('inbox:after-ack');
    this.kick();
  }

  /** A result stored or claimable (here or on another replica), or a request sent, or a change the store could not name. */
  private changed(changes: readonly Change[]): void {
    if (!this.running) return;
    if (changes.length === 0) {
      void this.busy.track(this.wakeAll()).catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not read the zone results waiting'));
      this.kick();
      return;
    }
    if (changes.some((change) => change.collection === INBOX)) this.kick();
    const prefix = `${CHART}/`;
    const sent = changes.filter((change) => change.collection === INSTANCES && change.key.startsWith(prefix)).map((change) => change.key.slice(prefix.length));
    for (const id of new Set(sent)) void this.wake(id);
  }

  private async wakeAll(): Promise<void> {
    for (const id of waitingKeys(await readAllStored<InboxEntry>(this.options.store, INBOX))) await this.wake(id);
  }

  /** Makes `id`'s result claimable if its request was sent; a store that fails meanwhile is tried again under the retry policy. */
  private async wake(id: string): Promise<void> {
    const { store, runtime, clock, log, backoff } = this.options;
    await retryOnClock(() => this.busy.track(wakeIfSent(store, runtime, id, clock.now())), {
      clock, signal: this.shutdown.signal, ...(backoff ? { backoff } : {}),
      retryable: (error) => error instanceof StoreError,
      onRetry: (error, delay) => log.warn({ request: id, err: (error as Error).message, retryInMs: delay }, 'could not look at a zone result waiting for its request to be sent; trying again'),
    }).catch((error: Error) => {
      if (!this.shutdown.signal.aborted) log.error({ request: id, err: error.message }, 'could not look at a zone result waiting for its request to be sent; it is looked at again at the next start');
    });
  }

  /** One claiming pass at a time; a kick during one runs another after it. */
  private kick(): void {
    if (this.running) this.passes.kick();
  }

  private async pass(): Promise<void> {
    const { store, clock, owner, leaseMs } = this.options;
    for (;;) {
      if (!this.running) return;
      const now = clock.now();
      const claimed = await store.claim<InboxEntry>(INBOX, { owner, now, leaseMs, limit: CLAIM_LIMIT });
      for (const claim of claimed) this.carryOut(this.held.hold(claim, now));
      if (claimed.length < CLAIM_LIMIT) break;
    }
    // Due results this pass did not get are held by another replica: looked at again once its claims could have run out.
    const stored = await readAllStored<InboxEntry>(store, INBOX);
    if (stored.some(({ key, value }) => typeof value.due === 'number' && !this.held.has(key))) this.lookLater();
  }

  private lookLater(): void {
    if (this.later || !this.running) return;
    this.later = this.options.clock.setTimeout(() => {
      this.later = undefined;
      this.kick();
    }, this.options.leaseMs);
  }

  private carryOut(held: Held<InboxEntry>): void {
    const work = this.record(held).finally(() => {
      this.held.release(held);
      this.working.delete(work);
    });
    this.working.add(work);
  }

  /** Processes the claimed result under the retry policy while the claim holds; every commit is fenced by it. */
  private async record(held: Held<InboxEntry>): Promise<void> {
    const { clock, log, backoff } = this.options;
    const id = held.claim.key;
    const fence: Fence = { collection: INBOX, key: id, lease: held.claim.lease };
    const signal = AbortSignal.any([held.stop.signal, this.shutdown.signal]);
    try {
      await retryOnClock(() => this.busy.track(this.process(held, fence)), {
        clock, signal, ...(backoff ? { backoff } : {}),
        retryable: (error) => !lost(error, fence),
        onRetry: (error, delay) => {
          this.failing.set(id, (error as Error).message);
          log.error({ request: id, err: (error as Error).message, retryInMs: delay }, 'a zone result could not be processed now; it stays in the inbox and is tried again');
        },
      });
    } catch (error) {
      if (this.shutdown.signal.aborted) {
        // Handed back: a start, or another replica, takes it at once.
        await this.busy.track(this.options.store.commit([{ collection: INBOX, key: id, value: held.claim.value, expect: held.claim.revision }], { fence }))
          .catch((failed: Error) => log.warn({ request: id, err: failed.message }, 'could not hand back the zone result being processed; it is claimed again once its lease runs out'));
      } else {
        const why = lost(error, fence) ? 'its claim was lost' : (held.stop.signal.reason as Error).message;
        log.warn({ request: id, why }, 'stopped processing a zone result; whoever claims it next records it');
        this.lookLater();
      }
    } finally {
      this.failing.delete(id);
    }
  }

  /** Each step is idempotent, so a result whose processing stopped anywhere is processed again from the start. */
  private async process(held: Held<InboxEntry>, fence: Fence): Promise<void> {
    const { store, records, backups, runtime, log } = this.options;
    const id = held.claim.key;
    const { result } = held.claim.value;
    const record = await records.get(id);
    if (!record) {
      log.error({ request: id, zone: result.zone }, 'a zone result belongs to a request whose tracking record is gone; it is dropped');
      await store.commit([{ collection: INBOX, key: id, value: null }], { fence });
      return;
    }
    const request = await runtime.find(CHART, id);
    if (!sentYet(request)) {
      // Waits, unclaimable, until its request is sent; sent meanwhile, perhaps before this commit, it is woken here.
      await store.commit([{ collection: INBOX, key: id, value: waiting(held.claim.value), expect: held.claim.revision }], { fence });
      await this.wake(id);
      return;
    }
    const accepted = request.state !== 'NotAllowed';
    if (!accepted) log.error({ request: id, zone: result.zone }, 'a zone reported a result for a request that was never allowed; it is dropped');

    // 1. The master store: keyed by request id and written expecting none, so recording twice is recording once.
    if (accepted && result.ok && !(await backups.byRequest(id))) {
      const backup: BackupRecord = {
        id: randomUUID(), requestId: id, backupJobId: record.backupJobId, dataDate: record.dataDate,
        zone: record.zone ?? result.zone, client: record.job?.client ?? '', database: record.sourcePath ?? record.job?.source.database ?? '',
        file: result.file!, size: result.size!, sha256: result.sha256!, createdAt: result.finishedAt, recordedAt: this.options.now(),
      };
      await records.update(id, () => ({ backupId: backup.id }), [backups.write(backup)], { fence }).catch((error: unknown) => {
        // Recorded meanwhile by a replica whose claim ran out: that backup stands.
        if (!(error instanceof WriteConflict) || error.keys.some((each) => each.collection !== BACKUPS)) throw error;
      });
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

    // 3. Done with it: the result leaves the inbox in the same commit that records when it was recorded, while the claim holds.
    await records.update(id, () => ({
      resultRecordedAt: this.options.now(),
      result: { ok: result.ok, zone: result.zone, failures: result.failures, ...(late ? { late: true } : {}) },
    }), [{ collection: INBOX, key: id, value: null }], { fence });
    log.info({ request: id, ok: result.ok, zone: result.zone }, 'zone result recorded');
  }

}

/** The claim `fence` names no longer holds: another replica took the result over (or it was written meanwhile). */
function lost(error: unknown, fence: Fence): boolean {
  return error instanceof WriteConflict && error.keys.some((each) => each.collection === fence.collection && each.key === fence.key);
}
