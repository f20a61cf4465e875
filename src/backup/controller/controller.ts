// The backup controller's service logic, free of any transport: receive, check, send, report, resume.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Snapshot } from '../../engine/snapshot.js';
import { BadRequest, Conflict, NotFound } from '../../errors.js';
import { FinalFailure } from '../../handlers/handler.js';
import type { Clock } from '../../runtime/clock.js';
import { instanceKey, type Runtime } from '../../runtime/runtime.js';
import type { Service } from '../../services/service.js';
import { WriteConflict, type Store } from '../../store/port.js';
import { BackupStore, type BackupRecord } from './backupStore.js';
import { Refused, Unusable } from '../errors.js';
import { failpoint } from '../failpoint.js';
import { decideAllowed, type BackupJob, type JobSource } from './job.js';
import { checkRequestInput, sameInput } from './requestInput.js';
import { RequestRecords, type RequestRecord, type Transport } from './requestRecords.js';
import { viewOf, viewStateOf, type RequestView } from './requestView.js';
import { ResultInbox } from './resultInbox.js';
import type { Zone, ZoneOrder } from '../zone.js';

export const REQUEST_CHART = 'backup-request';
export const REQUEST_STATES = ['Received', 'Allowed', 'NotAllowed', 'Sent', 'Succeeded', 'Failed'] as const;

export interface ControllerOptions {
  readonly runtime: Runtime;
  readonly store: Store;
  readonly jobs: JobSource;
  readonly zones: ReadonlyMap<string, Zone>;
  readonly clock: Clock;
  readonly log: Logger;
  /** How long receive() waits for the allow check's first answer. */
  readonly answerWithinMs: number;
  /** Who claims zone results: this process alone, as for effects. */
  readonly owner: string;
  /** How long a claim on a zone result holds unrenewed (serve --lease). */
  readonly leaseMs: number;
}

/** How receipt ended, for the transport to translate (HTTP: 202, 406, 503). */
export type Outcome = 'allowed' | 'not_allowed' | 'unavailable' | 'checking';

export interface Reception {
  readonly request: RequestView;
  readonly outcome: Outcome;
  /** False when an Idempotency-Key named a request received before. */
  readonly created: boolean;
  readonly reason?: string;
  readonly retryAfterSeconds?: number;
}

export class BackupController {
  readonly records: RequestRecords;
  readonly backups: BackupStore;
  readonly inbox: ResultInbox;

  constructor(private readonly options: ControllerOptions) {
    this.records = new RequestRecords(options.store);
    this.backups = new BackupStore(options.store);
    this.inbox = new ResultInbox({ ...options, records: this.records, backups: this.backups, now: () => this.now() });
  }

  /**
   * Resume: a record whose instance was never created gets it (made by another replica starting too, it is left as
   * made); stored results are claimed. Steps and deadlines resume in the runtime.
   */
  async start(): Promise<void> {
    let created = 0;
    const records = await this.records.list();
    for (const record of records) {
      if (!(await this.snapshotOf(record.id)) && (await this.ensureInstance(record).catch(madeElsewhere))) created += 1;
    }
    await this.inbox.start();
    this.options.log.info({ requests: records.length, instancesCreated: created, inbox: await this.inbox.size() }, 'backup controller resumed');
  }

  /** Stores the request, starts its lifecycle, and waits for the allow check's first answer. */
  async receive(body: unknown, how: { readonly transport: Transport; readonly idempotencyKey?: string }): Promise<Reception> {
    const input = checkRequestInput(body);
    const key = how.idempotencyKey;
    if (key === undefined) return (await this.admit(input, how.transport, undefined))!;
    // One at a time per key here; across replicas the key map is written expecting no entry, so one creates and the others answer with its request.
    return this.records.forKey(key, async () => {
      if ((await this.records.idOfKey(key)) === undefined) {
        const admitted = await this.admit(input, how.transport, key);
        if (admitted) return admitted;
      }
      const known = await this.records.idOfKey(key);
      const record = known === undefined ? undefined : await this.records.get(known);
      if (!record) throw new Error(`Idempotency-Key ${key} was just taken by a request not yet readable; send the request again`);
      if (!sameInput(record, input)) {
        throw new Conflict(`Idempotency-Key ${key} was used for a different request (${record.id}: job ${record.backupJobId}, data of ${record.dataDate}); use a new key`);
      }
      await this.ensureInstance(record);
      return this.answer(record.id, false);
    });
  }

  async request(id: string): Promise<RequestView> {
    const record = await this.records.get(id);
    if (!record) throw new NotFound(`no backup request ${id}`);
    return this.viewOf(record);
  }

  listBackups(filter: { readonly backupJobId?: string } = {}): Promise<BackupRecord[]> {
    return this.backups.list(filter);
  }

  /**
   * A page of the requests `filter` takes, oldest first (received, then id), going on after request `after`.
   * Records are filtered and sorted as they are; only the page's requests are turned into views. The cursor's
   * place comes from its own record, so a page is right even when that request has since left the filter.
   */
  async requestsPage(filter: { readonly state?: string; readonly backupJobId?: string }, page: { readonly after?: string; readonly limit: number }): Promise<{ requests: RequestView[]; next: string | undefined }> {
    const states = await this.requestStates();
    const matching = (await this.records.list())
      .filter((record) => filter.backupJobId === undefined || record.backupJobId === filter.backupJobId)
      .filter((record) => filter.state === undefined || viewStateOf(states.get(record.id)) === filter.state)
      .sort((a, b) => byReception(a.receivedAt, a.id, b.receivedAt, b.id));
    let start = 0;
    if (page.after !== undefined) {
      const cursor = await this.records.get(page.after);
      if (!cursor) throw new BadRequest(`query parameter after names no backup request (${page.after}); use the id a previous page's next gave`);
      const behind = matching.findIndex((record) => byReception(record.receivedAt, record.id, cursor.receivedAt, cursor.id) > 0);
      start = behind === -1 ? matching.length : behind;
    }
    const { items, next } = pageFrom(matching, start, page.limit);
    return { requests: await Promise.all(items.map((record) => this.viewOf(record, states.get(record.id)))), next };
  }

  /** One page of listBackups(), going on after backup `after` (backups are never removed). */
  async backupsPage(filter: { readonly backupJobId?: string }, page: { readonly after?: string; readonly limit: number }): Promise<{ backups: BackupRecord[]; next: string | undefined }> {
    const all = await this.listBackups(filter);
    let start = 0;
    if (page.after !== undefined) {
      const at = all.findIndex((backup) => backup.id === page.after);
      if (at === -1) throw new BadRequest(`query parameter after names no backup in this list (${page.after}); use the id a previous page's next gave`);
      start = at + 1;
    }
    const { items, next } = pageFrom(all, start, page.limit);
    return { backups: items, next };
  }

  /** The controller and its links as services: results processed, the job service and each zone answering. */
  services(): Service[] {
    const inbox: Service = { name: 'backup-controller', start: async () => this.inbox.start(), stop: () => this.inbox.stop(), failure: () => this.inbox.failure() };
    const links = [this.options.jobs.link, ...[...this.options.zones.values()].map((zone) => zone.link)];
    return [inbox, ...links.filter((link) => link !== undefined)];
  }

  async status(): Promise<Record<string, unknown>> {
    const counts: Record<string, number> = {};
    const states = await this.requestStates();
    for (const record of await this.records.list()) {
      const state = viewStateOf(states.get(record.id));
      counts[state] = (counts[state] ?? 0) + 1;
    }
    return {
      jobs: { source: this.options.jobs.description, circuit: this.options.jobs.circuit?.() ?? 'none' },
      zones: [...this.options.zones.values()].map((zone) => ({ name: zone.name, url: zone.url, circuit: zone.circuit() })),
      inbox: await this.inbox.size(),
      requests: counts,
    };
  }

  /** Requests by state, from the runtime's counts of their instances (nothing is scanned): for metrics. */
  requestsByState(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [state, count] of Object.entries(this.options.runtime.tally.counts(REQUEST_CHART).byState)) {
      counts[state] = Object.values(count).reduce((sum, each) => sum + each, 0);
    }
    return counts;
  }

  /** The circuit breaker in front of each remote service: the job service (when it is one) and every zone. */
  circuits(): { readonly dependency: string; readonly circuit: string }[] {
    const jobs = this.options.jobs.circuit?.();
    return [
      ...(jobs ? [{ dependency: 'job-service', circuit: jobs }] : []),
      ...[...this.options.zones.values()].map((zone) => ({ dependency: `zone:${zone.name}`, circuit: zone.circuit() })),
    ];
  }

  /** Step Received (backup.checkAllowed): a FinalFailure means Not Allowed; any other error is retried. */
  async checkAllowed(id: string, signal: AbortSignal): Promise<void> {
    const record = await this.mustGet(id);
    let job: BackupJob | undefined;
    try {
      job = await this.options.jobs.get(record.backupJobId, { requestId: id, signal });
    } catch (error) {
      if (error instanceof Unusable) return this.refuse(id, error.message);
      await this.noteFailure(id, 'Received', error);
      throw new Error(`cannot check the backup job: ${(error as Error).message}`);
    }
    const answer = decideAllowed(job, record);
    if (!answer.allowed) return this.refuse(id, answer.reason);
    await this.records.update(id, () => ({ checkedAllowedAt: this.now(), job, lastError: undefined }));
    failpoint('check:after-record');
  }

  /** Step Allowed (backup.dispatch): sends the order; the zone takes it once per request id. */
  async dispatch(id: string, signal: AbortSignal): Promise<void> {
    const record = await this.mustGet(id);
    const job = record.job;
    if (!job) throw new FinalFailure(`request ${id} was allowed, but the job it was allowed by is not recorded`);
    const zone = this.options.zones.get(job.zone);
    if (!zone) {
      const message = `backup job ${job.id} names zone ${job.zone}, which is not configured (configured: ${[...this.options.zones.keys()].join(', ')})`;
      await this.noteFailure(id, 'Allowed', new Error(message));
      throw new FinalFailure(message);
    }
    try {
      await zone.dispatch(orderFor(record, job), signal);
    } catch (error) {
      await this.noteFailure(id, 'Allowed', error);
      // A wrong token is the operator's to fix: keep trying. Any other refusal will not change.
      if (error instanceof Refused && error.status !== 401 && error.status !== 403) throw new FinalFailure(`zone ${zone.name} refused the order: ${error.message}`);
      throw error;
    }
    failpoint('dispatch:after-send');
    await this.records.update(id, (current) => ({ sentAt: current.sentAt ?? this.now(), zone: zone.name, lastError: undefined }));
  }

  /** Creates the request; undefined when another request took its idempotency key first. */
  private async admit(input: ReturnType<typeof checkRequestInput>, transport: Transport, idempotencyKey: string | undefined): Promise<Reception | undefined> {
    const record: RequestRecord = { id: randomUUID(), transport, ...input, ...(idempotencyKey !== undefined ? { idempotencyKey } : {}), receivedAt: this.now() };
    // Persist, then act: the record first; start() creates the instance if a crash comes between.
    if (!(await this.records.create(record))) return undefined;
    await this.ensureInstance(record);
    return this.answer(record.id, true);
  }

  /** Creates the request's instance unless it exists; answers whether this call created it. */
  private async ensureInstance(record: RequestRecord): Promise<boolean> {
    const context = {
      apiVersion: record.apiVersion, backupJobId: record.backupJobId, dataDate: record.dataDate, transport: record.transport,
      ...(record.sourcePath !== undefined ? { sourcePath: record.sourcePath } : {}),
    };
    return (await this.options.runtime.create(REQUEST_CHART, record.id, context)).created;
  }

  /** Waits until the check has answered (or is waiting to retry), then says how receipt ended. */
  private async answer(id: string, created: boolean): Promise<Reception> {
    const snapshot = await this.checked(id);
    const record = await this.mustGet(id);
    let reception: Omit<Reception, 'request'>;
    if (snapshot.state === 'NotAllowed') {
      reception = { outcome: 'not_allowed', created, reason: record.notAllowedReason ?? snapshot.failures.at(-1)?.error ?? 'not allowed' };
    } else if (snapshot.state !== 'Received') {
      reception = { outcome: 'allowed', created };
    } else if (snapshot.deadline) {
      const seconds = Math.ceil((snapshot.deadline.at - this.options.clock.now()) / 1000);
      reception = { outcome: 'unavailable', created, reason: record.lastError?.message ?? 'the job service cannot be reached', retryAfterSeconds: Math.min(120, Math.max(1, seconds)) };
    } else {
      reception = { outcome: 'checking', created, reason: 'the allow check is still running', retryAfterSeconds: 5 };
    }
    const answered = record.respondedAt === undefined
      ? await this.records.update(id, (current) => (current.respondedAt ? {} : { respondedAt: this.now(), respondedWith: reception.outcome }))
      : record;
    return { ...reception, request: await this.viewOf(answered) };
  }

  private async checked(id: string): Promise<Snapshot> {
    const { runtime } = this.options;
    const settled = (snapshot: Snapshot): boolean => snapshot.state !== 'Received' || snapshot.deadline !== null;
    const current = await runtime.snapshot(REQUEST_CHART, id);
    if (settled(current)) return current;
    return (await runtime.waitFor(REQUEST_CHART, id, settled, this.options.answerWithinMs)) ?? runtime.snapshot(REQUEST_CHART, id);
  }

  private async refuse(id: string, reason: string): Promise<never> {
    await this.records.update(id, () => ({ checkedAllowedAt: this.now(), notAllowedReason: reason, lastError: undefined }));
    throw new FinalFailure(reason);
  }

  private async noteFailure(id: string, step: string, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    await this.records.update(id, () => ({ lastError: { at: this.now(), step, message } }));
  }

  private async mustGet(id: string): Promise<RequestRecord> {
    const record = await this.records.get(id);
    if (!record) throw new FinalFailure(`backup request ${id} has no tracking record`);
    return record;
  }

  /** The snapshot of every request's instance by request id, read in one pass. */
  private async requestStates(): Promise<Map<string, Snapshot>> {
    return new Map((await this.options.runtime.instances(REQUEST_CHART)).map((snapshot) => [snapshot.id, snapshot]));
  }

  private snapshotOf(id: string): Promise<Snapshot | undefined> {
    return this.options.runtime.find(REQUEST_CHART, id);
  }

  /** The request's view, from its instance's snapshot (read unless given) and history. */
  private async viewOf(record: RequestRecord, known?: Snapshot): Promise<RequestView> {
    const snapshot = known ?? (await this.snapshotOf(record.id));
    return viewOf(record, snapshot, snapshot ? await this.options.runtime.history(snapshot) : []);
  }

  private now(): string {
    return new Date(this.options.clock.now()).toISOString();
  }
}

/** The request plus what the zone needs from the job. */
export function orderFor(record: RequestRecord, job: BackupJob): ZoneOrder {
  const { host, port, user, passwordEnv } = job.source;
  return {
    requestId: record.id, apiVersion: record.apiVersion, backupJobId: record.backupJobId, dataDate: record.dataDate,
    ...(record.sourcePath !== undefined ? { sourcePath: record.sourcePath } : {}),
    client: job.client, eoyMonth: job.eoyMonth, keyName: job.keyName,
    source: {
      host, database: record.sourcePath ?? job.source.database,
      ...(port !== undefined ? { port } : {}), ...(user !== undefined ? { user } : {}), ...(passwordEnv !== undefined ? { passwordEnv } : {}),
    },
  };
}

/** A create that conflicted: another replica starting too wrote the instance first, and what it wrote stands. */
function madeElsewhere(error: unknown): false {
  if (error instanceof WriteConflict) return false;
  throw error;
}

/** The order requests are listed in: when they were received, then id (plain code-unit order, as cursors compare). */
function byReception(receivedA: string, idA: string, receivedB: string, idB: string): number {
  if (receivedA !== receivedB) return receivedA < receivedB ? -1 : 1;
  return idA < idB ? -1 : idA > idB ? 1 : 0;
}

/** `limit` items of `sorted` from `start`, and the last one's id when more follow (the next page's cursor). */
function pageFrom<T extends { readonly id: string }>(sorted: readonly T[], start: number, limit: number): { items: T[]; next: string | undefined } {
  const items = sorted.slice(start, start + limit);
  return { items, next: start + limit < sorted.length ? items.at(-1)!.id : undefined };
}
