// Durable alerts: recorded with the failure they report, claimed with a lease and POSTed to the webhook oldest first, by one replica at a time.

import type { IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import { describeFetchFailure, type Fetch } from '../net/httpClient.js';
import { FAILED_AFTER_ATTEMPTS } from '../services/service.js';
import { StoreError, unlessTaken, WriteConflict, type Change, type Lease, type Store, type Stored } from '../store/port.js';
import { ALERTS, dateUndated, type AlertRecord } from './alertRecords.js';
import { formatFailure, type FailureReport } from './alerts.js';
import { Busy } from './busy.js';
import type { Clock, ClockTimer } from './clock.js';
import { LeaseKeeper } from './leaseKeeper.js';
import { retryOnClock } from './retryPolicy.js';
import { SerialPass } from './serialPass.js';

type Claimed = Stored<AlertRecord> & { lease: Lease };

export interface AlertHealth {
  readonly undelivered: number;
  /** When the oldest undelivered alert was recorded. */
  readonly oldest?: string;
  /** Why the last attempt failed, while alerts wait. */
  readonly lastError?: string;
}

export interface AlertOutboxOptions {
  readonly store: Store;
  readonly fetch: Fetch;
  /** The webhook, checked at start-up (checkWebhookUrl). */
  readonly url: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Who claims alerts: this process alone, as for effects. */
  readonly owner: string;
  /** How long a claim holds unrenewed: the alert a replica stopped delivering is taken over this long after. */
  readonly leaseMs: number;
  /** Waits between failed attempts (the retry policy's unless given). */
  readonly backoff?: IBackoffFactory<unknown>;
  readonly timeoutMs?: number;
  /** Told of every attempt to deliver an alert, taken by the webhook or not (metrics). */
  readonly onAttempt?: (delivered: boolean) => void;
}

export class AlertOutbox {
  /** One claiming pass at a time: draining what is due, or rechecking while parked. */
  private readonly passes: SerialPass;
  /** Set while another replica holds the oldest alert: this one claims again once that alert is written, or a lease period later. */
  private parked: { readonly timer: ClockTimer; readonly on: { readonly key: string; readonly revision: number } | undefined } | undefined;
  /** The claim on the alert being delivered, renewed while it is, and given up once it can no longer be renewed in time. */
  private held: LeaseKeeper<AlertRecord>;
  private unsubscribe: (() => void) | undefined;
  /** Claims, reads, posts and commits under way (not the waits between attempts): what whenIdle waits for, with renewals. */
  private readonly busy = new Busy();
  private lastError: string | undefined;
  private failedAttempts = 0;
  /** Deliveries begin with start(); until then alerts are only recorded. */
  private running = false;
  private shutdown = new AbortController();
  private waiting: { readonly count: number; readonly oldest: string | undefined } = { count: 0, oldest: undefined };

  constructor(private readonly options: AlertOutboxOptions) {
    this.held = this.keeper();
    this.passes = new SerialPass(() => (this.parked ? this.busy.track(this.recheck()) : this.drain()), (error) => {
      this.options.log.warn({ err: error.message }, 'could not read or claim the alerts waiting; looking again after a lease period');
      this.park(undefined);
    });
  }

  private keeper(): LeaseKeeper<AlertRecord> {
    return new LeaseKeeper({ ...this.options, collection: ALERTS, what: 'alerts' });
  }

  /** Begins delivering, or begins again after stop(): what waits is claimed at once, with a fresh backoff. */
  async start(): Promise<void> {
    await dateUndated(this.options.store);
    await this.look();
    if (this.waiting.count) this.options.log.info({ alerts: this.waiting.count }, 'delivering the alerts recorded and not yet delivered');
    if (this.shutdown.signal.aborted) {
      // Started again after stop(): the keeper stopped then renews nothing more.
      this.shutdown = new AbortController();
      this.held = this.keeper();
    }
    this.unsubscribe ??= this.options.store.onChange((changes) => this.changed(changes));
    this.running = true;
    this.kick();
  }

  /** Claims and delivers what is due; while another replica holds the oldest alert (and delivers those after it), only counts what waits. */
  kick(): void {
    if (this.running) this.passes.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unpark();
    this.held.stop();
    this.shutdown.abort(new Error('chartd is shutting down'));
    await this.passes.current();
  }

  /** Waits until no claim, read, post, commit or renewal is under way (a turn first, for one just due to begin). */
  async whenIdle(): Promise<void> {
    await this.busy.idle(() => this.held.renewed());
  }

  /** As the outbox last looked at the store: at start, before each delivery and after each failed attempt. */
  health(): AlertHealth {
    const { oldest } = this.waiting;
    return {
      undelivered: this.waiting.count,
      ...(oldest ? { oldest } : {}),
      ...(oldest && this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Why delivery counts as failed: the webhook did not take the last few attempts (of this replica) and alerts wait. */
  failure(): string | undefined {
    if (this.failedAttempts < FAILED_AFTER_ATTEMPTS || this.waiting.count === 0) return undefined;
    return `the webhook did not take the last ${this.failedAttempts} attempts to deliver an alert (last: ${this.lastError ?? 'unknown'}); ${this.waiting.count} alerts wait`;
  }

  /** Alerts just committed: counted at once, before any delivery looks at the store again. */
  recorded(reports: readonly FailureReport[]): void {
    if (reports.length) this.waiting = { count: this.waiting.count + reports.length, oldest: this.waiting.oldest ?? reports[0]!.at };
  }

  /** Reads the oldest alert waiting and how many wait (every replica's). */
  async look(): Promise<Stored<AlertRecord> | undefined> {
    const { store } = this.options;
    const [oldest] = (await store.page<AlertRecord>(ALERTS, { limit: 1 })).documents;
    this.waiting = { count: await store.count(ALERTS), oldest: oldest?.value.recordedAt };
    return oldest;
  }

  /** Another replica's alert, or a change the store could not name, may be this one's to deliver. */
  private changed(changes: readonly Change[]): void {
    if (changes.length === 0 || changes.some((change) => change.collection === ALERTS)) this.kick();
  }

  /**
   * Oldest first, one at a time, so the webhook sees alerts in order: the oldest is claimed and delivered (its
   * failures retried under the retry policy while its lease is renewed), then the next. A claim that is not the
   * oldest alert stored means another replica holds that one and delivers the rest after it: given back, and parked.
   * The oldest is read before the claim, so a change of it after the read reaches this replica as a change to recheck.
   */
  private async drain(): Promise<void> {
    const { store, clock, owner, leaseMs } = this.options;
    while (this.running) {
      const oldest = await this.busy.track(this.look());
      if (!oldest) return;
      const [claim] = await this.busy.track(store.claim<AlertRecord>(ALERTS, { owner, now: clock.now(), leaseMs, limit: 1 }));
      if (claim?.key !== oldest.key) {
        if (claim) await this.busy.track(this.giveBack(claim));
        this.park(oldest);
        return;
      }
      await this.deliver(claim);
    }
  }

  /** Parked: counts what waits (for /healthz), and claims again once the alert it parked on was delivered or handed back. */
  private async recheck(): Promise<void> {
    const oldest = await this.look();
    const on = this.parked?.on;
    if (oldest?.key === on?.key && oldest?.revision === on?.revision) return;
    this.unpark();
    this.kick();
  }

  /** Commits the claimed alert unchanged, which ends the claim, so the replica delivering the older ones takes it next. */
  private async giveBack({ key, value, revision, lease }: Claimed): Promise<void> {
    await this.options.store.commit([{ collection: ALERTS, key, value, expect: revision }], { fence: { collection: ALERTS, key, lease } }).catch(unlessTaken);
  }

  /** Waits for `on` (the oldest alert, held elsewhere) to change, or for its lease to have run out unrenewed. */
  private park(on: Stored<AlertRecord> | undefined): void {
    if (this.parked || !this.running) return;
    const timer = this.options.clock.setTimeout(() => {
      this.parked = undefined;
      this.kick();
    }, this.options.leaseMs);
    this.parked = { timer, on: on && { key: on.key, revision: on.revision } };
  }

  private unpark(): void {
    if (this.parked) this.options.clock.clearTimeout(this.parked.timer);
    this.parked = undefined;
  }

  private async deliver(claim: Claimed): Promise<void> {
    const { store, clock, log, backoff } = this.options;
    const { key, value: { report }, lease } = claim;
    const held = this.held.hold(claim, clock.now());
    const signal = AbortSignal.any([held.stop.signal, this.shutdown.signal]);
    const policy = { clock, signal, ...(backoff ? { backoff } : {}) };
    try {
      await retryOnClock(() => this.busy.track(this.attempt(report, signal)), {
        ...policy, retryable: () => true,
        onRetry: (error, delay) => log.warn({ alert: report.id, undelivered: this.waiting.count, retryInMs: delay, err: describeFetchFailure(error) }, 'alert webhook did not take the alert; it is kept and sent again'),
      });
      await retryOnClock(() => this.busy.track(store.commit([{ collection: ALERTS, key, value: null }], { fence: { collection: ALERTS, key, lease } })), {
        ...policy, retryable: (error) => error instanceof StoreError,
        onRetry: (error, delay) => log.warn({ alert: report.id, retryInMs: delay, err: (error as Error).message }, 'could not remove a delivered alert; trying again'),
      });
      log.info({ alert: report.id }, 'alert delivered');
    } catch (error) {
      if (error instanceof WriteConflict) {
        // Its claim ran out while the store was away: whoever claims it next sends it again, under the same idempotency key.
        log.warn({ alert: report.id }, 'the claim on a delivered alert was lost before it was removed; it may be sent again');
      } else if (!signal.aborted) {
        throw error;
      } else if (this.shutdown.signal.aborted) {
        // Stopped (a restart of the service, or shutdown): the claim is ended now, so a start or another replica tries at once.
        await this.busy.track(this.giveBack(claim)).catch((failed: Error) => log.warn({ alert: report.id, err: failed.message }, 'could not hand back the alert being delivered; it is claimed again once its lease runs out'));
      } else {
        // The claim was lost, or could not be renewed in time: whoever holds it next delivers it; this replica stops now.
        log.warn({ alert: report.id, err: (held.stop.signal.reason as Error).message }, 'stopped delivering an alert: its claim was lost or could not be renewed in time');
      }
    } finally {
      this.held.release(held);
    }
  }

  /** One POST, counted for health and metrics. */
  private async attempt(report: FailureReport, signal: AbortSignal): Promise<void> {
    try {
      await this.post(report, signal);
    } catch (error) {
      if (signal.aborted) throw error;
      this.failedAttempts += 1;
      this.lastError = describeFetchFailure(error);
      this.options.onAttempt?.(false);
      // Counted again for health, without holding up the retry: a store out of reach must not stop the claim's timing.
      void this.busy.track(this.look()).catch((failed: Error) => this.options.log.debug({ err: failed.message }, 'could not count the alerts waiting'));
      throw error;
    }
    this.failedAttempts = 0;
    this.lastError = undefined;
    this.options.onAttempt?.(true);
  }


  private async post(report: FailureReport, signal: AbortSignal): Promise<void> {
    const response = await this.options.fetch(this.options.url, {
      method: 'POST',
      // The receiver drops a second delivery of the same alert (after a crash between its answer and our commit).
      headers: { 'content-type': 'application/json', 'idempotency-key': report.id },
      body: JSON.stringify({ type: 'chartd.failure', ...report, message: formatFailure(report) }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
    });
    // Read to the end, so the kept-alive connection is free for the next alert.
    await response.text();
    if (!response.ok) throw new Error(`the webhook answered ${response.status}`);
  }
}

/** --alert-webhook must be an http(s) URL; anything else stops start-up rather than losing every alert later. */
export function checkWebhookUrl(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--alert-webhook ${JSON.stringify(text)} is not a URL; give one such as https://alerts.example.com/chartd`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `--alert-webhook ${JSON.stringify(text)} must be an http:// or https:// URL, not ${url.protocol}`;
  }
  return undefined;
}
