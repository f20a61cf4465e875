// The zone's outbox: results stay in the zone's store until the controller acknowledges them, and are resent after a restart.

import { ExponentialBackoff, type IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import type { Clock } from '../../runtime/clock.js';
import { retryOnClock } from '../../runtime/retryPolicy.js';
import type { Store, Write } from '../../store/port.js';
import { readAll } from '../../store/readAll.js';
import { Refused } from '../errors.js';
import { callJson } from '../callJson.js';
import type { Fetch } from '../../net/httpClient.js';
import type { Secret } from '../secret.js';
import { FAILED_AFTER_ATTEMPTS, type Service } from '../../services/service.js';
import type { ZoneResult } from '../zone.js';

export const ZONE_OUTBOX = 'zone-outbox';

export interface OutboxEntry {
  readonly result: ZoneResult;
  readonly queuedAt: string;
  /** The controller refused it for good (e.g. it knows no such request); kept for an operator, not resent. */
  readonly rejected?: { readonly at: string; readonly message: string };
}

export interface OutboxOptions {
  readonly store: Store;
  readonly controllerUrl: string;
  readonly token: Secret;
  /** The outgoing client: https:// controllers are verified against the operator's CA. */
  readonly fetch: Fetch;
  readonly log: Logger;
  /** What the waits between attempts run on. */
  readonly clock: Clock;
  /** Cap of the growing delay between attempts. */
  readonly maxDelayMs: number;
  readonly timeoutMs: number;
  /** Writes committed with the entry's removal (e.g. the order's delivered time). */
  readonly onDelivered: (requestId: string) => Promise<Write[]>;
}

// A wrong token is an operator's mistake they will fix: keep trying. Other refusals will not change.
const permanent = (error: unknown): boolean => error instanceof Refused && error.status !== 401 && error.status !== 403;

export class ZoneOutbox {
  private readonly sending = new Map<string, Promise<void>>();
  private shutdown = new AbortController();
  /** Deliveries begin with start(); until then results are only stored. */
  private running = false;
  private failedAttempts = 0;
  private lastError = '';
  /** The request ids of the results stored in the outbox, as read at start() and kept since. */
  private readonly held = new Set<string>();
  /** The waits between attempts: from a quarter of a second, doubling up to maxDelayMs. */
  private readonly backoff: IBackoffFactory<unknown>;

  constructor(private readonly options: OutboxOptions) {
    this.backoff = new ExponentialBackoff({ initialDelay: 250, maxDelay: options.maxDelayMs });
  }

  get size(): number {
    return this.held.size;
  }

  /** Begins delivering, or begins again after stop(): every result not yet delivered is sent at once. */
  async start(): Promise<void> {
    if (this.shutdown.signal.aborted) this.shutdown = new AbortController();
    const entries = await readAll<OutboxEntry>(this.options.store, ZONE_OUTBOX);
    this.held.clear();
    for (const entry of entries) this.held.add(entry.result.requestId);
    this.running = true;
    for (const entry of entries) {
      if (!entry.rejected) this.kick(entry.result.requestId);
    }
  }

  /** Stores the result (with `also`, atomically), then starts delivering it. */
  async put(result: ZoneResult, at: string, also: readonly Write[]): Promise<void> {
    const entry: OutboxEntry = { result, queuedAt: at };
    await this.options.store.commit([{ collection: ZONE_OUTBOX, key: result.requestId, value: entry }, ...also]);
    this.held.add(result.requestId);
    this.kick(result.requestId);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.shutdown.abort(new Error('the zone is shutting down'));
    await Promise.all(this.sending.values());
  }

  /** The outbox as the zone-outbox service: a start sends at once what waits; failed while the controller takes nothing. */
  service(): Service {
    return { name: 'zone-outbox', start: async () => this.start(), stop: () => this.stop(), failure: () => this.failure() };
  }

  /** Why delivery counts as failed: the controller has not taken a result for the last few attempts, and results wait. */
  failure(): string | undefined {
    if (this.failedAttempts < FAILED_AFTER_ATTEMPTS || this.size === 0) return undefined;
    return `the controller did not take the last ${this.failedAttempts} attempts to deliver a result (last: ${this.lastError}); ${this.size} results are in the outbox`;
  }

  private kick(id: string): void {
    if (this.sending.has(id) || !this.running) return;
    const sending = this.deliver(id)
      .catch((error: Error) => {
        if (this.shutdown.signal.aborted) return;
        // Given up until the zone-outbox service starts again: that is a failure of the service.
        this.failedAttempts = Math.max(this.failedAttempts, FAILED_AFTER_ATTEMPTS);
        this.lastError = error.message;
        this.options.log.error({ request: id, err: error.message }, 'zone result could not be delivered; it is sent again when the zone-outbox service starts again');
      })
      .finally(() => this.sending.delete(id));
    this.sending.set(id, sending);
  }

  private async deliver(id: string): Promise<void> {
    const { store, controllerUrl, token, log, timeoutMs, fetch } = this.options;
    const entry = (await store.get<OutboxEntry>(ZONE_OUTBOX, id))?.value;
    if (!entry) return;
    let attempt = 0;
    try {
      await retryOnClock(() => callJson(fetch, `${controllerUrl}/zone-results`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token.reveal()}`, 'x-request-id': id },
        body: entry.result,
        signal: AbortSignal.any([this.shutdown.signal, AbortSignal.timeout(timeoutMs)]),
        service: `controller ${controllerUrl}`,
      }), {
        clock: this.options.clock, backoff: this.backoff, signal: this.shutdown.signal, retryable: (error) => !permanent(error),
        onRetry: (error, delayMs) => {
          attempt += 1;
          this.failedAttempts += 1;
          this.lastError = (error as Error).message;
          log.warn({ attempt, delayMs, err: this.lastError }, 'zone result not delivered yet; trying again');
        },
      });
    } catch (error) {
      if (!permanent(error)) throw error;
      log.error({ request: id, err: (error as Error).message }, 'the controller refused this zone result for good; it stays in the outbox, not resent');
      await store.commit([{ collection: ZONE_OUTBOX, key: id, value: { ...entry, rejected: { at: new Date().toISOString(), message: (error as Error).message } } }]);
      return;
    }
    this.failedAttempts = 0;
    await store.commit([{ collection: ZONE_OUTBOX, key: id, value: null }, ...(await this.options.onDelivered(id))]);
    this.held.delete(id);
    log.info({ request: id, ok: entry.result.ok }, 'zone result delivered');
  }
}
