// Keeps the claims a worker holds in one collection: renewed on a steady beat, each stopped once lost or no longer renewable in time.

import type { Logger } from 'pino';
import type { Lease, Store, Stored } from '../store/port.js';
import type { Clock, ClockTimer } from './clock.js';

/** Work this worker claimed and is carrying out. */
export interface Held<T> {
  readonly claim: Stored<T> & { lease: Lease };
  /** Aborted when the claim is lost (taken over, or not renewed in time): the work stops. */
  readonly stop: AbortController;
  /** Until when the lease is known to hold. */
  until: number;
}

export interface LeaseKeeperOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly collection: string;
  /** Who claims: this process alone. */
  readonly owner: string;
  readonly leaseMs: number;
  /** What is held, for the log (e.g. "effects"). */
  readonly what: string;
}

export class LeaseKeeper<T> {
  private readonly held = new Map<string, Held<T>>();
  private renewal: ClockTimer | undefined;
  private renewing: Promise<void> | undefined;
  private stopped = false;
  /** How often claims held are renewed: three times a lease. */
  private readonly renewEvery: number;

  constructor(private readonly options: LeaseKeeperOptions) {
    this.renewEvery = Math.floor(options.leaseMs / 3);
  }

  /** Holds `claim`, made at `now`, until released: renewed meanwhile. */
  hold(claim: Stored<T> & { lease: Lease }, now: number): Held<T> {
    const held: Held<T> = { claim, stop: new AbortController(), until: now + this.options.leaseMs };
    this.held.set(claim.key, held);
    this.renewSoon();
    return held;
  }

  /** Done with `held` (committed, or given up): no longer renewed. */
  release(held: Held<T>): void {
    if (this.held.get(held.claim.key) === held) this.held.delete(held.claim.key);
  }

  get(key: string): Held<T> | undefined {
    return this.held.get(key);
  }

  has(key: string): boolean {
    return this.held.has(key);
  }

  get size(): number {
    return this.held.size;
  }

  /** Until the renewal under way (if any) has landed: a worker's whenIdle waits for it, so a simulated clock moves on only after. */
  async renewed(): Promise<void> {
    await this.renewing;
  }

  /** Whether a renewal is under way now. */
  isRenewing(): boolean {
    return this.renewing !== undefined;
  }

  stop(): void {
    this.stopped = true;
    if (this.renewal) this.options.clock.clearTimeout(this.renewal);
    this.renewal = undefined;
  }

  /**
   * Renews on a steady beat, even while a renewal hangs on a store that stopped answering, so a claim that could not
   * be renewed is given up in time.
   */
  private renewSoon(): void {
    if (this.renewal || this.stopped) return;
    this.renewal = this.options.clock.setTimeout(() => {
      this.renewal = undefined;
      this.giveUpExpiring();
      this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
      if (this.held.size) this.renewSoon();
    }, this.renewEvery);
  }

  /**
   * Stops what is carried out under a claim not renewed in time: with a beat or less of it left, it runs out before
   * the next renewal could land, and another replica may take it over then. Stopped now, the two never run at once.
   */
  private giveUpExpiring(): void {
    const now = this.options.clock.now();
    for (const held of this.held.values()) {
      if (held.until - now <= this.renewEvery) held.stop.abort(new Error('its claim could not be renewed in time (the store is out of reach); another replica takes it over once it runs out'));
    }
  }

  /** Extends every claim held; one no longer held (another replica took it over) stops. */
  private async renew(): Promise<void> {
    const { store, clock, owner, leaseMs, log, collection } = this.options;
    const keys = [...this.held.keys()];
    if (!keys.length) return;
    const until = clock.now() + leaseMs;
    try {
      const kept = new Set(await store.renew(collection, keys, { owner, until }));
      for (const key of keys) {
        const held = this.held.get(key);
        if (!held) continue;
        if (kept.has(key)) held.until = until;
        else held.stop.abort(new Error('its claim was taken over by another replica'));
      }
    } catch (error) {
      log.warn({ err: (error as Error).message, [this.options.what]: keys.length }, `could not renew the claims on ${this.options.what} being carried out`);
    }
  }
}
