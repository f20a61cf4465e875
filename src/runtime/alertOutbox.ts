// Durable alerts: recorded with the failure they report, POSTed to the webhook oldest first until it takes them.

import { ExponentialBackoff, halfJitterGenerator, type IBackoff, type IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import { describeFetchFailure, type Fetch } from '../net/httpClient.js';
import { FAILED_AFTER_ATTEMPTS } from '../services/service.js';
import type { Store, Write } from '../store/port.js';
import { formatFailure, type FailureReport } from './alerts.js';
import type { Clock, ClockTimer } from './clock.js';

export const ALERTS = 'alerts';

interface AlertRecord {
  /** Its key in the store: recording time first, so keys sort oldest first. */
  readonly key: string;
  readonly report: FailureReport;
  readonly recordedAt: string;
}

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
  /** Waits between failed attempts (DEFAULT_BACKOFF unless given). */
  readonly backoff?: IBackoffFactory<unknown>;
  readonly timeoutMs?: number;
  /** Told of every attempt to deliver an alert, taken by the webhook or not (metrics). */
  readonly onAttempt?: (delivered: boolean) => void;
}

// 0.5-1 s after the first failure, doubling to 2.5-5 min: a webhook down for hours is tried every few minutes.
const DEFAULT_BACKOFF = new ExponentialBackoff({ generator: halfJitterGenerator, initialDelay: 1000, maxDelay: 5 * 60_000 });

export class AlertOutbox {
  private readonly backoffs: IBackoffFactory<unknown>;
  private backoff: IBackoff<unknown> | undefined;
  private retry: ClockTimer | undefined;
  private draining: Promise<void> | undefined;
  private lastError: string | undefined;
  private failedAttempts = 0;
  /** Deliveries begin with start(); until then alerts are only recorded. */
  private running = false;
  private shutdown = new AbortController();
  private waiting: { readonly count: number; readonly oldest: string | undefined } = { count: 0, oldest: undefined };

  constructor(private readonly options: AlertOutboxOptions) {
    this.backoffs = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** The writes that keep `reports` until delivered; the runtime commits them with the snapshot that records them. */
  recordWrites(reports: readonly FailureReport[], now: number): Write[] {
    const recordedAt = new Date(now).toISOString();
    return reports.map((report) => {
      const key = `${String(now).padStart(15, '0')} ${report.id}`;
      const record: AlertRecord = { key, report, recordedAt };
      return { collection: ALERTS, key, value: record };
    });
  }

  /** Begins delivering, or begins again after stop(): what waits is tried at once, with a fresh backoff. */
  async start(): Promise<void> {
    await this.look();
    if (this.waiting.count) this.options.log.info({ alerts: this.waiting.count }, 'delivering the alerts recorded and not yet delivered');
    if (this.shutdown.signal.aborted) this.shutdown = new AbortController();
    this.backoff = undefined;
    this.running = true;
    this.kick();
  }

  /** Starts delivering unless a delivery or a wait before the next attempt is under way. */
  kick(): void {
    if (!this.running || this.draining || this.retry) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retry) this.options.clock.clearTimeout(this.retry);
    this.retry = undefined;
    this.shutdown.abort(new Error('chartd is shutting down'));
    await this.draining;
  }

  /** As the outbox last looked at the store: at start, before each delivery and after each failed one. */
  health(): AlertHealth {
    const { oldest } = this.waiting;
    return {
      undelivered: this.waiting.count,
      ...(oldest ? { oldest } : {}),
      ...(oldest && this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Why delivery counts as failed: the webhook did not take the last few attempts and alerts wait. */
  failure(): string | undefined {
    if (this.failedAttempts < FAILED_AFTER_ATTEMPTS || this.waiting.count === 0) return undefined;
    return `the webhook did not take the last ${this.failedAttempts} attempts to deliver an alert (last: ${this.lastError ?? 'unknown'}); ${this.waiting.count} alerts wait`;
  }

  /** Alerts just committed: counted at once, before any delivery looks at the store again. */
  recorded(reports: readonly FailureReport[]): void {
    if (reports.length) this.waiting = { count: this.waiting.count + reports.length, oldest: this.waiting.oldest ?? reports[0]!.at };
  }

  /** Reads the oldest alert waiting and how many wait (at start-up, before deliveries begin). */
  async look(): Promise<AlertRecord | undefined> {
    const { store } = this.options;
    const [oldest] = (await store.page<AlertRecord>(ALERTS, { limit: 1 })).documents;
    this.waiting = { count: await store.count(ALERTS), oldest: oldest?.value.recordedAt };
    return oldest?.value;
  }

  /** Oldest first, one at a time, so the webhook sees alerts in order; a failure waits out the backoff, then resumes. */
  private async drain(): Promise<void> {
    const { store, log, clock } = this.options;
    for (;;) {
      const next = await this.look();
      if (!next || !this.running) return;
      try {
        await this.post(next.report);
        await store.commit([{ collection: ALERTS, key: next.key, value: null }]);
        this.backoff = undefined;
        this.lastError = undefined;
        this.failedAttempts = 0;
        this.options.onAttempt?.(true);
        log.info({ alert: next.report.id }, 'alert delivered');
      } catch (error) {
        if (!this.running) return;
        this.failedAttempts += 1;
        this.options.onAttempt?.(false);
        this.backoff = this.backoff ? this.backoff.next(undefined) : this.backoffs.next(undefined);
        this.lastError = describeFetchFailure(error);
        const delay = Math.round(this.backoff.duration);
        await this.look();
        log.warn({ alert: next.report.id, undelivered: this.waiting.count, retryInMs: delay, err: this.lastError }, 'alert webhook did not take the alert; it is kept and sent again');
        this.retry = clock.setTimeout(() => {
          this.retry = undefined;
          this.kick();
        }, delay);
        return;
      }
    }
  }

  private async post(report: FailureReport): Promise<void> {
    const response = await this.options.fetch(this.options.url, {
      method: 'POST',
      // The receiver drops a second delivery of the same alert (after a crash between its answer and our commit).
      headers: { 'content-type': 'application/json', 'idempotency-key': report.id },
      body: JSON.stringify({ type: 'chartd.failure', ...report, message: formatFailure(report) }),
      signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(this.options.timeoutMs ?? 10_000)]),
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
